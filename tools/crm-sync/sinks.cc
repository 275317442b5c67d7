#include "tools/crm-sync/sinks.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/hash.h"
#include "google/protobuf/util/message_differencer.h"
#include "tools/crm-sync/parse.h"

namespace cs::crm_sync {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;
using HealthStub = HealthClient::Stub;
using ExpansionStub = ExpansionClient::Stub;

bool IsRowLevel(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAborted: return true;
    default: return false;
  }
}

namespace {

// "events[3].event: no mapping" -> "event: no mapping": the position in the batch
// means nothing to someone reading line numbers of their file.
std::string WithoutBatchIndex(const std::string& reason) {
  const size_t open = reason.find('[');
  const size_t close = reason.find("].");
  if (open == std::string::npos || close == std::string::npos || close < open ||
      reason.find_first_not_of("0123456789", open + 1) != close) {
    return reason;
  }
  return reason.substr(close + 2);
}


// Rows' outcomes from their items' outcomes: failed if any failed, imported if any
// went in, else skipped (everything was there already).
class Outcomes {
 public:
  explicit Outcomes(size_t rows) : out_(rows, RowOutcome{RowOutcome::kSkipped, ""}) {}
  void Item(size_t row, RowOutcome::Kind kind, const std::string& reason = "") {
    RowOutcome& o = out_[row];
    if (o.kind == RowOutcome::kFailed) return;
    if (kind == RowOutcome::kFailed) {
      o = RowOutcome{RowOutcome::kFailed, reason};
    } else if (kind == RowOutcome::kImported) {
      o.kind = RowOutcome::kImported;
    }
  }
  std::vector<RowOutcome> Take() { return std::move(out_); }

 private:
  std::vector<RowOutcome> out_;
};

// ---------------------------------------------------------------------------
// Accounts: read, merge, compare, upsert only when something changed.

class AccountSink : public Sink {
 public:
  AccountSink(HealthClient* health, int parallel) : health_(health), parallel_(std::max(1, parallel)) {}

