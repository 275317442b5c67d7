#ifndef CS_COMMON_SERVER_METRICS_H_
#define CS_COMMON_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <array>
#include <atomic>
#include <shared_mutex>
#include <unordered_map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cs {

namespace db {
class Pool;
}

// The RPC metrics every service exports, recorded by a server interceptor:
//   cs_grpc_server_started_total{grpc_method}
//   cs_grpc_server_handled_total{grpc_method, grpc_code}
//   cs_grpc_server_handling_seconds{grpc_method} (histogram)
// and the database state:
//   cs_db_up, cs_db_pool_open_connections, cs_db_pool_leased_connections
class RpcMetrics {
 public:
  explicit RpcMetrics(prometheus::Registry& registry);

  // One method's series, looked up once per call rather than by labels at every
  // count (a family lookup builds and hashes a label map under the family's lock).
  struct MethodSeries {
    prometheus::Counter* started = nullptr;
    prometheus::Histogram* latency = nullptr;
    std::array<std::atomic<prometheus::Counter*>, 17> handled{};  // by status code
  };
  // Stable for the life of the metrics.
  MethodSeries* Method(const std::string& method);
  void Started(MethodSeries* series) { series->started->Increment(); }
  void Handled(const std::string& method, MethodSeries* series, int code, double seconds);
  // Calls whose interceptor exists (from arrival until the call is torn down); the
  // drain uses it to tell in-flight calls from idle connections.
  void CallBegan() { in_flight_.fetch_add(1); }
  void CallEnded() { in_flight_.fetch_sub(1); }
  int in_flight() const { return in_flight_.load(); }

  prometheus::Gauge& db_up() { return *db_up_; }
  prometheus::Gauge& pool_open() { return *pool_open_; }
  prometheus::Gauge& pool_leased() { return *pool_leased_; }

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& latency_;
  std::shared_mutex methods_mu_;
  std::unordered_map<std::string, std::unique_ptr<MethodSeries>> methods_;
  prometheus::Gauge* db_up_;
  prometheus::Gauge* pool_open_;
  prometheus::Gauge* pool_leased_;
  std::atomic<int> in_flight_{0};
};

// Creates one interceptor per call: metrics, the x-request-id header (taken from
// the client or generated, and echoed back), and a log line for failed calls.
class ObservabilityInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ObservabilityInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  RpcMetrics* metrics_;
};

// A gauge family whose values come from one aggregate query of the service's own
// schema (the business view: accounts per band, open escalations, pipeline). The
// query is a prepared statement without parameters returning one row per series:
// the label values (as strings, in the order of `label_names`) then the value.
// Series the query stops returning (an empty band, a stage emptied) drop to 0
// rather than keep their last value, and `always` lists series reported as 0 from
// the first refresh on, so dashboards and alerts see them before any data exists.
class QueryGauge {
 public:
  struct Spec {
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::string sql;
    std::vector<std::vector<std::string>> always;
  };
  QueryGauge(prometheus::Registry& registry, db::Pool* pool, Spec spec);
  // Runs the query once and updates the gauges; on failure they keep their values.
  absl::Status Refresh();

 private:
  prometheus::Gauge& Series(const std::vector<std::string>& values);

  db::Pool* pool_;
  Spec spec_;
  prometheus::Family<prometheus::Gauge>& family_;
  std::map<std::vector<std::string>, prometheus::Gauge*> seen_;
};

// Calls `refresh` at once and then every `interval` in a thread of its own until
// Stop. Failures (the database away) are logged once per run of failures; the
// gauges keep their last values meanwhile, and cs_db_up tells why.
class PeriodicRefresher {
 public:
  PeriodicRefresher(std::string name, absl::Duration interval,
                    std::function<absl::Status()> refresh)
      : name_(std::move(name)), interval_(interval), refresh_(std::move(refresh)) {}
  ~PeriodicRefresher() { Stop(); }
  PeriodicRefresher(const PeriodicRefresher&) = delete;
  PeriodicRefresher& operator=(const PeriodicRefresher&) = delete;

  void Start();
  void Stop();  // idempotent

 private:
  const std::string name_;
  const absl::Duration interval_;
  const std::function<absl::Status()> refresh_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// Returns the call's request id (client-supplied x-request-id, or generated).
std::string RequestIdOf(const grpc::ServerContextBase& context);

}  // namespace cs

#endif  // CS_COMMON_SERVER_METRICS_H_
