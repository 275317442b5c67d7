// The audit trail and the limits on the real service binaries, over mutual TLS with
// bearer tokens: writes and reads of regulated accounts are recorded with who, what,
// when and from where; only administrators read the trail; oversized requests, a
// principal over its rate and pages over the maximum are refused.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <ostream>
#include <sstream>
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/auth.h"
#include "common/testing/test_db.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace cs::testing {
namespace {

namespace hv1 = cs::health::v1;
using cs::common::v1::AuditEvent;

constexpr char kHealthService[] = "/cs.health.v1.AccountHealthService/";

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string TokenLine(const std::string& token, const std::string& principal,
                      const std::string& scopes, const std::string& extra = "") {
  return absl::StrCat("sha256:", Sha256Hex(token), " ", principal, " ", scopes,
                      extra.empty() ? "" : " ", extra, "\n");
}

// The value of one series on a /metrics page; -1 when the page lacks it.
double SeriesValue(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return -1;
}

// One service binary over mutual TLS with tokens for a writer, a reader, an
// administrator and a principal held to 3 calls (rate=0.5/3), requests capped at
// 64 KiB, and streams that check an unregulated account again after 1 s. `replica`
// tells apart two processes of one service; `extra` flags are appended.
class SecuredService {
 public:
  SecuredService(const std::string& name, const std::string& binary, const std::string& db_uri,
                 int replica = 0, const std::vector<std::string>& extra = {}) {
    dir_ = absl::StrCat(::testing::TempDir(), "/audit-", name, "-", replica, "-", getpid());
    EXPECT_EQ(std::system(absl::StrCat(CS_MAKE_TEST_CA, " ", dir_).c_str()), 0);
    const std::string tokens = dir_ + "/tokens";
    WriteFile(tokens, TokenLine("writer", "crm-sync", name + ".write") +
                          TokenLine("reader", "dashboards", name + ".read") +
                          TokenLine("admin", "ops", name + ".admin") +
                          TokenLine("limited", "batch-job", name + ".read", "rate=0.5/3"));
    port_ = FreePort();
    metrics_port_ = FreePort();
    std::vector<std::string> args{
        binary, absl::StrCat("--listen=127.0.0.1:", port_),
        absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
        absl::StrCat("--db_uri=", db_uri), "--drain_timeout=2s",
        "--tls_cert_file=" + dir_ + "/server.pem", "--tls_key_file=" + dir_ + "/server.key",
        "--tls_client_ca_file=" + dir_ + "/ca.pem", "--auth_tokens_file=" + tokens,
        "--max_receive_message_bytes=65536", "--audit_stream_recheck=1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(args, dir_ + "/service.log");
    for (int i = 0; i < 300 && HttpGet("127.0.0.1", metrics_port_, "/metrics").empty(); ++i) {
      if (!process_->running()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(dir_ + "/ca.pem");
    ssl.pem_cert_chain = ReadFile(dir_ + "/client.pem");
    ssl.pem_private_key = ReadFile(dir_ + "/client.key");
    channel_ = grpc::CreateChannel(absl::StrCat("localhost:", port_), grpc::SslCredentials(ssl));
  }

  ~SecuredService() {
    process_->Signal(SIGTERM);
    process_->WaitExit(absl::Seconds(10));
  }

  // Waits until the service answers (with the admin token) and its database is up.
  bool Ready() {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up && process_->running()) {
      grpc::health::v1::HealthCheckResponse r;
      if (health->Check(Context(absl::Seconds(1)).get(), {}, &r).ok() &&
          r.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // A unary call of `method` with `token`, through the generic stub so one helper
  // serves every service (their ListAuditEvents messages share one wire format).
  grpc::Status Call(const std::string& method, const std::string& token,
                    const google::protobuf::Message& request, google::protobuf::Message* response) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer in(&slice, 1);
    grpc::ByteBuffer out;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &in, &out,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status status = done.get_future().get();
    if (status.ok() && response != nullptr) {
      std::vector<grpc::Slice> slices;
      out.Dump(&slices);
      std::string received;
      for (const grpc::Slice& s : slices) received.append(reinterpret_cast<const char*>(s.begin()), s.size());
      EXPECT_TRUE(response->ParseFromString(received));
    }
    return status;
  }

  grpc::Status ListAudit(const std::string& service_path, const std::string& token,
                         const hv1::ListAuditEventsRequest& request,
                         hv1::ListAuditEventsResponse* response) {
    return Call(service_path + "ListAuditEvents", token, request, response);
  }

  std::vector<AuditEvent> AuditOf(const std::string& service_path,
                                   const cs::common::v1::AuditEventFilter& filter) {
    hv1::ListAuditEventsRequest request;
    *request.mutable_filter() = filter;
    request.mutable_page()->set_page_size(1000);
    hv1::ListAuditEventsResponse response;
    grpc::Status s = ListAudit(service_path, "admin", request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.events().begin(), response.events().end()};
  }

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::string Metrics() { return HttpGet("127.0.0.1", metrics_port_, "/metrics"); }
  std::string Log() { return ReadFile(dir_ + "/service.log"); }

 private:
  std::string dir_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
};

class HealthAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CS_TEST_DATABASE_OR_SKIP(db_, "audit");
    service_ = std::make_unique<SecuredService>("health", CS_HEALTH_SERVER, db_->uri());
    ASSERT_TRUE(service_->Ready()) << service_->Log();
  }

  grpc::Status Upsert(const std::string& account_id, hv1::Industry industry,
                      const std::string& name = "Initech", const std::string& request_id = "") {
    hv1::UpsertAccountRequest req;
    req.set_request_id(request_id.empty() ? absl::StrCat("upsert-", account_id) : request_id);
    req.mutable_account()->set_account_id(account_id);
    req.mutable_account()->set_name(name);
    req.mutable_account()->set_employee_count(40);
    req.mutable_account()->set_industry(industry);
    hv1::UpsertAccountResponse resp;
    return service_->Call(absl::StrCat(kHealthService, "UpsertAccount"), "writer", req, &resp);
  }

  grpc::Status GetAccount(const std::string& account_id, const std::string& token) {
    hv1::GetAccountRequest req;
    req.set_account_id(account_id);
    hv1::GetAccountResponse resp;
    return service_->Call(absl::StrCat(kHealthService, "GetAccount"), token, req, &resp);
  }

  // WatchEvents from the start of the log with the reader's token (from `from`, or
  // the fixture's service).
  std::unique_ptr<grpc::ClientReader<hv1::WatchEventsResponse>> Watch(
      grpc::ClientContext& context, SecuredService* from = nullptr) {
    stub_ = hv1::AccountHealthService::NewStub((from != nullptr ? from : service_.get())->channel());
    context.AddMetadata("authorization", "Bearer reader");
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hv1::WatchEventsRequest request;
    request.mutable_heartbeat_interval()->set_seconds(1);
    return stub_->WatchEvents(&context, request);
  }

  // acct-shop is created in e-commerce and streamed by `streaming`; 1.3 s later
  // (past the recheck) it moves into healthcare through the fixture's service, and
  // the stream's read of that move is recorded on the account, once.
  void ExpectTheMoveIntoHealthcareRecordedOn(SecuredService& streaming) {
    ASSERT_TRUE(Upsert("acct-shop", hv1::INDUSTRY_ECOMMERCE).ok());
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<hv1::WatchEventsResponse>> stream =
        Watch(context, &streaming);
    hv1::WatchEventsResponse item;
    auto next_of = [&](const std::string& account) {
      while (stream->Read(&item)) {
        if (item.has_event() && item.event().account_id() == account) return true;
      }
      return false;
    };
    ASSERT_TRUE(next_of("acct-shop"));
    absl::SleepFor(absl::Milliseconds(1300));
    ASSERT_TRUE(
        Upsert("acct-shop", hv1::INDUSTRY_HEALTHCARE, "Initech Pharmacy", "move-acct-shop").ok());
    ASSERT_TRUE(next_of("acct-shop"));
    EXPECT_EQ(item.event().kind(), hv1::EVENT_KIND_ACCOUNT_UPSERTED);
    context.TryCancel();

    cs::common::v1::AuditEventFilter reads = ForAccount("acct-shop");
    reads.set_method(absl::StrCat(kHealthService, "WatchEvents"));
    std::vector<AuditEvent> events = streaming.AuditOf(kHealthService, reads);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].principal(), "dashboards");
    EXPECT_EQ(events[0].access(), cs::common::v1::AUDIT_ACCESS_READ);
  }

