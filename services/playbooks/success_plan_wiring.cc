#include "services/playbooks/success_plan_wiring.h"

#include "common/server/proto_util.h"
#include "services/playbooks/proto_mapping.h"
#include "services/playbooks/success_plan_mapping.h"

namespace cs::playbooks {

SuccessPlanWiring::SuccessPlanWiring(db::Pool* pool, const Clock* clock, HealthFeed* feed,
                                     const std::string& health_addr,
                                     GrpcHealthReader::Options reader_options,
                                     SuccessPlanService::Options options,
                                     absl::Duration interval)
    : repository(pool, clock, TaskEventCodecForOutbox(),
                 ProtoCodec<PlanTemplate, cs::playbooks::v1::SuccessPlanTemplate>(
                     PlanTemplateToProto, PlanTemplateFromProto)),
      reader(health_addr, reader_options),
      service(&repository, feed, &reader, clock, options),
      sweeps(interval),
      worker("success plans",
             [this, clock]() -> absl::StatusOr<int> {
               if (!seeded) {
                 if (absl::Status s = service.EnsureDefaultTemplates(); !s.ok()) return s;
                 seeded = true;
               }
               // Score events first, so the checks they bring forward run this round,
               // or within the interval while events keep coming.
               absl::StatusOr<int> consumed = service.ConsumeHealthEvents();
               if (!sweeps.Due(clock->Now())) return consumed;
               absl::StatusOr<int> swept = service.Sweep();
               if (!swept.ok()) return swept;
               // Health being away stops the consumer, not the overdue alerts.
               if (!consumed.ok()) return consumed;
               return *consumed + *swept;
             },
             interval) {}

}  // namespace cs::playbooks
