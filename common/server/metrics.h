#ifndef CS_COMMON_SERVER_METRICS_H_
#define CS_COMMON_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace cs {

// The RPC metrics every service exports, recorded by a server interceptor:
//   cs_grpc_server_started_total{grpc_method}
//   cs_grpc_server_handled_total{grpc_method, grpc_code}
//   cs_grpc_server_handling_seconds{grpc_method} (histogram)
// and the database state:
//   cs_db_up, cs_db_pool_open_connections, cs_db_pool_leased_connections
class RpcMetrics {
 public:
  explicit RpcMetrics(prometheus::Registry& registry);
  void Started(const std::string& method);
  void Handled(const std::string& method, int code, double seconds);

  prometheus::Gauge& db_up() { return *db_up_; }
  prometheus::Gauge& pool_open() { return *pool_open_; }
  prometheus::Gauge& pool_leased() { return *pool_leased_; }

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Gauge* db_up_;
  prometheus::Gauge* pool_open_;
  prometheus::Gauge* pool_leased_;
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

// Returns the call's request id (client-supplied x-request-id, or generated).
std::string RequestIdOf(const grpc::ServerContextBase& context);

}  // namespace cs

#endif  // CS_COMMON_SERVER_METRICS_H_