  static cs::common::v1::AuditEventFilter ForAccount(const std::string& account_id) {
    cs::common::v1::AuditEventFilter f;
    f.set_account_id(account_id);
    return f;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<SecuredService> service_;
  std::unique_ptr<hv1::AccountHealthService::Stub> stub_;
};

TEST_F(HealthAuditTest, AWriteIsRecordedWithWhoWhatWhenAndWhere) {
  const absl::Time before = absl::Now() - absl::Seconds(1);
  ASSERT_TRUE(Upsert("acct-hc", hv1::INDUSTRY_HEALTHCARE).ok());
  // Listing the trail of an account is recorded under that account too, so the
  // filter keeps to the writer's rows.
  cs::common::v1::AuditEventFilter writes = ForAccount("acct-hc");
  writes.set_principal("crm-sync");
  std::vector<AuditEvent> events = service_->AuditOf(kHealthService, writes);
  ASSERT_EQ(events.size(), 1u);
  const AuditEvent& e = events[0];
  EXPECT_EQ(e.principal(), "crm-sync");
  EXPECT_EQ(e.method(), absl::StrCat(kHealthService, "UpsertAccount"));
  EXPECT_EQ(e.access(), cs::common::v1::AUDIT_ACCESS_WRITE);
  EXPECT_EQ(e.status_code(), "OK");
  EXPECT_EQ(e.request_id(), "upsert-acct-hc");
  EXPECT_TRUE(absl::StrContains(e.peer(), "127.0.0.1")) << e.peer();
  EXPECT_TRUE(absl::StrContains(e.client_certificate_subject(), "CN=cs-client"))
      << e.client_certificate_subject();
  EXPECT_GE(e.occurred_at().seconds(), absl::ToUnixSeconds(before));
  EXPECT_LE(e.occurred_at().seconds(), absl::ToUnixSeconds(absl::Now()) + 1);

  // A refused write is recorded too, with the status the caller got.
  EXPECT_EQ(Upsert("acct-hc", hv1::INDUSTRY_HEALTHCARE, "").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  events = service_->AuditOf(kHealthService, writes);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].status_code(), "INVALID_ARGUMENT");  // newest first
  EXPECT_GT(events[0].event_id(), events[1].event_id());
}

TEST_F(HealthAuditTest, ReadsOfRegulatedAccountsAreRecordedAndOthersAreNot) {
  ASSERT_TRUE(Upsert("acct-hc", hv1::INDUSTRY_HEALTHCARE).ok());
  ASSERT_TRUE(Upsert("acct-fin", hv1::INDUSTRY_FINANCIAL_SERVICES).ok());
  ASSERT_TRUE(Upsert("acct-shop", hv1::INDUSTRY_ECOMMERCE).ok());
  ASSERT_TRUE(GetAccount("acct-hc", "reader").ok());
  ASSERT_TRUE(GetAccount("acct-fin", "reader").ok());
  ASSERT_TRUE(GetAccount("acct-shop", "reader").ok());

  cs::common::v1::AuditEventFilter reads;
  reads.set_method(absl::StrCat(kHealthService, "GetAccount"));
  std::vector<AuditEvent> events = service_->AuditOf(kHealthService, reads);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].account_id(), "acct-fin");
  EXPECT_EQ(events[1].account_id(), "acct-hc");
  for (const AuditEvent& e : events) {
    EXPECT_EQ(e.principal(), "dashboards");
    EXPECT_EQ(e.access(), cs::common::v1::AUDIT_ACCESS_READ);
  }
  // The e-commerce account shows only its write.
  events = service_->AuditOf(kHealthService, ForAccount("acct-shop"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].access(), cs::common::v1::AUDIT_ACCESS_WRITE);

  // A list that returns regulated accounts is a read of each of them.
  hv1::ListAccountsRequest list;
  hv1::ListAccountsResponse listed;
  ASSERT_TRUE(
      service_->Call(absl::StrCat(kHealthService, "ListAccounts"), "reader", list, &listed).ok());
  ASSERT_EQ(listed.accounts_size(), 3);
  reads.set_method(absl::StrCat(kHealthService, "ListAccounts"));
  events = service_->AuditOf(kHealthService, reads);
  std::vector<std::string> accounts;
  for (const AuditEvent& e : events) accounts.push_back(e.account_id());
  std::sort(accounts.begin(), accounts.end());
  EXPECT_EQ(accounts, (std::vector<std::string>{"acct-fin", "acct-hc"}));
}

