#include "common/server/metrics.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <grpcpp/server_context.h>

#include <chrono>
#include <random>

#include "absl/strings/str_format.h"
#include "common/db/pool.h"
#include "common/log.h"

namespace cs {
namespace {

constexpr char kRequestIdHeader[] = "x-request-id";

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x%016x", rng(), rng());
}

const char* CodeName(int code) {
  static const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "UNKNOWN";
  return kNames[code];
}

class ObservabilityInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservabilityInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : info_(info), metrics_(metrics), method_(info->method()),
        series_(metrics->Method(method_)), start_(std::chrono::steady_clock::now()) {
    metrics_->Started(series_);
    metrics_->CallBegan();
  }
  ~ObservabilityInterceptor() override { metrics_->CallEnded(); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      auto it = md->find(kRequestIdHeader);
      if (it != md->end() && it->second.size() > 0 && it->second.size() <= 128) {
        request_id_.assign(it->second.data(), it->second.size());
      } else {
        request_id_ = NewRequestId();
        // Handlers read the id from the client metadata; the string lives as long as the call.
        md->emplace(kRequestIdHeader, request_id_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (!request_id_.empty()) {
        methods->GetSendInitialMetadata()->emplace(kRequestIdHeader, request_id_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      const int code = static_cast<int>(status.error_code());
      metrics_->Handled(method_, series_, code, seconds);
      const log::Level level = code == 0 ? log::Level::kDebug
                               : (code == grpc::StatusCode::INTERNAL ||
                                  code == grpc::StatusCode::UNKNOWN ||
                                  code == grpc::StatusCode::DATA_LOSS)
                                   ? log::Level::kError
                                   : log::Level::kInfo;
      // Successful calls log at debug: building the line costs more than the call.
      if (log::Enabled(level)) {
        log::Write(level, "rpc", {{"method", method_},
                                  {"code", CodeName(code)},
                                  {"message", status.error_message()},
                                  {"ms", seconds * 1000.0},
                                  {"request_id", request_id_},
                                  {"peer", info_->server_context()->peer()}});
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  RpcMetrics* metrics_;
  std::string method_;
  RpcMetrics::MethodSeries* series_;
  std::string request_id_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("cs_grpc_server_started_total")
                   .Help("RPCs started on the server, by method.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("cs_grpc_server_handled_total")
                   .Help("RPCs completed on the server, by method and status code.")
                   .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("cs_grpc_server_handling_seconds")
                   .Help("Time from the call's start to its status, by method.")
                   .Register(registry)) {
  auto& up = prometheus::BuildGauge()
                 .Name("cs_db_up")
                 .Help("1 when the service's database answered its last health check.")
                 .Register(registry);
  db_up_ = &up.Add({});
  auto& pool = prometheus::BuildGauge()
                   .Name("cs_db_pool_connections")
                   .Help("Database pool connections by state.")
                   .Register(registry);
  pool_open_ = &pool.Add({{"state", "open"}});
  pool_leased_ = &pool.Add({{"state", "leased"}});
}

RpcMetrics::MethodSeries* RpcMetrics::Method(const std::string& method) {
  {
    std::shared_lock<std::shared_mutex> lock(methods_mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return it->second.get();
  }
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::unique_lock<std::shared_mutex> lock(methods_mu_);
  std::unique_ptr<MethodSeries>& series = methods_[method];
  if (series == nullptr) {
    series = std::make_unique<MethodSeries>();
    series->started = &started_.Add({{"grpc_method", method}});
    series->latency = &latency_.Add({{"grpc_method", method}}, kBuckets);
  }
  return series.get();
}

void RpcMetrics::Handled(const std::string& method, MethodSeries* series, int code,
                         double seconds) {
  if (code < 0 || code >= static_cast<int>(series->handled.size())) code = 2;  // UNKNOWN
  prometheus::Counter* handled = series->handled[code].load(std::memory_order_acquire);
  if (handled == nullptr) {
    // Family::Add returns the existing series for the same labels, so a race here
    // stores the same pointer twice.
    handled = &handled_.Add({{"grpc_method", method}, {"grpc_code", CodeName(code)}});
    series->handled[code].store(handled, std::memory_order_release);
  }
  handled->Increment();
  series->latency->Observe(seconds);
}

grpc::experimental::Interceptor* ObservabilityInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new ObservabilityInterceptor(info, metrics_);
}

std::string RequestIdOf(const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kRequestIdHeader);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

QueryGauge::QueryGauge(prometheus::Registry& registry, db::Pool* pool, Spec spec)
    : pool_(pool),
      spec_(std::move(spec)),
      family_(prometheus::BuildGauge().Name(spec_.name).Help(spec_.help).Register(registry)) {
  for (const auto& values : spec_.always) Series(values).Set(0);
}

prometheus::Gauge& QueryGauge::Series(const std::vector<std::string>& values) {
  auto it = seen_.find(values);
  if (it != seen_.end()) return *it->second;
  std::map<std::string, std::string> labels;
  for (size_t i = 0; i < spec_.label_names.size() && i < values.size(); ++i) {
    labels[spec_.label_names[i]] = values[i];
  }
  prometheus::Gauge* gauge = &family_.Add(labels);
  seen_.emplace(values, gauge);
  return *gauge;
}

absl::Status QueryGauge::Refresh() {
  std::map<std::vector<std::string>, double> rows;
  const size_t n = spec_.label_names.size();
  absl::Status status = pool_->Run([&](db::Connection& conn) -> absl::Status {
    sql::PreparedStatement& stmt = conn.Prepare(spec_.sql);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    while (rs->next()) {
      std::vector<std::string> values;
      for (size_t i = 1; i <= n; ++i) values.push_back(std::string(rs->getString(i)));
      rows[values] += static_cast<double>(rs->getDouble(n + 1));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  // Only the refresher's thread touches seen_ after construction.
  for (auto& [values, gauge] : seen_) {
    if (rows.find(values) == rows.end()) gauge->Set(0);
  }
  for (const auto& [values, value] : rows) Series(values).Set(value);
  return absl::OkStatus();
}

void PeriodicRefresher::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    bool failing = false;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      const absl::Status s = refresh_();
      if (!s.ok() && !failing) {
        log::Warn(name_ + " refresh failed; retrying", {{"error", std::string(s.message())}});
      } else if (s.ok() && failing) {
        log::Info(name_ + " refresh works again");
      }
      failing = !s.ok();
      lock.lock();
      cv_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [this] { return stopping_; });
    }
  });
}

void PeriodicRefresher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace cs
