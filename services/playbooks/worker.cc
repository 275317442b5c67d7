#include "services/playbooks/worker.h"

#include "common/log.h"

namespace cs::playbooks {

void Worker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void Worker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Worker::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Worker::Run() {
  bool failing = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    woken_ = false;
    lock.unlock();
    const absl::StatusOr<int> done = round_();
    if (!done.ok()) {
      if (!failing) {
        log::Warn(name_ + " failed; retrying",
                  {{"error", std::string(done.status().message())},
                   {"code", absl::StatusCodeToString(done.status().code())}});
      }
      failing = true;
    } else if (failing) {
      log::Info(name_ + " works again");
      failing = false;
    }
    lock.lock();
    if (done.ok() && *done > 0) continue;
    cv_.wait_for(lock, absl::ToChronoNanoseconds(idle_interval_),
                 [this] { return stopping_ || woken_; });
  }
}

}  // namespace cs::playbooks
