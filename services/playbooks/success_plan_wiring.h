#ifndef CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_WIRING_H_
#define CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_WIRING_H_

// Success plans as the playbooks binary runs them: the repository, health's
// GetHealth, the service and its background loop (templates seeded once the
// database answers, then each round: score events, overdue alerts, criteria checks).

#include <string>

#include "common/clock.h"
#include "common/db/pool.h"
#include "services/playbooks/mysql_success_plan_repository.h"
#include "services/playbooks/success_plan_health_client.h"
#include "services/playbooks/success_plan_service.h"
#include "services/playbooks/worker.h"

namespace cs::playbooks {

struct SuccessPlanWiring {
  SuccessPlanWiring(db::Pool* pool, const Clock* clock, HealthFeed* feed,
                    const std::string& health_addr, GrpcHealthReader::Options reader_options,
                    SuccessPlanService::Options options, absl::Duration interval);

  MySqlSuccessPlanRepository repository;
  GrpcHealthReader reader;
  SuccessPlanService service;
  Worker worker;
  bool seeded = false;  // touched only by the worker's thread
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_SUCCESS_PLAN_WIRING_H_