  // Upserts run on `parallel_` threads, since each is a read and a transaction on the
  // server and the calls would otherwise wait on each other. Rows of one account go
  // to the same thread, in file order, so the last row of an account wins as it
  // would in a sequential run.
  absl::Status Flush(const std::vector<PendingRow>& rows, std::vector<RowOutcome>* outcomes) override {
    Outcomes result(rows.size());
    std::vector<std::vector<size_t>> lanes(static_cast<size_t>(parallel_));
    for (size_t r = 0; r < rows.size(); ++r) {
      const std::string& id = std::get<AccountItem>(rows[r].items.front()).account.account_id();
      lanes[Fingerprint64(id) % lanes.size()].push_back(r);
    }
    std::mutex mu;
    absl::Status stop;
    auto run_lane = [&](const std::vector<size_t>& lane) {
      for (size_t r : lane) {
        for (const Item& item : rows[r].items) {
          absl::StatusOr<RowOutcome::Kind> kind = Upsert(std::get<AccountItem>(item));
          std::lock_guard<std::mutex> lock(mu);
          if (!kind.ok() && !IsRowLevel(kind.status())) {
            if (stop.ok()) stop = kind.status();
            return;
          }
          if (!kind.ok()) {
            result.Item(r, RowOutcome::kFailed, std::string(kind.status().message()));
          } else {
            result.Item(r, *kind);
          }
        }
      }
    };
    std::vector<std::thread> threads;
    for (size_t i = 1; i < lanes.size(); ++i) threads.emplace_back(run_lane, std::cref(lanes[i]));
    run_lane(lanes[0]);
    for (std::thread& t : threads) t.join();
    if (!stop.ok()) return stop;
    *outcomes = result.Take();
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<RowOutcome::Kind> Upsert(const AccountItem& item) {
    hv1::GetAccountRequest get;
    get.set_account_id(item.account.account_id());
    absl::StatusOr<hv1::GetAccountResponse> existing = health_->Call(&HealthStub::GetAccount, get);
    if (!existing.ok() && existing.status().code() != absl::StatusCode::kNotFound) {
      // An id the service refuses is the row's problem.
      return existing.status();
    }
    hv1::Account account = item.account;
    if (existing.ok()) {
      // What the row does not give keeps its stored value; an import never undoes
      // a lifecycle, contract date or tier someone set in the suite.
      hv1::Account merged = existing->account();
      merged.clear_created_at();
      merged.clear_updated_at();
      merged.clear_etag();
      merged.clear_churned_on();
      merged.clear_churn_reason();
      hv1::Account stored = merged;
      const hv1::Account& a = item.account;
      for (const std::string& f : item.fields) {
        if (f == "name") merged.set_name(a.name());
        if (f == "employee_count") merged.set_employee_count(a.employee_count());
        if (f == "industry") merged.set_industry(a.industry());
        if (f == "owner_id") merged.set_owner_id(a.owner_id());
        if (f == "arr") *merged.mutable_arr() = a.arr();
        if (f == "tier") merged.set_tier(a.tier());
        if (f == "lifecycle") merged.set_lifecycle(a.lifecycle());
        if (f == "contract_start") *merged.mutable_contract_start() = a.contract_start();
        if (f == "renewal_date") *merged.mutable_renewal_date() = a.renewal_date();
      }
      if (google::protobuf::util::MessageDifferencer::Equals(merged, stored)) {
        return RowOutcome::kSkipped;
      }
      // A new head count re-derives the tier, unless the row names one.
      if (!item.fields.count("tier") && merged.employee_count() != stored.employee_count()) {
        merged.set_tier(hv1::TIER_UNSPECIFIED);
      }
      account = std::move(merged);
    }
    hv1::UpsertAccountRequest request;
    *request.mutable_account() = account;
    std::string bytes;
    request.SerializePartialToString(&bytes);
    // The same content gives the same id: a retry (or a re-run whose check raced
    // with another writer) is answered from the first write.
    request.set_request_id(absl::StrCat("crm-sync:", Fingerprint64Hex(bytes)));
    absl::StatusOr<hv1::UpsertAccountResponse> response =
        health_->Call(&HealthStub::UpsertAccount, request);
    if (!response.ok()) return response.status();
    return RowOutcome::kImported;
  }

  HealthClient* health_;
  int parallel_;
};

// ---------------------------------------------------------------------------
// Signals and track events: one batch call, one acknowledgement per record.

template <typename Message, typename Request, typename Response>
class BatchSink : public Sink {
 public:
  using Method = grpc::Status (HealthStub::*)(grpc::ClientContext*, const Request&, Response*);
  using Items = google::protobuf::RepeatedPtrField<Message>* (*)(Request&);
  BatchSink(HealthClient* health, Method method, Items items)
      : health_(health), method_(method), items_(items) {}

  absl::Status Flush(const std::vector<PendingRow>& rows, std::vector<RowOutcome>* outcomes) override {
    Request request;
    // Event ids make a re-sent record a duplicate, so the batch needs no request id
    // (and an acknowledgement then says what this run did).
    request.set_atomic(false);
    std::vector<size_t> row_of;
    for (size_t r = 0; r < rows.size(); ++r) {
      for (const Item& item : rows[r].items) {
        *items_(request)->Add() = std::get<Message>(item);
        row_of.push_back(r);
      }
    }
    Outcomes result(rows.size());
    absl::StatusOr<Response> response = health_->Call(method_, request);
    if (!response.ok()) {
      if (!IsRowLevel(response.status())) return response.status();
      // A refused batch (should not happen with atomic off): every row fails with it.
      for (size_t r = 0; r < rows.size(); ++r) {
        result.Item(r, RowOutcome::kFailed, std::string(response.status().message()));
      }
      *outcomes = result.Take();
      return absl::OkStatus();
    }
    for (const hv1::RecordAck& ack : response->acks()) {
      if (ack.index() < 0 || static_cast<size_t>(ack.index()) >= row_of.size()) continue;
      const size_t r = row_of[ack.index()];
      switch (ack.outcome()) {
        case hv1::RECORD_OUTCOME_ACCEPTED: result.Item(r, RowOutcome::kImported); break;
        case hv1::RECORD_OUTCOME_DUPLICATE: result.Item(r, RowOutcome::kSkipped); break;
        default: result.Item(r, RowOutcome::kFailed, WithoutBatchIndex(ack.reason())); break;
      }
    }
    *outcomes = result.Take();
    return absl::OkStatus();
  }

