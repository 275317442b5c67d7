#ifndef CS_COMMON_SERVER_AUDIT_H_
#define CS_COMMON_SERVER_AUDIT_H_

// The audit trail of every service, recorded by one server interceptor:
//  - every write RPC (the scope auth.cc derives is <svc>.write or <svc>.admin, so
//    overrides, configuration and ListAuditEvents itself are in), one row per
//    account the request names (a batch of signals for three accounts: three rows),
//    one row when it names none;
//  - every read RPC that touches an account in a regulated industry: the accounts
//    named by the request, and those in the response too (a list), checked with
//    the service's RegulatedAccountsFn; one row per regulated account. A streamed
//    answer (WatchEvents, WatchTasks) records each regulated account its messages
//    carry once per stream, with status OK, before the first message carrying it
//    is sent; when that row cannot be written the stream is cancelled instead.
// A row says who (principal, "anonymous" without authentication), what (method,
// account, the request's other id, the status code, request_id), when, and from where
// (peer address, client certificate subject under mutual TLS). It is written
// synchronously before the status leaves the server. When it cannot be written the
// call's OK becomes UNAVAILABLE (a write replays its stored answer when retried with
// the same request_id, and that retry is audited), the failure is logged and
// cs_audit_write_failures_total counts it.

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/db/audit_log.h"
#include "cs/common/v1/audit.pb.h"
#include "cs/common/v1/common.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace cs {

// Which of the given account ids are in a regulated industry. Null: the service does
// not know industries, and only writes are audited.
using RegulatedAccountsFn =
    std::function<absl::StatusOr<std::set<std::string>>(const std::vector<std::string>&)>;

// What a request or response message names, found by descriptor reflection: every
// account_id (and account_ids) field at any depth up to 4, and the shallowest other
// *_id field (not request_id or owner_id) as the resource.
struct MessageIds {
  std::set<std::string> accounts;
  std::string resource_type;
  std::string resource_id;
  std::string request_id;
};
void CollectIds(const google::protobuf::Message& message, MessageIds* ids);

// The principal of an "authorization" header (TokenAuthenticator::PrincipalOf).
using PrincipalFn = std::function<std::optional<std::string>(absl::string_view)>;

// With authentication on it also turns the call's token into its principal and
// strips the header, so handlers and logs never see the token.
class AuditInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `log` may be null (no database: nothing is recorded); `principal_of` is null
  // without authentication.
  // `stream_recheck`: how long a stream trusts that an account it carried is not
  // regulated before asking again.
  AuditInterceptorFactory(db::AuditLog* log, RegulatedAccountsFn regulated,
                          PrincipalFn principal_of, const Clock* clock,
                          prometheus::Registry& registry,
                          absl::Duration stream_recheck = absl::Seconds(60));
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // Records one finished call (`write`: the method is not a read); returns what the
  // caller should get.
  grpc::Status Record(grpc::experimental::ServerRpcInfo* info, bool write,
                      const std::string& principal,
                      const MessageIds& request, const MessageIds& response,
                      const grpc::Status& status);
  // Records the regulated ones of `accounts` as read (status OK) by a stream that is
  // about to send a message carrying them and returns them; nullopt when that could
  // not be written.
  std::optional<std::vector<std::string>> RecordStreamed(
      grpc::experimental::ServerRpcInfo* info, const std::string& principal,
      const MessageIds& request, std::vector<std::string> accounts);
  absl::Time Now() const { return clock_->Now(); }
  absl::Duration stream_recheck() const { return stream_recheck_; }
  // Reads and removes the "authorization" header; the principal ("anonymous" without
  // authentication, "unknown" for a token that vanished in a rotation meanwhile).
  std::string TakePrincipal(grpc::experimental::InterceptorBatchMethods* methods);

 private:
  std::vector<std::string> RegulatedOf(const std::string& method,
                                       std::vector<std::string> accounts);
  absl::Status Append(grpc::experimental::ServerRpcInfo* info, bool write,
                      const std::string& principal, const MessageIds& request,
                      std::vector<std::string> accounts, grpc::StatusCode code);

  db::AuditLog* log_;
  RegulatedAccountsFn regulated_;
  PrincipalFn principal_of_;
  const Clock* clock_;
  const absl::Duration stream_recheck_;
  prometheus::Counter* failures_;
};

// ListAuditEvents of every service: validates the filter and page (INVALID_ARGUMENT
// naming the field; at most 1000 a page, like every list of the suite) and reads a
// page, newest first.
grpc::Status ServeListAuditEvents(
    db::AuditLog* log, const cs::common::v1::AuditEventFilter& filter,
    const cs::common::v1::PageRequest& page,
    google::protobuf::RepeatedPtrField<cs::common::v1::AuditEvent>* events,
    cs::common::v1::PageResponse* next);

}  // namespace cs

#endif  // CS_COMMON_SERVER_AUDIT_H_
