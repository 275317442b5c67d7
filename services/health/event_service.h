#ifndef CS_SERVICES_HEALTH_EVENT_SERVICE_H_
#define CS_SERVICES_HEALTH_EVENT_SERVICE_H_

#include <atomic>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/health/event.h"

namespace cs::health {

// Reading the event log: pages, and a resumable watch.
class EventService {
 public:
  struct Options {
    // How often an idle watch looks for new events (other replicas write too).
    absl::Duration poll_interval = absl::Milliseconds(100);
    absl::Duration default_heartbeat = absl::Seconds(5);
    absl::Duration min_heartbeat = absl::Milliseconds(100);
    int batch = 500;
  };

  // What a watch hands its caller; each returns false when the caller is gone.
  struct WatchSink {
    std::function<bool(const Event&)> event;
    std::function<bool(int64_t last_sequence, absl::Time at)> heartbeat;
  };

  EventService(EventRepository* repository, Options options)
      : repository_(repository), options_(options) {}
  explicit EventService(EventRepository* repository) : EventService(repository, Options()) {}

  // page_size 0 means 100; at most 1000.
  absl::StatusOr<EventPage> ListEvents(int64_t after_sequence, int page_size);

  // Sends every event after `after_sequence`, then new ones as they commit, with a
  // heartbeat after each `heartbeat` of silence (zero: the default). Returns when
  // the sink refuses (OK), on a database error that persists, or UNAVAILABLE when
  // the service is stopping.
  absl::Status Watch(int64_t after_sequence, absl::Duration heartbeat, const WatchSink& sink);

  // Ends every running watch (server shutdown).
  void Stop() { stopping_.store(true); }

 private:
  EventRepository* repository_;
  Options options_;
  std::atomic<bool> stopping_{false};
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_EVENT_SERVICE_H_