 private:
  HealthClient* health_;
  Method method_;
  Items items_;
};

// ---------------------------------------------------------------------------
// Opportunities: created once per CRM id, then moved to the CRM's stage.

int StageRank(ev1::Stage s) {
  switch (s) {
    case ev1::STAGE_IDENTIFIED: return 1;
    case ev1::STAGE_QUALIFIED: return 2;
    case ev1::STAGE_PROPOSAL: return 3;
    case ev1::STAGE_NEGOTIATION: return 4;
    case ev1::STAGE_CLOSED_WON: return 5;
    default: return 0;
  }
}

bool IsClosed(ev1::Stage s) { return s == ev1::STAGE_CLOSED_WON || s == ev1::STAGE_CLOSED_LOST; }

class OpportunitySink : public Sink {
 public:
  explicit OpportunitySink(ExpansionClient* expansion) : expansion_(expansion) {}

  absl::Status Flush(const std::vector<PendingRow>& rows, std::vector<RowOutcome>* outcomes) override {
    Outcomes result(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      for (const Item& item : rows[r].items) {
        absl::StatusOr<RowOutcome::Kind> kind = Import(std::get<OpportunityItem>(item));
        if (!kind.ok() && !IsRowLevel(kind.status())) return kind.status();
        if (!kind.ok()) {
          result.Item(r, RowOutcome::kFailed, std::string(kind.status().message()));
        } else {
          result.Item(r, *kind);
        }
      }
    }
    *outcomes = result.Take();
    return absl::OkStatus();
  }

 private:
  // The opportunity an earlier import made from this CRM id, if any.
  absl::StatusOr<std::optional<ev1::Opportunity>> Find(const ev1::Opportunity& o) {
    ev1::ListOpportunitiesRequest request;
    request.set_account_id(o.account_id());
    request.mutable_page()->set_page_size(1000);
    auto pager = expansion_->Paged(&ExpansionStub::ListOpportunities, request,
                                   &ev1::ListOpportunitiesResponse::opportunities);
    for (;;) {
      absl::StatusOr<std::optional<ev1::Opportunity>> next = pager.Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) return std::optional<ev1::Opportunity>();
      if ((*next)->source() == ev1::OPPORTUNITY_SOURCE_CRM_IMPORT &&
          (*next)->source_ref() == o.source_ref()) {
        return *next;
      }
    }
  }

  // A later export may correct the amount, close date, owner, title or kind of an
  // open deal: those fields follow the CRM. A closed deal is history and stays.
  absl::StatusOr<bool> UpdateChanged(const std::string& key, const ev1::Opportunity& from_crm,
                                     ev1::Opportunity* current) {
    if (IsClosed(current->stage())) return false;
    ev1::UpdateOpportunityRequest update;
    ev1::Opportunity* o = update.mutable_opportunity();
    o->set_opportunity_id(current->opportunity_id());
    o->set_etag(current->etag());
    auto* mask = update.mutable_update_mask();
    using google::protobuf::util::MessageDifferencer;
    if (!MessageDifferencer::Equals(from_crm.amount(), current->amount())) {
      *o->mutable_amount() = from_crm.amount();
      mask->add_paths("amount");
    }
    if (!MessageDifferencer::Equals(from_crm.expected_close_date(), current->expected_close_date())) {
      *o->mutable_expected_close_date() = from_crm.expected_close_date();
      mask->add_paths("expected_close_date");
    }
    if (!from_crm.owner_id().empty() && from_crm.owner_id() != current->owner_id()) {
      o->set_owner_id(from_crm.owner_id());
      mask->add_paths("owner_id");
    }
    if (!from_crm.title().empty() && from_crm.title() != current->title()) {
      o->set_title(from_crm.title());
      mask->add_paths("title");
    }
    if (from_crm.kind() != current->kind()) {
      o->set_kind(from_crm.kind());
      mask->add_paths("kind");
    }
    if (mask->paths_size() == 0) return false;
    std::string bytes;
    update.SerializePartialToString(&bytes);
    update.set_request_id(DerivedId("crm-sync", {"update", Fingerprint64Hex(absl::StrCat(key, bytes))}));
    absl::StatusOr<ev1::UpdateOpportunityResponse> updated =
        expansion_->Call(&ExpansionStub::UpdateOpportunity, update);
    if (!updated.ok()) return updated.status();
    *current = updated->opportunity();
    return true;
  }

