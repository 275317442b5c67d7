#include "common/server/audit.h"

#include <grpcpp/server_context.h>

#include <algorithm>
#include <map>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/server/auth.h"
#include "common/server/common_mapping.h"
#include "common/server/grpc_status.h"
#include "common/server/metrics.h"
#include "common/server/proto_util.h"

namespace cs {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using grpc::experimental::InterceptionHookPoints;

constexpr int kMaxDepth = 4;
// A response listing more accounts than this is checked for the first ones only;
// no page of the suite comes near it.
constexpr size_t kMaxAccounts = 10000;

// A field the walk reads: a string that may name an id, or a message field whose
// type holds such a string at some depth.
bool NamesId(const FieldDescriptor* f) {
  const std::string& name = f->name();
  if (f->is_repeated()) return name == "account_ids";
  return name == "account_id" || name == "request_id" ||
         (absl::EndsWith(name, "_id") && name != "owner_id");
}

// Per message type, the fields the walk can find anything in, by field number (the
// order ListFields gives): a response's trend points and score components, say, are
// never descended into. Types are few and fixed, so the cache only grows to them.
class FieldPlans {
 public:
  const std::vector<const FieldDescriptor*>& For(const google::protobuf::Descriptor* d) {
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      auto it = plans_.find(d);
      if (it != plans_.end()) return it->second;
    }
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = plans_.find(d);
    if (it != plans_.end()) return it->second;
    std::vector<const FieldDescriptor*> fields;
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->type() == FieldDescriptor::TYPE_STRING) {
        if (NamesId(f)) fields.push_back(f);
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map()) {
        std::set<const google::protobuf::Descriptor*> visiting;
        if (MayHoldIds(f->message_type(), visiting)) fields.push_back(f);
      }
    }
    std::sort(fields.begin(), fields.end(),
              [](const FieldDescriptor* a, const FieldDescriptor* b) {
                return a->number() < b->number();
              });
    return plans_.emplace(d, std::move(fields)).first->second;
  }

 private:
  static bool MayHoldIds(const google::protobuf::Descriptor* d,
                         std::set<const google::protobuf::Descriptor*>& visiting) {
    if (!visiting.insert(d).second) return false;  // a cycle adds nothing new
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->type() == FieldDescriptor::TYPE_STRING && NamesId(f)) return true;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map() &&
          MayHoldIds(f->message_type(), visiting)) {
        return true;
      }
    }
    return false;
  }

  std::shared_mutex mu_;
  std::unordered_map<const google::protobuf::Descriptor*, std::vector<const FieldDescriptor*>>
      plans_;
};

FieldPlans& Plans() {
  static FieldPlans* plans = new FieldPlans();
  return *plans;
}

// `plan`: Plans().For(m's type), when the caller has it (the elements of a repeated
// field share one).
void Collect(const Message& m, int depth, MessageIds* ids, int* resource_depth,
             const std::vector<const FieldDescriptor*>* plan = nullptr) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (plan == nullptr) plan = &Plans().For(m.GetDescriptor());
  for (const FieldDescriptor* f : *plan) {
    if (f->is_repeated() ? r->FieldSize(m, f) == 0 : !r->HasField(m, f)) continue;
    const std::string& name = f->name();
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      // By reference, copied only when kept: a batch of 500 signals names a handful
      // of accounts, and its event ids are never kept.
      std::string scratch;
      auto keep_account = [&](const std::string& id) {
        if (ids->accounts.size() < kMaxAccounts && ids->accounts.count(id) == 0) {
          ids->accounts.insert(id);
        }
      };
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f) && ids->accounts.size() < kMaxAccounts; ++i) {
          keep_account(r->GetRepeatedStringReference(m, f, i, &scratch));
        }
        continue;
      }
      const std::string& value = r->GetStringReference(m, f, &scratch);
      if (value.empty()) continue;
      if (name == "account_id") {
        keep_account(value);
      } else if (name == "request_id") {
        if (depth == 0) ids->request_id = value;
      } else if (depth < *resource_depth) {
        ids->resource_type = name;
        ids->resource_id = value;
        *resource_depth = depth;
      }
    } else if (depth < kMaxDepth) {
      if (f->is_repeated()) {
        const std::vector<const FieldDescriptor*>& elements = Plans().For(f->message_type());
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          Collect(r->GetRepeatedMessage(m, f, i), depth + 1, ids, resource_depth, &elements);
        }
      } else {
        Collect(r->GetMessage(m, f), depth + 1, ids, resource_depth);
      }
    }
  }
}

