#include "services/health/rescore_worker.h"

#include <string>

#include "absl/status/statusor.h"
#include "common/log.h"

namespace cs::health {

void RescoreWorker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!running_.empty() || stopping_) return;
  for (int i = 0; i < threads_; ++i) running_.emplace_back([this] { Run(); });
}

void RescoreWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : running_) {
    if (t.joinable()) t.join();
  }
}

void RescoreWorker::Run() {
  bool failing = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const absl::StatusOr<int> rescored = service_->RunRescoreJobs(batch_);
    if (!rescored.ok()) {
      if (!failing) {
        log::Warn("background rescoring failed; retrying",
                  {{"error", std::string(rescored.status().message())},
                   {"code", absl::StatusCodeToString(rescored.status().code())}});
      }
      failing = true;
    } else if (failing) {
      log::Info("background rescoring works again");
      failing = false;
    }
    lock.lock();
    // More work is likely right behind a full or partial batch: go on at once.
    if (rescored.ok() && *rescored > 0) continue;
    cv_.wait_for(lock, absl::ToChronoNanoseconds(idle_interval_), [this] { return stopping_; });
  }
}

}  // namespace cs::health