  absl::StatusOr<RowOutcome::Kind> Import(const OpportunityItem& item) {
    const ev1::Opportunity& o = item.opportunity;
    const std::string key = DerivedId("crm-sync", {"opportunity", o.account_id(), o.source_ref()});
    absl::StatusOr<std::optional<ev1::Opportunity>> found = Find(o);
    if (!found.ok()) return found.status();
    bool changed = false;
    ev1::Opportunity current;
    if (!found->has_value()) {
      ev1::CreateOpportunityRequest create;
      create.set_request_id(key);
      *create.mutable_opportunity() = o;
      absl::StatusOr<ev1::CreateOpportunityResponse> created =
          expansion_->Call(&ExpansionStub::CreateOpportunity, create);
      if (!created.ok()) return created.status();
      current = created->opportunity();
      changed = true;
    } else {
      current = **found;
      absl::StatusOr<bool> updated = UpdateChanged(key, o, &current);
      if (!updated.ok()) return updated.status();
      changed = *updated;
    }
    // The stage moves forward only: the suite's stage machine keeps its history, and
    // an older export must not drag a deal back.
    while (current.stage() != item.stage && !IsClosed(current.stage())) {
      ev1::Stage to;
      if (item.stage == ev1::STAGE_CLOSED_LOST) {
        to = ev1::STAGE_CLOSED_LOST;
      } else if (StageRank(item.stage) > StageRank(current.stage())) {
        to = static_cast<ev1::Stage>(current.stage() + 1);
      } else {
        break;
      }
      ev1::AdvanceStageRequest advance;
      advance.set_request_id(absl::StrCat(key, ":", ev1::Stage_Name(to)).substr(0, 128));
      advance.set_opportunity_id(current.opportunity_id());
      advance.set_to_stage(to);
      if (to == ev1::STAGE_CLOSED_LOST) {
        advance.set_loss_reason(item.loss_reason.empty() ? "closed lost in the CRM" : item.loss_reason);
      }
      absl::StatusOr<ev1::AdvanceStageResponse> moved =
          expansion_->Call(&ExpansionStub::AdvanceStage, advance);
      if (!moved.ok()) return moved.status();
      current = moved->opportunity();
      changed = true;
    }
    return changed ? RowOutcome::kImported : RowOutcome::kSkipped;
  }

  ExpansionClient* expansion_;
};

// ---------------------------------------------------------------------------
// Revenue ledger: monthly MRR per account from paid invoices.

class LedgerSink : public Sink {
 public:
  explicit LedgerSink(ExpansionClient* expansion) : expansion_(expansion) {}
  bool resumable() const override { return false; }