bool IsWrite(const std::string& method) {
  return !absl::EndsWith(RequiredScope(method, /*exempt_reflection=*/false), ".read");
}

class AuditInterceptor : public grpc::experimental::Interceptor {
 public:
  AuditInterceptor(grpc::experimental::ServerRpcInfo* info, AuditInterceptorFactory* factory)
      : info_(info), factory_(factory),
        unary_(info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY),
        write_(IsWrite(info->method())) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      principal_ = factory_->TakePrincipal(methods);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // The suite's services are all generated proto services, so the message is one.
      if (const void* m = methods->GetRecvMessage(); m != nullptr) {
        CollectIds(*static_cast<const Message*>(m), &request_);
      }
    }
    // Lists are reads too: the regulated accounts a unary answer carries count as read.
    if (!write_ && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      if (const void* m = methods->GetSendMessage(); m != nullptr) {
        if (unary_) {
          CollectIds(*static_cast<const Message*>(m), &response_);
        } else {
          RecordStreamedMessage(*static_cast<const Message*>(m));
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      grpc::Status out =
          factory_->Record(info_, write_, principal_, request_, response_, status);
      if (out.error_code() != status.error_code()) methods->ModifySendStatus(out);
    }
    methods->Proceed();
  }

 private:
  // A stream may run for hours: each regulated account a message carries (beyond
  // those the request names, recorded with the final status) is recorded once per
  // stream, before the first message carrying it is sent. An account found outside
  // the regulated industries is asked about again after the factory's
  // stream_recheck, so one that becomes regulated while the stream runs is recorded
  // from then on. When a row cannot be written the stream is cancelled rather than
  // sent unrecorded.
  void RecordStreamedMessage(const Message& m) {
    MessageIds ids;
    CollectIds(m, &ids);
    const absl::Time now = factory_->Now();
    std::vector<std::string> fresh;
    for (const std::string& a : ids.accounts) {
      if (request_.accounts.count(a) || recorded_.count(a)) continue;
      auto cleared = cleared_.find(a);
      if (cleared != cleared_.end() && now - cleared->second < factory_->stream_recheck()) {
        continue;
      }
      fresh.push_back(a);
    }
    if (fresh.empty()) return;
    std::optional<std::vector<std::string>> regulated =
        factory_->RecordStreamed(info_, principal_, request_, fresh);
    if (!regulated.has_value()) {
      info_->server_context()->TryCancel();
      return;
    }
    // Bounded: past the limit the sets start again, and an account is checked anew.
    if (recorded_.size() + cleared_.size() + fresh.size() > kMaxAccounts) {
      recorded_.clear();
      cleared_.clear();
    }
    recorded_.insert(regulated->begin(), regulated->end());
    for (const std::string& a : fresh) {
      if (!recorded_.count(a)) cleared_[a] = now;
    }
  }

  grpc::experimental::ServerRpcInfo* info_;
  AuditInterceptorFactory* factory_;
  const bool unary_;
  const bool write_;
  std::string principal_ = "anonymous";
  MessageIds request_;
  MessageIds response_;
  std::set<std::string> recorded_;                // regulated: recorded once per stream
  std::map<std::string, absl::Time> cleared_;     // not regulated when last asked
};

// grpc.health.v1 (served from raw bytes, not messages) and reflection are not part
// of the trail; only the token is stripped.
class PassInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit PassInterceptor(AuditInterceptorFactory* factory) : factory_(factory) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      factory_->TakePrincipal(methods);
    }
    methods->Proceed();
  }

 private:
  AuditInterceptorFactory* factory_;
};

}  // namespace

