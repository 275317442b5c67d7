#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_WIRING_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_WIRING_H_

// Success plans as the playbooks binary runs them: the repository, health's
// GetHealth, the service and its background loop (templates seeded once the
// database answers, then each round: score events, overdue alerts, criteria checks).

#include <string>

#include "absl/time/time.h"

#include "common/clock.h"
#include "common/db/pool.h"
#include "services/playbooks/mysql_success_plan_repository.h"
#include "services/playbooks/success_plan_health_client.h"
#include "services/playbooks/success_plan_service.h"
#include "services/playbooks/worker.h"

namespace cs::playbooks {

// When a round of the loop runs the sweep (overdue alerts, due criteria checks): at
// most once per interval. An idle loop waits the interval between rounds, so it
// sweeps in each; a loop the stream keeps busy (woken for every page the playbook
// consumer reads, tens a second in a rescore, then finding itself caught up) ran
// the sweep's two transactions in every one of those rounds.
class SweepPacer {
 public:
  explicit SweepPacer(absl::Duration interval) : interval_(interval) {}
  bool Due(absl::Time now) {
    if (now - last_ < interval_) return false;
    last_ = now;
    return true;
  }

 private:
  const absl::Duration interval_;
  absl::Time last_ = absl::InfinitePast();
};

struct SuccessPlanWiring {
  SuccessPlanWiring(db::Pool* pool, const Clock* clock, HealthFeed* feed,
                    const std::string& health_addr, GrpcHealthReader::Options reader_options,
                    SuccessPlanService::Options options, absl::Duration interval);

  MySqlSuccessPlanRepository repository;
  GrpcHealthReader reader;
  SuccessPlanService service;
  SweepPacer sweeps;  // touched only by the worker's thread
  Worker worker;
  bool seeded = false;  // touched only by the worker's thread
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_WIRING_H_
