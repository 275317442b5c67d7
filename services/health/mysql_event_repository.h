#ifndef CS_SERVICES_HEALTH_MYSQL_EVENT_REPOSITORY_H_
#define CS_SERVICES_HEALTH_MYSQL_EVENT_REPOSITORY_H_

#include "common/db/pool.h"
#include "services/health/event.h"

namespace cs::health {

class MySqlEventRepository final : public EventRepository {
 public:
  explicit MySqlEventRepository(db::Pool* pool) : pool_(pool) {}
  absl::StatusOr<std::vector<Event>> After(int64_t after_sequence, int limit) override;
  absl::StatusOr<int64_t> LastSequence() override;

 private:
  db::Pool* pool_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_MYSQL_EVENT_REPOSITORY_H_