// A stream is a read of every regulated account its messages carry: one row per
// account and stream, written before the first message carrying it is sent.
TEST_F(HealthAuditTest, AStreamRecordsEachRegulatedAccountItCarriesOnce) {
  ASSERT_TRUE(Upsert("acct-hc", hv1::INDUSTRY_HEALTHCARE).ok());
  ASSERT_TRUE(Upsert("acct-fin", hv1::INDUSTRY_FINANCIAL_SERVICES).ok());
  ASSERT_TRUE(Upsert("acct-shop", hv1::INDUSTRY_ECOMMERCE).ok());
  // A second event of a regulated account in the same stream adds no row.
  hv1::UpsertAccountRequest rename;
  rename.set_request_id("rename-acct-hc");
  rename.mutable_account()->set_account_id("acct-hc");
  rename.mutable_account()->set_name("Initech Health");
  rename.mutable_account()->set_employee_count(40);
  rename.mutable_account()->set_industry(hv1::INDUSTRY_HEALTHCARE);
  hv1::UpsertAccountResponse renamed;
  ASSERT_TRUE(service_->Call(absl::StrCat(kHealthService, "UpsertAccount"), "writer", rename,
                             &renamed)
                  .ok());

  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<hv1::WatchEventsResponse>> stream = Watch(context);
  std::vector<std::string> seen;
  hv1::WatchEventsResponse item;
  while (seen.size() < 4 && stream->Read(&item)) {
    if (item.has_event()) seen.push_back(item.event().account_id());
  }
  ASSERT_EQ(seen.size(), 4u);

  cs::common::v1::AuditEventFilter reads;
  reads.set_method(absl::StrCat(kHealthService, "WatchEvents"));
  std::vector<AuditEvent> events = service_->AuditOf(kHealthService, reads);
  std::vector<std::string> accounts;
  for (const AuditEvent& e : events) {
    accounts.push_back(e.account_id());
    EXPECT_EQ(e.principal(), "dashboards");
    EXPECT_EQ(e.access(), cs::common::v1::AUDIT_ACCESS_READ);
    EXPECT_EQ(e.status_code(), "OK");
  }
  std::sort(accounts.begin(), accounts.end());
  EXPECT_EQ(accounts, (std::vector<std::string>{"acct-fin", "acct-hc"}));
  context.TryCancel();
}

