// Helpers every cs_bench scenario shares: latency sets, figure reporting, channels
// and call deadlines.
#ifndef CS_BENCH_BENCH_UTIL_H_
#define CS_BENCH_BENCH_UTIL_H_

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, json_out);

namespace cs::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Latencies in microseconds; percentiles by nearest rank.
class Latencies {
 public:
  void Add(double us) { values_.push_back(us); }
  void Merge(const Latencies& other);
  size_t count() const { return values_.size(); }
  double Percentile(double p);

 private:
  std::vector<double> values_;
};

// Figures go to stdout as a table line and, with --json_out, as JSON lines.
void Report(const std::string& name, double value, const std::string& unit,
            const std::string& note = "");

// Separate channels so concurrent clients use separate HTTP/2 connections, as
// separate callers would.
std::shared_ptr<grpc::Channel> Channel(const std::string& addr, int index);

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30));

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);

std::string AccountId(const std::string& prefix, int i);

// Prints the failed call and returns false.
bool Fail(const std::string& what, const grpc::Status& s);

}  // namespace cs::bench

#endif  // CS_BENCH_BENCH_UTIL_H_