void CollectIds(const google::protobuf::Message& message, MessageIds* ids) {
  int resource_depth = ids->resource_type.empty() ? kMaxDepth + 1 : -1;
  Collect(message, 0, ids, &resource_depth);
}

AuditInterceptorFactory::AuditInterceptorFactory(db::AuditLog* log, RegulatedAccountsFn regulated,
                                                 PrincipalFn principal_of, const Clock* clock,
                                                 prometheus::Registry& registry,
                                                 absl::Duration stream_recheck)
    : log_(log), regulated_(std::move(regulated)), principal_of_(std::move(principal_of)),
      clock_(clock), stream_recheck_(stream_recheck) {
  failures_ = &prometheus::BuildCounter()
                   .Name("cs_audit_write_failures_total")
                   .Help("Calls whose audit row could not be written (the caller got UNAVAILABLE).")
                   .Register(registry)
                   .Add({});
}

grpc::experimental::Interceptor* AuditInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  if (log_ == nullptr || !absl::StartsWith(info->method(), "/cs.")) {
    return new PassInterceptor(this);
  }
  return new AuditInterceptor(info, this);
}

std::string AuditInterceptorFactory::TakePrincipal(
    grpc::experimental::InterceptorBatchMethods* methods) {
  if (principal_of_ == nullptr) return "anonymous";
  std::multimap<grpc::string_ref, grpc::string_ref>* md = methods->GetRecvInitialMetadata();
  std::string principal = "unknown";
  auto range = md->equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) {
    std::optional<std::string> p =
        principal_of_(absl::string_view(it->second.data(), it->second.size()));
    if (p.has_value()) principal = *std::move(p);
  }
  md->erase(range.first, range.second);
  return principal;
}

// The regulated ones of `accounts` read by `method`; every account when that is
// unknown (rather than risk missing one: the write that follows most likely fails
// the same way and says so).
std::vector<std::string> AuditInterceptorFactory::RegulatedOf(const std::string& method,
                                                              std::vector<std::string> accounts) {
  if (regulated_ == nullptr || accounts.empty()) return {};
  absl::StatusOr<std::set<std::string>> regulated = regulated_(accounts);
  if (regulated.ok()) return {regulated->begin(), regulated->end()};
  log::Warn("audit: regulated accounts unknown; recording every account read",
            {{"method", method}, {"error", std::string(regulated.status().message())}});
  return accounts;
}

absl::Status AuditInterceptorFactory::Append(grpc::experimental::ServerRpcInfo* info, bool write,
                                             const std::string& principal,
                                             const MessageIds& request,
                                             std::vector<std::string> accounts,
                                             grpc::StatusCode code) {
  grpc::ServerContextBase* context = info->server_context();
  db::AuditRecord base;
  base.occurred_at = clock_->Now();
  base.method = info->method();
  base.access = write ? db::AuditAccess::kWrite : db::AuditAccess::kRead;
  base.resource_type = request.resource_type;
  base.resource_id = request.resource_id;
  base.status_code = static_cast<int>(code);
  base.request_id = request.request_id.empty() ? RequestIdOf(*context) : request.request_id;
  base.peer = context->peer();
  base.principal = principal;
  // The connection's certificate: the same for every call on it, so the shared
  // AuthContext is right here.
  const std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth != nullptr) {
    std::vector<grpc::string_ref> subject = auth->FindPropertyValues("x509_subject");
    if (!subject.empty()) base.client_subject.assign(subject.front().data(), subject.front().size());
  }
  std::vector<db::AuditRecord> rows;
  rows.reserve(accounts.size());
  for (std::string& account : accounts) {
    rows.push_back(base);
    rows.back().account_id = std::move(account);
  }
  const absl::Status written = log_->Append(rows);
  if (written.ok()) return written;
  failures_->Increment();
  log::Error("audit: event not recorded",
             {{"method", base.method},
              {"principal", base.principal},
              {"request_id", base.request_id},
              {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(base.status_code))},
              {"error", std::string(written.message())}});
  return written;
}