// An account outside the regulated industries when a stream first carries it, and
// in one later: the stream asks again once --audit_stream_recheck (1 s here) has
// passed, and records the account's read from then on.
TEST_F(HealthAuditTest, AnAccountThatBecomesRegulatedMidStreamIsRecordedAfterTheRecheck) {
  ExpectTheMoveIntoHealthcareRecordedOn(*service_);
}

// The same move written through one replica and streamed by another, whose tail has
// not read the write yet (it steps every 900 ms here, and the stream looks every
// 100 ms): the event drops the account's flag on the streaming replica, so the read
// that carries the event is recorded.
TEST_F(HealthAuditTest, AnIndustryChangeStreamedByAnotherReplicaIsRecordedWithItsEvent) {
  SecuredService replica("health", CS_HEALTH_SERVER, db_->uri(), 1,
                         {"--health_view_cache_tail=900ms"});
  ASSERT_TRUE(replica.Ready()) << replica.Log();
  ExpectTheMoveIntoHealthcareRecordedOn(replica);
}

// A read of a regulated account whose row cannot be written is not served: a unary
// call gets UNAVAILABLE, and a stream is cancelled before the message is sent.
TEST_F(HealthAuditTest, AReadThatCannotBeRecordedIsNotServed) {
  ASSERT_TRUE(Upsert("acct-hc", hv1::INDUSTRY_HEALTHCARE).ok());
  ASSERT_TRUE(Upsert("acct-shop", hv1::INDUSTRY_ECOMMERCE).ok());
  db::Pool pool(db_->config());
  auto execute = [&pool](const std::string& sql) {
    ASSERT_TRUE(pool.Run([&](db::Connection& c) -> absl::Status {
                      c.Execute(sql);
                      return absl::OkStatus();
                    })
                    .ok());
  };
  execute("RENAME TABLE audit_events TO audit_events_away");

  EXPECT_EQ(GetAccount("acct-hc", "reader").error_code(), grpc::StatusCode::UNAVAILABLE);
  // An account outside the regulated industries needs no row.
  EXPECT_TRUE(GetAccount("acct-shop", "reader").ok());

  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<hv1::WatchEventsResponse>> stream = Watch(context);
  hv1::WatchEventsResponse item;
  std::vector<std::string> seen;
  while (stream->Read(&item)) {
    if (item.has_event()) seen.push_back(item.event().account_id());
  }
  const grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::CANCELLED) << ended.error_message();
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "acct-hc"), 0);

  execute("RENAME TABLE audit_events_away TO audit_events");
  EXPECT_GE(SeriesValue(service_->Metrics(), "cs_audit_write_failures_total"), 2);
}

