#include "fuzz/harness.h"

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/log.h"

namespace cs::fuzz {
namespace {

using google::protobuf::Message;
using google::protobuf::MessageFactory;
using google::protobuf::MethodDescriptor;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "\n==fuzz invariant== %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::unique_ptr<Message> NewMessage(const google::protobuf::Descriptor* type) {
  const Message* prototype = MessageFactory::generated_factory()->GetPrototype(type);
  if (prototype == nullptr) Die(absl::StrCat("no generated message for ", type->full_name()));
  return std::unique_ptr<Message>(prototype->New());
}

// The documented answers to bad, missing or conflicting input (DESIGN.md). Anything
// else from an in-process call with the database up is a bug in the service.
bool Documented(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::OUT_OF_RANGE:
      return true;
    default:
      return false;
  }
}

std::string Describe(const Call& call, const grpc::Status& status) {
  std::string request = call.request->ShortDebugString();
  if (request.size() > 4000) request = request.substr(0, 4000) + "...";
  return absl::StrCat(call.method->name(), " -> code ", static_cast<int>(status.error_code()),
                      " \"", status.error_message(), "\"\n  request: ", request);
}

// The request_id of a write request ("" when the message has none or it is empty).
std::string RequestId(const Message& request) {
  const google::protobuf::FieldDescriptor* field =
      request.GetDescriptor()->FindFieldByName("request_id");
  if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      field->is_repeated()) {
    return "";
  }
  return request.GetReflection()->GetString(request, field);
}

}  // namespace

FuzzDatabase OpenDatabase(const std::string& prefix, const std::vector<db::MigrationSet>& sets) {
  FuzzDatabase out;
  out.db = cs::testing::TestDatabase::Create(prefix);
  if (out.db == nullptr) {
    std::fprintf(stderr, "fuzz: set CS_TEST_DB_URI (mysql://root@127.0.0.1:PORT); "
                         "scripts/fuzz starts a private MariaDB\n");
    std::exit(2);
  }
  out.pool = std::make_unique<db::Pool>(out.db->config());
  if (absl::Status s = db::ApplyMigrations(*out.pool, sets); !s.ok()) {
    std::fprintf(stderr, "fuzz: migrations: %s\n", s.ToString().c_str());
    std::exit(2);
  }
  return out;
}

std::vector<const MethodDescriptor*> UnaryMethods(const std::string& service_name) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
  if (service == nullptr) Die(absl::StrCat("unknown service ", service_name));
  std::vector<const MethodDescriptor*> out;
  for (int i = 0; i < service->method_count(); ++i) {
    const MethodDescriptor* m = service->method(i);
    if (!m->client_streaming() && !m->server_streaming()) out.push_back(m);
  }
  if (out.empty() || out.size() > 256) Die("a target needs 1-256 unary RPCs");
  return out;
}

Harness::Harness(grpc::Service* service, const std::string& service_name, db::Pool* pool,
                 Options options)
    : pool_(pool),
      options_(std::move(options)),
      service_name_(service_name),
      methods_(UnaryMethods(service_name)) {
  // Malformed UTF-8 and similar parse failures are expected by the thousand; the
  // service's own info lines would drown the fuzzer's output. Errors still show.
  google::protobuf::SetLogHandler(nullptr);
  cs::log::SetMinLevel(cs::log::Level::kError);
  options_.watch.insert(options_.watch.begin(),
                        {"SELECT last_sequence FROM event_log_head WHERE id = 1",
                         "SELECT COALESCE(MAX(created_at), '') FROM idempotency_keys"});
  grpc::ServerBuilder builder;
  builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) Die("in-process server did not start");
  grpc::ChannelArguments args;
  channel_ = server_->InProcessChannel(args);
  stub_ = std::make_unique<grpc::GenericStub>(channel_);
  // libFuzzer ends a timed run with exit(); the fuzzing process has one harness.
  static Harness* instance = nullptr;
  instance = this;
  std::atexit([] {
    if (instance != nullptr) instance->PrintOutcomes();
  });
  // An RPC declared in the .proto but not (yet) overridden by the handler answers
  // UNIMPLEMENTED from gRPC's generated base class: say so once and leave it out,
  // rather than report gRPC's answer as the service's.
  for (const MethodDescriptor* m : methods_) {
    Call probe{m, NewMessage(m->input_type())};
    std::string ignored;
    if (Invoke(probe, &ignored).error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      std::fprintf(stderr, "fuzz: warning: %s is not implemented by the handler; skipped\n",
                   m->full_name().c_str());
      unimplemented_.insert(m);
    }
  }
}

Harness::~Harness() {
  server_->Shutdown();
  server_->Wait();
}