  absl::Status Flush(const std::vector<PendingRow>& rows, std::vector<RowOutcome>* outcomes) override {
    for (const PendingRow& row : rows) {
      RowOutcome outcome{RowOutcome::kImported, ""};
      for (const Item& item : row.items) {
        const LedgerItem& l = std::get<LedgerItem>(item);
        Account& account = accounts_[l.account_id];
        if (account.currency.empty()) account.currency = l.currency_code;
        if (account.currency != l.currency_code) {
          outcome = RowOutcome{RowOutcome::kFailed,
                               absl::StrCat("account ", l.account_id, " is billed in ", account.currency,
                                            ", this invoice in ", l.currency_code)};
          continue;
        }
        // Spread evenly; the cents that do not divide go to the first month, so the
        // months add up to the invoice.
        const int64_t per_month = l.minor_units / l.months;
        const int64_t remainder = l.minor_units - per_month * l.months;
        for (int m = 0; m < l.months; ++m) {
          account.mrr[l.first_month + m] += per_month + (m == 0 ? remainder : 0);
        }
      }
      outcomes->push_back(outcome);
    }
    return absl::OkStatus();
  }

  absl::Status Finish(std::ostream& notes) override {
    ev1::ImportSubscriptionsRequest request;
    int64_t months = 0;
    ev1::ImportSubscriptionsResponse total;
    auto send = [&]() -> absl::Status {
      if (request.subscriptions_size() == 0) return absl::OkStatus();
      std::string bytes;
      request.SerializePartialToString(&bytes);
      // One id per run and chunk: a retry inside the run is answered from the first
      // write, while a later run is a new import whose answer says what it changed
      // (the service compares figures, so the same figures change nothing).
      request.set_request_id(absl::StrCat("crm-sync:ledger:", Fingerprint64Hex(bytes), ":",
                                          absl::ToUnixMicros(started_)));
      absl::StatusOr<ev1::ImportSubscriptionsResponse> r =
          expansion_->Call(&ExpansionStub::ImportSubscriptions, request);
      if (!r.ok()) return r.status();
      total.set_months_changed(total.months_changed() + r->months_changed());
      total.set_movements_added(total.movements_added() + r->movements_added());
      total.set_movements_changed(total.movements_changed() + r->movements_changed());
      total.set_movements_removed(total.movements_removed() + r->movements_removed());
      request.clear_subscriptions();
      return absl::OkStatus();
    };
    for (const auto& [account_id, account] : accounts_) {
      // An account's months travel together, so each import sees its whole history.
      if (request.subscriptions_size() + account.mrr.size() > 10000) {
        if (absl::Status s = send(); !s.ok()) return s;
      }
      for (const auto& [month, minor] : account.mrr) {
        ev1::SubscriptionMonth* m = request.add_subscriptions();
        m->set_account_id(account_id);
        m->mutable_month()->set_year(static_cast<int32_t>(month.year()));
        m->mutable_month()->set_month(month.month());
        m->mutable_month()->set_day(1);
        m->mutable_mrr()->set_minor_units(minor);
        m->mutable_mrr()->set_currency_code(account.currency);
        ++months;
      }
    }
    if (absl::Status s = send(); !s.ok()) return s;
    notes << "ledger: " << accounts_.size() << " accounts, " << months << " months; "
          << total.months_changed() << " months changed, movements " << total.movements_added()
          << " added, " << total.movements_changed() << " changed, " << total.movements_removed()
          << " removed\n";
    return absl::OkStatus();
  }

