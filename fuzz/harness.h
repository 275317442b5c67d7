#ifndef CS_FUZZ_HARNESS_H_
#define CS_FUZZ_HARNESS_H_

// What the three libFuzzer targets share: a service's handler behind a real gRPC
// server in this process, called over InProcessChannel with the request bytes the
// fuzzer makes, and the invariants checked after every call.
//
// Input format: byte 0 picks one of the service's unary RPCs (modulo their count, in
// the order of the .proto); the remaining bytes are that RPC's request message in the
// protobuf binary encoding. Inputs that do not parse as the request message are
// dropped (gRPC itself would refuse them before the handler runs).
//
// Invariants, any breach aborts so libFuzzer keeps the input:
//   - the status is one the suite documents for bad or conflicting input (OK,
//     INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED,
//     RESOURCE_EXHAUSTED, OUT_OF_RANGE): never UNKNOWN, INTERNAL, UNAVAILABLE, ...;
//   - INVALID_ARGUMENT carries a message (the standard asks it to name the field);
//   - a call that is not OK leaves the database as it was (the watched values of
//     Options::watch plus whatever Options::call_snapshot reads for that call);
//   - a write with a request_id that succeeded answers the same when replayed.
//   - every call answers within Options::call_deadline (a hang is a finding).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "common/db/migrations.h"
#include "common/db/pool.h"
#include "common/testing/test_db.h"

namespace cs::fuzz {

// A throwaway schema (CS_TEST_DB_URI; the process aborts without it) with the
// migrations applied, and a pool on it. Lives as long as the fuzzing process.
struct FuzzDatabase {
  std::unique_ptr<cs::testing::TestDatabase> db;
  std::unique_ptr<db::Pool> pool;
};
FuzzDatabase OpenDatabase(const std::string& prefix, const std::vector<db::MigrationSet>& sets);

// A seed request: {method name, request in protobuf text format}.
using Seed = std::pair<std::string, std::string>;

// One decoded fuzz input.
struct Call {
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::unique_ptr<google::protobuf::Message> request;
};

class Harness {
 public:
  struct Options {
    // Scalar queries (one row, one column) whose value must not change across a
    // call that fails. The harness always adds the event log head and the newest
    // stored idempotent answer.
    std::vector<std::string> watch;
    // Extra per-call snapshot (e.g. rows of the accounts a batch names); compared
    // the same way. May be empty.
    std::function<std::string(db::Connection&, const Call&)> call_snapshot;
    // Runs before each input (e.g. moves a fake clock on). May be empty.
    std::function<void()> before_call;
    absl::Duration call_deadline = absl::Seconds(20);
  };

  // `service` must outlive the harness; `service_name` is its full proto name.
  Harness(grpc::Service* service, const std::string& service_name, db::Pool* pool,
          Options options);
  ~Harness();

  // The input of the fuzz entry point: decode, call, check. Returns what
  // LLVMFuzzerTestOneInput should (-1 for an input that does not decode, so it is
  // not added to the corpus).
  int Run(const uint8_t* data, size_t size);

  // Runs every seed once (through Run, so they are checked too), so the fuzzer
  // starts from a database holding the accounts, runs and tasks they name.
  void Warm(const std::vector<Seed>& seeds);

  // The unary RPCs, in input-byte order.
  const std::vector<const google::protobuf::MethodDescriptor*>& methods() const {
    return methods_;
  }

 private:
  bool Decode(const uint8_t* data, size_t size, Call* call) const;
  grpc::Status Invoke(const Call& call, std::string* response);
  std::string Snapshot(const Call& call);

  db::Pool* pool_;
  Options options_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::string service_name_;
  std::vector<const google::protobuf::MethodDescriptor*> methods_;
  std::set<const google::protobuf::MethodDescriptor*> unimplemented_;
  // Calls per RPC and status code, printed at exit: shows that every RPC was
  // reached and how often past validation.
  std::map<std::string, std::map<int, int64_t>> outcomes_;
  void PrintOutcomes() const;
  grpc::Status last_status_;
};

// The unary RPCs of the service named `service_name` (full proto name), in the
// order of the .proto: the order the input's first byte indexes.
std::vector<const google::protobuf::MethodDescriptor*> UnaryMethods(
    const std::string& service_name);

// Seed corpus. When CS_FUZZ_WRITE_SEEDS=DIR is set, each target writes one file per
// seed request into DIR (named after its method and a hash of its bytes) and exits
// without touching the database. A seed that does not parse aborts.
// The seeds as fuzz inputs (method byte + encoded request), named "<method>-<hash>".
std::vector<std::pair<std::string, std::string>> EncodeSeeds(const std::string& service_name,
                                                             const std::vector<Seed>& seeds);
void MaybeWriteSeedsAndExit(const std::string& service_name, const std::vector<Seed>& seeds);

}  // namespace cs::fuzz

#endif  // CS_FUZZ_HARNESS_H_