void Harness::PrintOutcomes() const {
  static const char* const kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  std::fprintf(stderr, "fuzz outcomes (calls by RPC and status):\n");
  for (const MethodDescriptor* m : methods_) {
    auto it = outcomes_.find(m->name());
    std::string line = absl::StrCat("  ", m->name(), ":");
    if (it == outcomes_.end()) {
      absl::StrAppend(&line, unimplemented_.count(m) > 0 ? " not implemented" : " never called");
    } else {
      for (const auto& [code, n] : it->second) {
        absl::StrAppend(&line, " ", code >= 0 && code <= 16 ? kNames[code] : "?", "=", n);
      }
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

bool Harness::Decode(const uint8_t* data, size_t size, Call* call) const {
  if (size < 1) return false;
  call->method = methods_[data[0] % methods_.size()];
  call->request = NewMessage(call->method->input_type());
  return call->request->ParseFromArray(data + 1, static_cast<int>(size - 1));
}

grpc::Status Harness::Invoke(const Call& call, std::string* response) {
  std::string bytes;
  if (!call.request->SerializeToString(&bytes)) Die("request does not serialize");
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.call_deadline));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub_->UnaryCall(&context, absl::StrCat("/", service_name_, "/", call.method->name()),
                   grpc::StubOptions(), &request, &reply, [&](grpc::Status s) {
                     std::lock_guard<std::mutex> lock(mu);
                     status = std::move(s);
                     done = true;
                     cv.notify_one();
                   });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  response->clear();
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    if (!reply.Dump(&slices).ok()) Die("response buffer");
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

std::string Harness::Snapshot(const Call& call) {
  std::string out;
  absl::Status s = pool_->Run([&](db::Connection& conn) -> absl::Status {
    try {
      for (const std::string& query : options_.watch) {
        std::unique_ptr<sql::ResultSet> rs(conn.Prepare(query).executeQuery());
        if (!rs->next()) {
          absl::StrAppend(&out, "<no row>|");
        } else {
          absl::StrAppend(&out, rs->isNull(1) ? std::string("NULL")
                                              : std::string(rs->getString(1)), "|");
        }
      }
      if (options_.call_snapshot) absl::StrAppend(&out, options_.call_snapshot(conn, call));
    } catch (const sql::SQLException& e) {
      Die(absl::StrCat("snapshot query failed: ", e.what()));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) Die(absl::StrCat("snapshot: ", s.ToString()));
  return out;
}

int Harness::Run(const uint8_t* data, size_t size) {
  Call call;
  if (!Decode(data, size, &call) || unimplemented_.count(call.method) > 0) return -1;
  if (options_.before_call) options_.before_call();
  const std::string before = Snapshot(call);
  std::string response;
  const grpc::Status status = Invoke(call, &response);
  ++outcomes_[call.method->name()][static_cast<int>(status.error_code())];
  last_status_ = status;

  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Die(absl::StrCat("call did not answer within ",
                     absl::FormatDuration(options_.call_deadline), ": ", Describe(call, status)));
  }
  if (!Documented(status.error_code())) {
    Die(absl::StrCat("undocumented status: ", Describe(call, status)));
  }
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
      status.error_message().empty()) {
    Die(absl::StrCat("INVALID_ARGUMENT without a message: ", Describe(call, status)));
  }
  if (!status.ok()) {
    const std::string after = Snapshot(call);
    if (after != before) {
      Die(absl::StrCat("a refused call changed the database\n  before: ", before,
                       "\n  after:  ", after, "\n  ", Describe(call, status)));
    }
    return 0;
  }

  // An idempotent write answers a retry with its first answer, whatever happened
  // in between (here: nothing).
  if (!RequestId(*call.request).empty()) {
    std::string replayed;
    const grpc::Status again = Invoke(call, &replayed);
    if (!again.ok()) {
      Die(absl::StrCat("replay with the same request_id failed: ", Describe(call, again)));
    }
    std::unique_ptr<Message> first = NewMessage(call.method->output_type());
    std::unique_ptr<Message> second = NewMessage(call.method->output_type());
    if (!first->ParseFromString(response) || !second->ParseFromString(replayed)) {
      Die(absl::StrCat("response does not parse: ", Describe(call, status)));
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(*first, *second)) {
      Die(absl::StrCat("replay answered differently\n  first:  ", first->ShortDebugString(),
                       "\n  replay: ", second->ShortDebugString(), "\n  ",
                       Describe(call, status)));
    }
  }
  return 0;
}

std::vector<std::pair<std::string, std::string>> EncodeSeeds(const std::string& service_name,
                                                             const std::vector<Seed>& seeds) {
  const std::vector<const MethodDescriptor*> methods = UnaryMethods(service_name);
  std::set<std::string> covered;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, text] : seeds) {
    size_t index = methods.size();
    for (size_t i = 0; i < methods.size(); ++i) {
      if (methods[i]->name() == name) index = i;
    }
    if (index == methods.size()) Die(absl::StrCat("seed for unknown unary RPC ", name));
    std::unique_ptr<Message> request = NewMessage(methods[index]->input_type());
    if (!google::protobuf::TextFormat::ParseFromString(text, request.get())) {
      Die(absl::StrCat("seed for ", name, " does not parse: ", text));
    }
    std::string input(1, static_cast<char>(index));
    input += request->SerializeAsString();
    out.emplace_back(absl::StrCat(name, "-", Fingerprint64Hex(input)), std::move(input));
    covered.insert(name);
  }
  for (const MethodDescriptor* m : methods) {
    if (covered.count(m->name()) == 0) {
      std::fprintf(stderr, "fuzz: warning: no seed for %s\n", m->name().c_str());
    }
  }
  return out;
}

void Harness::Warm(const std::vector<Seed>& seeds) {
  // Printed so a seed that stopped passing validation (after a rule changed) shows.
  for (const auto& [name, input] : EncodeSeeds(service_name_, seeds)) {
    last_status_ = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "skipped");
    Run(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    std::fprintf(stderr, "fuzz: seed %s -> %d %s\n", name.c_str(),
                 static_cast<int>(last_status_.error_code()),
                 last_status_.error_message().substr(0, 160).c_str());
  }
}

void MaybeWriteSeedsAndExit(const std::string& service_name, const std::vector<Seed>& seeds) {
  const char* dir = std::getenv("CS_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  int written = 0;
  for (const auto& [name, input] : EncodeSeeds(service_name, seeds)) {
    const std::string path = absl::StrCat(dir, "/seed-", name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << input;
    if (!out.good()) Die(absl::StrCat("cannot write ", path));
    ++written;
  }
  std::fprintf(stderr, "fuzz: wrote %d seeds to %s\n", written, dir);
  std::exit(0);
}

}  // namespace cs::fuzz