 private:
  struct Account {
    std::string currency;
    std::map<absl::CivilMonth, int64_t> mrr;
  };
  ExpansionClient* expansion_;
  std::map<std::string, Account> accounts_;
  const absl::Time started_ = absl::Now();
};

std::string Rfc3339(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string Lower(const std::string& enum_name, const std::string& prefix) {
  return absl::AsciiStrToLower(enum_name.substr(std::min(prefix.size(), enum_name.size())));
}

}  // namespace

std::unique_ptr<Sink> MakeAccountSink(HealthClient* health, int parallel) {
  return std::make_unique<AccountSink>(health, parallel);
}

std::unique_ptr<Sink> MakeSignalSink(HealthClient* health) {
  return std::make_unique<BatchSink<hv1::Signal, hv1::RecordSignalsRequest, hv1::RecordSignalsResponse>>(
      health, &HealthStub::RecordSignals,
      [](hv1::RecordSignalsRequest& r) { return r.mutable_signals(); });
}

std::unique_ptr<Sink> MakeTrackSink(HealthClient* health) {
  return std::make_unique<BatchSink<hv1::TrackEvent, hv1::TrackEventsRequest, hv1::TrackEventsResponse>>(
      health, &HealthStub::TrackEvents,
      [](hv1::TrackEventsRequest& r) { return r.mutable_events(); });
}

std::unique_ptr<Sink> MakeOpportunitySink(ExpansionClient* expansion) {
  return std::make_unique<OpportunitySink>(expansion);
}

std::unique_ptr<Sink> MakeLedgerSink(ExpansionClient* expansion) {
  return std::make_unique<LedgerSink>(expansion);
}

absl::Status ApplyEventMappings(HealthClient* health, const Mapping& mapping) {
  for (const hv1::EventMapping& m : mapping.events) {
    hv1::SetEventMappingRequest request;
    *request.mutable_mapping() = m;
    std::string bytes;
    request.SerializePartialToString(&bytes);
    request.set_request_id(absl::StrCat("crm-sync:map:", Fingerprint64Hex(bytes)));
    absl::StatusOr<hv1::SetEventMappingResponse> response =
        health->Call(&HealthStub::SetEventMapping, request);
    if (!response.ok()) {
      return absl::Status(response.status().code(),
                          absl::StrCat("event mapping '", m.event_name(), "': ",
                                       response.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ExportHealth(HealthClient* health, const std::string& score_name,
                                     std::ostream& out) {
  out << CsvLine({"account_id", "score", "band", "computed_at"});
  hv1::ListAccountsRequest request;
  request.mutable_page()->set_page_size(500);
  auto pager = health->Paged(&HealthStub::ListAccounts, request, &hv1::ListAccountsResponse::accounts);
  int64_t rows = 0;
  for (;;) {
    absl::StatusOr<std::optional<hv1::Account>> next = pager.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    hv1::GetHealthRequest get;
    get.set_account_id((*next)->account_id());
    get.set_score_name(score_name);
    absl::StatusOr<hv1::GetHealthResponse> h = health->Call(&HealthStub::GetHealth, get);
    // An account without a score yet has nothing to load into the CRM.
    if (!h.ok() && h.status().code() == absl::StatusCode::kNotFound) continue;
    if (!h.ok()) return h.status();
    out << CsvLine({h->health().account_id(), absl::StrFormat("%.1f", h->health().score()),
                    Lower(hv1::Band_Name(h->health().band()), "BAND_"),
                    Rfc3339(h->health().computed_at())});
    ++rows;
  }
  return rows;
}

absl::StatusOr<int64_t> ExportOpportunities(ExpansionClient* expansion, std::ostream& out) {
  out << CsvLine({"opportunity_id", "account_id", "kind", "stage", "amount", "currency",
                  "probability_percent", "expected_close_date", "source_ref", "owner_id", "title"});
  ev1::ListOpportunitiesRequest request;
  request.mutable_page()->set_page_size(500);
  auto pager = expansion->Paged(&ExpansionStub::ListOpportunities, request,
                                &ev1::ListOpportunitiesResponse::opportunities);
  int64_t rows = 0;
  for (;;) {
    absl::StatusOr<std::optional<ev1::Opportunity>> next = pager.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    const ev1::Opportunity& o = **next;
    const int64_t minor = o.amount().minor_units();
    const auto& d = o.expected_close_date();
    out << CsvLine({o.opportunity_id(), o.account_id(),
                    Lower(ev1::OpportunityKind_Name(o.kind()), "OPPORTUNITY_KIND_"),
                    Lower(ev1::Stage_Name(o.stage()), "STAGE_"),
                    absl::StrFormat("%s%d.%02d", minor < 0 ? "-" : "", std::abs(minor) / 100,
                                    std::abs(minor) % 100),
                    o.amount().currency_code(), absl::StrCat(o.probability_percent()),
                    absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day()), o.source_ref(),
                    o.owner_id(), o.title()});
    ++rows;
  }
  return rows;
}

}  // namespace cs::crm_sync