grpc::Status AuditInterceptorFactory::Record(grpc::experimental::ServerRpcInfo* info,
                                             bool write, const std::string& principal,
                                             const MessageIds& request,
                                             const MessageIds& response,
                                             const grpc::Status& status) {
  std::vector<std::string> accounts(request.accounts.begin(), request.accounts.end());
  if (!write) {
    for (const std::string& a : response.accounts) {
      if (!request.accounts.count(a)) accounts.push_back(a);
    }
    accounts = RegulatedOf(info->method(), std::move(accounts));
    if (accounts.empty()) return status;
  } else if (accounts.empty()) {
    accounts.push_back("");
  }
  if (Append(info, write, principal, request, std::move(accounts), status.error_code()).ok()) {
    return status;
  }
  if (!status.ok()) return status;
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the audit trail cannot be written; retry with the same request_id");
}

std::optional<std::vector<std::string>> AuditInterceptorFactory::RecordStreamed(
    grpc::experimental::ServerRpcInfo* info, const std::string& principal,
    const MessageIds& request, std::vector<std::string> accounts) {
  accounts = RegulatedOf(info->method(), std::move(accounts));
  if (accounts.empty()) return accounts;
  if (!Append(info, /*write=*/false, principal, request, accounts, grpc::StatusCode::OK).ok()) {
    return std::nullopt;
  }
  return accounts;
}

grpc::Status ServeListAuditEvents(
    db::AuditLog* log, const cs::common::v1::AuditEventFilter& filter,
    const cs::common::v1::PageRequest& page,
    google::protobuf::RepeatedPtrField<cs::common::v1::AuditEvent>* events,
    cs::common::v1::PageResponse* next) {
  db::AuditQuery q;
  absl::StatusOr<int> size = PageSize(page);
  if (!size.ok()) return ToGrpcStatus(size.status());
  q.page_size = *size;
  if (!page.page_token().empty()) {
    absl::StatusOr<std::string> position = DecodePageToken(page.page_token());
    if (!position.ok()) return ToGrpcStatus(position.status());
    if (!absl::SimpleAtoi(*position, &q.before_event_id) || q.before_event_id <= 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page.page_token: not a token of ListAuditEvents");
    }
  }
  q.principal = filter.principal();
  q.account_id = filter.account_id();
  q.resource_id = filter.resource_id();
  q.method = filter.method();
  if (filter.has_since()) q.since = FromTimestamp(filter.since());
  if (filter.has_until()) q.until = FromTimestamp(filter.until());
  if (q.since && q.until && *q.until <= *q.since) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "filter.until: must be after filter.since");
  }
  if (log == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the audit trail is not configured");
  }
  absl::StatusOr<db::AuditPage> got = log->List(q);
  if (!got.ok()) return ToGrpcStatus(got.status());
  for (const db::AuditRecord& a : got->events) {
    cs::common::v1::AuditEvent* e = events->Add();
    e->set_event_id(a.event_id);
    ToTimestamp(a.occurred_at, e->mutable_occurred_at());
    e->set_principal(a.principal);
    e->set_method(a.method);
    e->set_access(a.access == db::AuditAccess::kWrite ? cs::common::v1::AUDIT_ACCESS_WRITE
                                                      : cs::common::v1::AUDIT_ACCESS_READ);
    e->set_account_id(a.account_id);
    e->set_resource_type(a.resource_type);
    e->set_resource_id(a.resource_id);
    e->set_status_code(absl::StatusCodeToString(static_cast<absl::StatusCode>(a.status_code)));
    e->set_request_id(a.request_id);
    e->set_peer(a.peer);
    e->set_client_certificate_subject(a.client_subject);
  }
  if (got->next_before_event_id > 0) {
    next->set_next_page_token(EncodePageToken(absl::StrCat(got->next_before_event_id)));
  }
  return grpc::Status::OK;
}

}  // namespace cs
