#ifndef CS_SERVICES_PLAYBOOKS_WORKER_H_
#define CS_SERVICES_PLAYBOOKS_WORKER_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cs::playbooks {

// A background loop (the health stream consumer, the SLA and cadence sweeper): runs
// `round` again at once while it reports work done, and after `idle_interval`
// when it did none or failed. Failures (health or the database down) are logged
// once per run of failures; the loop never ends by itself, so the service keeps
// starting and serving while a peer is away. Replicas share the work through row
// locks in the database, so every replica runs one.
class Worker {
 public:
  Worker(std::string name, std::function<absl::StatusOr<int>()> round,
         absl::Duration idle_interval)
      : name_(std::move(name)), round_(std::move(round)), idle_interval_(idle_interval) {}
  ~Worker() { Stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void Start();
  // Interrupts the wait, lets a running round finish and joins. Idempotent.
  void Stop();
  // Work has arrived: an idle wait ends at once, and a round running now is followed
  // by another at once even if it found nothing.
  void Wake();

 private:
  void Run();

  const std::string name_;
  const std::function<absl::StatusOr<int>()> round_;
  const absl::Duration idle_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_WORKER_H_
