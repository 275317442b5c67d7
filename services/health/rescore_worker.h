#ifndef CS_SERVICES_HEALTH_RESCORE_WORKER_H_
#define CS_SERVICES_HEALTH_RESCORE_WORKER_H_

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "services/health/health_service.h"

namespace cs::health {

// Background rescoring (the daily rescore and scorecard changes): `threads` threads
// that run HealthService::RunRescoreJobs while there is work and poll every
// `idle_interval` when there is none. A job is worked in slices of `batch` accounts
// shared through row locks by every thread of every replica, so a rescore uses the
// database from several connections at once. A failure is logged once per run of failures and
// retried after `idle_interval`.
class RescoreWorker {
 public:
  // batch: accounts per transaction. Rescoring reads and writes them a few hundred
  // at a time (multi-row statements), so a larger batch mostly saves commits; its
  // memory is that of one chunk's counters. idle_interval: how soon a scorecard
  // change made on any replica is picked up.
  explicit RescoreWorker(HealthService* service, absl::Duration idle_interval = absl::Seconds(1),
                         int batch = 1024, int threads = 1)
      : service_(service), idle_interval_(idle_interval), batch_(batch),
        threads_(threads < 1 ? 1 : threads) {}
  ~RescoreWorker() { Stop(); }

  RescoreWorker(const RescoreWorker&) = delete;
  RescoreWorker& operator=(const RescoreWorker&) = delete;

  // Starts the threads; a second call does nothing.
  void Start();
  // Interrupts the wait, lets a running batch finish and joins. Idempotent.
  void Stop();

 private:
  void Run();

  HealthService* service_;
  const absl::Duration idle_interval_;
  const int batch_;
  const int threads_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::thread> running_;
};

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_RESCORE_WORKER_H_
