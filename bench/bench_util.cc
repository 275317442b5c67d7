#include "bench/bench_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"

ABSL_FLAG(std::string, json_out, "", "Append one JSON object per figure to this file");

namespace cs::bench {

void Latencies::Merge(const Latencies& other) {
  values_.insert(values_.end(), other.values_.begin(), other.values_.end());
}

double Latencies::Percentile(double p) {
  if (values_.empty()) return 0;
  std::sort(values_.begin(), values_.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values_.size()));
  return values_[std::clamp<size_t>(rank, 1, values_.size()) - 1];
}

void Report(const std::string& name, double value, const std::string& unit,
            const std::string& note) {
  std::printf(std::abs(value) < 10 ? "  %-44s %14.3f %-11s %s\n" : "  %-44s %14.1f %-11s %s\n",
              name.c_str(), value, unit.c_str(), note.c_str());
  std::fflush(stdout);
  const std::string path = absl::GetFlag(FLAGS_json_out);
  if (path.empty()) return;
  std::ofstream out(path, std::ios::app);
  out << absl::StrFormat(R"({"figure":"%s","value":%.3f,"unit":"%s"})", name, value, unit)
      << "\n";
}

std::shared_ptr<grpc::Channel> Channel(const std::string& addr, int index) {
  grpc::ChannelArguments args;
  args.SetInt("cs.bench.channel_index", index);
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() +
                  std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
  return c;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t us = absl::ToUnixMicros(t);
  out->set_seconds(us / 1000000);
  out->set_nanos(static_cast<int32_t>((us % 1000000) * 1000));
}

std::string AccountId(const std::string& prefix, int i) {
  return absl::StrFormat("%s-%07d", prefix, i);
}

bool Fail(const std::string& what, const grpc::Status& s) {
  std::fprintf(stderr, "%s: %d %s\n", what.c_str(), s.error_code(), s.error_message().c_str());
  return false;
}

}  // namespace cs::bench