TEST_F(HealthAuditTest, OnlyAdministratorsReadTheTrailAndItPages) {
  hv1::ListAuditEventsRequest request;
  hv1::ListAuditEventsResponse response;
  EXPECT_EQ(service_->ListAudit(kHealthService, "reader", request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(service_->ListAudit(kHealthService, "writer", request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(service_->ListAudit(kHealthService, "", request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Upsert(absl::StrCat("acct-", i), hv1::INDUSTRY_SAAS).ok());
  cs::common::v1::AuditEventFilter writes;
  writes.set_principal("crm-sync");
  *request.mutable_filter() = writes;
  request.mutable_page()->set_page_size(2);
  ASSERT_TRUE(service_->ListAudit(kHealthService, "admin", request, &response).ok());
  ASSERT_EQ(response.events_size(), 2);
  EXPECT_EQ(response.events(0).account_id(), "acct-2");
  EXPECT_EQ(response.events(1).account_id(), "acct-1");
  ASSERT_FALSE(response.page().next_page_token().empty());
  request.mutable_page()->set_page_token(response.page().next_page_token());
  hv1::ListAuditEventsResponse second;
  ASSERT_TRUE(service_->ListAudit(kHealthService, "admin", request, &second).ok());
  ASSERT_EQ(second.events_size(), 1);
  EXPECT_EQ(second.events(0).account_id(), "acct-0");
  EXPECT_TRUE(second.page().next_page_token().empty());

  // Reading the trail is itself recorded.
  cs::common::v1::AuditEventFilter by_admin;
  by_admin.set_principal("ops");
  by_admin.set_method(absl::StrCat(kHealthService, "ListAuditEvents"));
  EXPECT_GE(service_->AuditOf(kHealthService, by_admin).size(), 2u);

  // A time window that ended before the writes finds nothing.
  cs::common::v1::AuditEventFilter old;
  old.mutable_until()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(1)));
  EXPECT_TRUE(service_->AuditOf(kHealthService, old).empty());
}

TEST_F(HealthAuditTest, PagesOverTheMaximumAreRefusedNamingTheField) {
  hv1::ListAuditEventsRequest request;
  request.mutable_page()->set_page_size(1001);
  hv1::ListAuditEventsResponse response;
  grpc::Status s = service_->ListAudit(kHealthService, "admin", request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "page.page_size")) << s.error_message();
  hv1::ListAccountsRequest list;
  list.mutable_page()->set_page_size(1001);
  hv1::ListAccountsResponse listed;
  s = service_->Call(absl::StrCat(kHealthService, "ListAccounts"), "reader", list, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  list.mutable_page()->set_page_size(1000);
  EXPECT_TRUE(
      service_->Call(absl::StrCat(kHealthService, "ListAccounts"), "reader", list, &listed).ok());
}

TEST_F(HealthAuditTest, AnOversizedRequestIsRefusedAndNothingIsWritten) {
  const std::string huge(100 * 1024, 'x');
  grpc::Status s = Upsert("acct-huge", hv1::INDUSTRY_SAAS, huge);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(GetAccount("acct-huge", "reader").error_code(), grpc::StatusCode::NOT_FOUND);
  // Just under the limit is fine.
  EXPECT_TRUE(Upsert("acct-big", hv1::INDUSTRY_SAAS, std::string(200, 'y')).ok());
}

TEST_F(HealthAuditTest, APrincipalOverItsRateIsRefusedWhileOthersAreServed) {
  ASSERT_TRUE(Upsert("acct-1", hv1::INDUSTRY_SAAS).ok());
  // rate=0.5/3: three calls at once, then one every two seconds.
  int served = 0;
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    const grpc::Status s = GetAccount("acct-1", "limited");
    if (s.ok()) {
      ++served;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      ++refused;
    }
    // Another principal is untouched by the first one's flood.
    EXPECT_TRUE(GetAccount("acct-1", "reader").ok());
  }
  EXPECT_EQ(served, 3);
  EXPECT_EQ(refused, 3);
  const std::string metrics = service_->Metrics();
  EXPECT_EQ(SeriesValue(metrics, "cs_rate_limited_total{principal=\"batch-job\"}"), 3) << metrics;
  EXPECT_EQ(SeriesValue(metrics, "cs_rate_limited_total{principal=\"dashboards\"}"), -1);
}

// Every service keeps its own trail and lets only its administrators read it.
struct Binary {
  std::string name;
  std::string path;
  std::string service_path;  // "/cs.<svc>.v1.<Service>/"
  std::string write_method;  // a write that names an account
};

void PrintTo(const Binary& b, std::ostream* os) { *os << b.name; }

class EveryServiceAuditTest : public ::testing::TestWithParam<Binary> {};

TEST_P(EveryServiceAuditTest, WritesAreRecordedInTheServicesOwnSchema) {
  std::unique_ptr<TestDatabase> db;
  CS_TEST_DATABASE_OR_SKIP(db, "audit");
  SecuredService service(GetParam().name, GetParam().path, db->uri());
  ASSERT_TRUE(service.Ready()) << service.Log();
  // Whatever the write answers (an incomplete request is refused), it is recorded.
  // Field 1 of each of these write requests is its request_id, a string like
  // GetAccountRequest's field 1, so one message serves all three.
  hv1::GetAccountRequest names_an_account;
  names_an_account.set_account_id("req-audited");
  const grpc::Status written = service.Call(GetParam().service_path + GetParam().write_method,
                                            "writer", names_an_account, nullptr);
  EXPECT_NE(written.error_code(), grpc::StatusCode::PERMISSION_DENIED) << written.error_message();
  cs::common::v1::AuditEventFilter filter;
  filter.set_method(GetParam().service_path + GetParam().write_method);
  std::vector<AuditEvent> events = service.AuditOf(GetParam().service_path, filter);
  ASSERT_EQ(events.size(), 1u) << service.Log();
  EXPECT_EQ(events[0].principal(), "crm-sync");
  EXPECT_EQ(events[0].access(), cs::common::v1::AUDIT_ACCESS_WRITE);
  EXPECT_EQ(events[0].request_id(), "req-audited");
  EXPECT_TRUE(absl::StrContains(events[0].client_certificate_subject(), "cs-client"));
  EXPECT_EQ(events[0].status_code(),
            absl::StatusCodeToString(static_cast<absl::StatusCode>(written.error_code())));

  hv1::ListAuditEventsRequest request;
  hv1::ListAuditEventsResponse response;
  EXPECT_EQ(service.ListAudit(GetParam().service_path, "reader", request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(service.ListAudit(GetParam().service_path, "writer", request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

INSTANTIATE_TEST_SUITE_P(
    Services, EveryServiceAuditTest,
    ::testing::Values(
        Binary{"health", CS_HEALTH_SERVER, kHealthService, "MarkChurned"},
        Binary{"playbooks", CS_PLAYBOOKS_SERVER, "/cs.playbooks.v1.PlaybookService/", "CancelRun"},
        Binary{"expansion", CS_EXPANSION_SERVER, "/cs.expansion.v1.ExpansionService/",
               "RecordRevenueMovement"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace cs::testing
