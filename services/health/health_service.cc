#include "services/health/health_service.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/validation.h"

namespace cs::health {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status ValidateBatchSize(absl::string_view field, size_t n) {
  if (n == 0) return Invalid(field, "at least one record is required");
  if (n > static_cast<size_t>(HealthService::kMaxBatch)) {
    return Invalid(field, absl::StrCat(n, " records; at most ", HealthService::kMaxBatch,
                                       " per call"));
  }
  return absl::OkStatus();
}

absl::Status ValidateScoreName(absl::string_view field, const std::string& name) {
  RETURN_IF_ERROR(ValidateId(field, name));
  if (name.size() > 64) return Invalid(field, "longer than 64 characters");
  return absl::OkStatus();
}

absl::Status ValidateLimit(int limit) {
  if (limit < 1 || limit > 1000) return Invalid("page.page_size", "must be in 1-1000");
  return absl::OkStatus();
}

std::string OrDefaultName(std::string name) {
  return name.empty() ? std::string(kDefaultScoreName) : name;
}

// The number a track event's property holds, if it holds one.
std::optional<double> NumberOf(const PropertyValue& v) {
  if (const double* d = std::get_if<double>(&v)) return *d;
  if (const bool* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  double parsed = 0;
  if (absl::SimpleAtod(std::get<std::string>(v), &parsed)) return parsed;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<IngestResult> HealthService::RecordSignals(
    const db::WriteKey& key, const db::ResultCodec<IngestResult>& codec,
    std::vector<Signal> signals, const RecordPrinter& record_json, bool atomic) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateBatchSize("signals", signals.size()));
  const absl::Time now = clock_->Now();
  IngestBatch batch;
  batch.source = "RecordSignals";
  batch.atomic = atomic;
  batch.record_json = record_json;
  batch.records.reserve(signals.size());
  for (size_t i = 0; i < signals.size(); ++i) {
    IngestRecord r;
    r.index = static_cast<int>(i);
    r.event_id = signals[i].event_id;
    r.account_id = signals[i].account_id;
    // The field's path is built only for a signal that fails.
    absl::Status valid = ValidateSignal("signals[]", signals[i], now);
    if (!valid.ok()) valid = ValidateSignal(absl::StrCat("signals[", i, "]"), signals[i], now);
    if (valid.ok()) {
      r.signal = std::move(signals[i]);
    } else if (atomic) {
      return valid;
    } else {
      r.rejection = std::string(valid.message());
    }
    batch.records.push_back(std::move(r));
  }
  return Ingest(key, codec, batch, now);
}

absl::StatusOr<IngestResult> HealthService::TrackEvents(const db::WriteKey& key,
                                                        const db::ResultCodec<IngestResult>& codec,
                                                        const std::vector<TrackEvent>& events,
                                                        bool atomic,
                                                        const RecordPrinter& record_json) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateBatchSize("events", events.size()));
  ASSIGN_OR_RETURN(std::vector<EventMapping> mappings, repository_->ListEventMappings());
  std::map<std::string, EventMapping> by_name;
  for (EventMapping& m : mappings) by_name.emplace(m.event_name, std::move(m));
  const absl::Time now = clock_->Now();
  IngestBatch batch;
  batch.source = "TrackEvents";
  batch.atomic = atomic;
  batch.record_json = record_json;
  for (size_t i = 0; i < events.size(); ++i) {
    const TrackEvent& e = events[i];
    const std::string field = absl::StrCat("events[", i, "]");
    IngestRecord r;
    r.index = static_cast<int>(i);
    r.event_id = e.message_id;
    r.account_id = e.group_id;
    r.event_name = e.event;
    absl::StatusOr<Signal> signal = [&]() -> absl::StatusOr<Signal> {
      RETURN_IF_ERROR(ValidateId(field + ".message_id", e.message_id));
      RETURN_IF_ERROR(ValidateId(field + ".group_id", e.group_id));
      if (e.event.empty()) return Invalid(field + ".event", "must not be empty");
      auto m = by_name.find(e.event);
      if (m == by_name.end()) {
        return Invalid(field + ".event",
                       absl::StrCat("no event mapping for '", e.event, "' (see SetEventMapping)"));
      }
      Signal s;
      s.event_id = e.message_id;
      s.account_id = e.group_id;
      s.kind = m->second.kind;
      s.occurred_at = e.timestamp;
      if (!m->second.value_property.empty()) {
        auto p = e.properties.find(m->second.value_property);
        std::optional<double> v = p == e.properties.end() ? std::nullopt : NumberOf(p->second);
        if (!v) {
          return Invalid(absl::StrCat(field, ".properties.", m->second.value_property),
                         "missing or not a number");
        }
        s.value = *v;
      }
      if (!m->second.feature_property.empty()) {
        auto p = e.properties.find(m->second.feature_property);
        const std::string* name =
            p == e.properties.end() ? nullptr : std::get_if<std::string>(&p->second);
        if (name != nullptr) s.feature = *name;
      }
      if (s.feature.empty() && s.kind == SignalKind::kFeatureUsed) s.feature = e.event.substr(0, 64);
      RETURN_IF_ERROR(ValidateSignal(field, s, now));
      return s;
    }();
    if (signal.ok()) {
      r.signal = *std::move(signal);
    } else if (atomic) {
      return signal.status();
    } else {
      r.rejection = std::string(signal.status().message());
    }
    batch.records.push_back(std::move(r));
  }
  return Ingest(key, codec, batch, now);
}

absl::StatusOr<EventMapping> HealthService::SetEventMapping(
    const db::WriteKey& key, const db::ResultCodec<EventMapping>& codec,
    const EventMapping& mapping) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  if (mapping.event_name.empty() || mapping.event_name.size() > 128) {
    return Invalid("mapping.event_name", "must be 1-128 characters");
  }
  if (!IsKnownSignalKind(static_cast<int>(mapping.kind))) {
    return Invalid("mapping.kind", "must be a known signal kind");
  }
  if (mapping.value_property.size() > 128) {
    return Invalid("mapping.value_property", "longer than 128 characters");
  }
  if (mapping.feature_property.size() > 128) {
    return Invalid("mapping.feature_property", "longer than 128 characters");
  }
  return repository_->SetEventMapping(key, codec, mapping, clock_->Now());
}

absl::StatusOr<std::vector<EventMapping>> HealthService::ListEventMappings() {
  return repository_->ListEventMappings();
}

absl::StatusOr<RejectedPage> HealthService::ListRejectedRecords(const RejectedQuery& query) {
  if (!query.source.empty() && query.source != "RecordSignals" && query.source != "TrackEvents") {
    return Invalid("source", "must be RecordSignals or TrackEvents");
  }
  RETURN_IF_ERROR(ValidateId("account_id", query.account_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateLimit(query.limit));
  return repository_->ListRejected(query);
}

absl::StatusOr<Scorecard> HealthService::CreateScorecard(const db::WriteKey& key,
                                                         const db::ResultCodec<Scorecard>& codec,
                                                         Scorecard scorecard) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  scorecard.score_name = OrDefaultName(scorecard.score_name);
  RETURN_IF_ERROR(ValidateScorecard(scorecard));
  return repository_->CreateScorecard(key, codec, scorecard, clock_->Now());
}

absl::StatusOr<Scorecard> HealthService::UpdateScorecard(const db::WriteKey& key,
                                                         const db::ResultCodec<Scorecard>& codec,
                                                         Scorecard scorecard) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  scorecard.score_name = OrDefaultName(scorecard.score_name);
  RETURN_IF_ERROR(ValidateScorecard(scorecard));
  if (scorecard.version < 1) {
    return Invalid("scorecard.version", "must be the version being replaced (1 or more)");
  }
  return repository_->UpdateScorecard(key, codec, scorecard, clock_->Now());
}

absl::StatusOr<Scorecard> HealthService::GetScorecard(const std::string& scorecard_id,
                                                      int version) {
  RETURN_IF_ERROR(ValidateId("scorecard_id", scorecard_id));
  if (version < 0) return Invalid("version", "must not be negative");
  return repository_->GetScorecard(scorecard_id, version);
}

absl::StatusOr<std::vector<Scorecard>> HealthService::ListScorecards() {
  return repository_->ListScorecards();
}

absl::StatusOr<HealthView> HealthService::ViewOf(StoredScore score, absl::Time at) {
  HealthView view;
  view.score = score.score;
  view.band = score.band;
  ASSIGN_OR_RETURN(view.active_override,
                   repository_->ActiveOverride(score.account_id, score.score_name, at));
  if (view.active_override.has_value()) {
    view.score = view.active_override->score;
    absl::StatusOr<Scorecard> card =
        repository_->GetScorecard(score.scorecard_id, score.scorecard_version);
    view.band = BandFor(view.score, card.ok() ? card->bands : BandThresholds());
  }
  const absl::CivilDay today = DayOf(at);
  ASSIGN_OR_RETURN(std::vector<std::optional<HealthPoint>> then,
                   repository_->PointsOnOrBefore(score.account_id, score.score_name,
                                                 {today - 30, today - 60, today - 90}));
  std::optional<double>* const trends[] = {&view.change_30d, &view.change_60d, &view.change_90d};
  for (size_t i = 0; i < then.size() && i < 3; ++i) {
    if (then[i].has_value()) *trends[i] = score.score - then[i]->score;
  }
  ASSIGN_OR_RETURN(view.open_alerts, repository_->OpenAlerts(score.account_id, at));
  view.computed = std::move(score);
  return view;
}

absl::StatusOr<HealthView> HealthService::GetHealth(const std::string& account_id,
                                                    std::string score_name,
                                                    std::optional<absl::Time> as_of) {
  ASSIGN_OR_RETURN(std::shared_ptr<const HealthView> view,
                   GetHealthShared(account_id, std::move(score_name), as_of));
  return *view;
}

absl::StatusOr<std::shared_ptr<const HealthView>> HealthService::GetHealthShared(
    const std::string& account_id, std::string score_name, std::optional<absl::Time> as_of) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  score_name = OrDefaultName(std::move(score_name));
  RETURN_IF_ERROR(ValidateScoreName("score_name", score_name));
  const absl::Time now = clock_->Now();
  if (as_of.has_value() && *as_of > now + absl::Hours(24)) {
    return Invalid("as_of", "more than a day in the future");
  }
  if (!as_of.has_value()) {
    ASSIGN_OR_RETURN(std::optional<StoredChurnModel> model, CurrentChurnModel(now));
    if (!CacheUsable()) {
      ASSIGN_OR_RETURN(HealthView view, LoadCurrentView(account_id, score_name, now, model));
      return std::make_shared<const HealthView>(std::move(view));
    }
    const int64_t model_id = model.has_value() ? model->model_id : 0;
    if (std::shared_ptr<const HealthView> hit = cache_->Get(account_id, score_name, now, model_id)) {
      return hit;
    }
    const uint64_t ticket = cache_->BeginFill();
    ASSIGN_OR_RETURN(HealthView loaded, LoadCurrentView(account_id, score_name, now, model));
    auto view = std::make_shared<const HealthView>(std::move(loaded));
    // Trends, open alerts and the churn features are per day; an override ends at
    // its expiry: the view is good until the first of those.
    absl::Time valid_until = StartOfDay(DayOf(now) + 1);
    if (view->active_override.has_value()) {
      valid_until = std::min(valid_until, view->active_override->expires_at);
    }
    cache_->Put(account_id, score_name, view, ticket, valid_until, model_id);
    return view;
  }
  ASSIGN_OR_RETURN(StoredScore score, repository_->GetScoreAsOf(account_id, score_name, *as_of));
  ASSIGN_OR_RETURN(HealthView view, ViewOf(std::move(score), *as_of));
  ASSIGN_OR_RETURN(view.churn_probability, ChurnProbability(account_id, *as_of, false));
  return std::make_shared<const HealthView>(std::move(view));
}

absl::StatusOr<HealthView> HealthService::LoadCurrentView(
    const std::string& account_id, const std::string& score_name, absl::Time now,
    const std::optional<StoredChurnModel>& model) {
  ASSIGN_OR_RETURN(StoredScore score, repository_->GetScore(account_id, score_name));
  ASSIGN_OR_RETURN(HealthView view, ViewOf(std::move(score), now));
  ASSIGN_OR_RETURN(view.churn_probability, ChurnProbabilityWith(model, account_id, now));
  return view;
}

void HealthService::EnableViewCache(size_t accounts) {
  cache_ = std::make_unique<HealthViewCache>(accounts);
}

void HealthService::EnablePortfolioIndex() {
  portfolio_ = std::make_unique<PortfolioTracker>(repository_, clock_);
}

void HealthService::EnableRegulatedIndex() { regulated_ = std::make_unique<RegulatedIndex>(); }

bool HealthService::CacheUsable() {
  if (cache_ == nullptr || !cache_->enabled()) return false;
  return TailFresh();
}

bool HealthService::TailFresh() const {
  const int64_t ok_at = tail_ok_at_ns_.load(std::memory_order_acquire);
  if (ok_at == 0) return false;
  const int64_t age = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count() -
                      ok_at;
  return age < absl::ToInt64Nanoseconds(kCacheTailStaleAfter);
}

absl::Status HealthService::PollCacheInvalidations() {
  if (cache_ == nullptr && portfolio_ == nullptr && regulated_ == nullptr) {
    return absl::OkStatus();
  }
  std::lock_guard<std::mutex> lock(tail_mu_);
  // Taken before reading: the views are fresh as of this instant once it succeeds.
  const int64_t started = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count();
  const uint64_t step = regulated_ != nullptr ? regulated_->BeginStep() : 0;
  // Accounts whose records changed: their regulated flags are read again. A step that
  // fails once the cursor has passed some of them leaves the index unloaded, to be
  // read whole by the next step.
  std::vector<std::string> records;
  auto unload = [&](absl::Status status) {
    if (regulated_ != nullptr && !records.empty()) regulated_->Unload();
    return status;
  };
  constexpr int kLimit = 10000;
  for (;;) {
    absl::StatusOr<HealthRepository::Changes> changes =
        repository_->ChangedAccounts(tail_cursor_, kLimit);
    // The records of an earlier batch of this step are behind the cursor now.
    if (!changes.ok()) return unload(changes.status());
    if (changes->everything) {
      if (cache_ != nullptr) cache_->InvalidateAll();
      if (portfolio_ != nullptr) portfolio_->MarkAllDirty();
      if (regulated_ != nullptr) regulated_->Unload();
      break;
    }
    if (cache_ != nullptr) {
      for (const std::string& account_id : changes->accounts) cache_->Invalidate(account_id);
    }
    if (portfolio_ != nullptr) portfolio_->MarkDirty(changes->accounts);
    records.insert(records.end(), changes->records.begin(), changes->records.end());
    if (changes->accounts.size() < static_cast<size_t>(kLimit)) break;
  }
  if (regulated_ != nullptr) {
    // The cursor stands where the log was before this read, so a write after it is
    // read again by a later step.
    if (!regulated_->loaded()) {
      std::vector<std::string> all;
      RETURN_IF_ERROR(
          repository_->ForEachRegulatedAccount([&](const std::string& id) { all.push_back(id); }));
      regulated_->Load(all);
    } else if (!records.empty()) {
      std::sort(records.begin(), records.end());
      records.erase(std::unique(records.begin(), records.end()), records.end());
      absl::StatusOr<std::set<std::string>> regulated = repository_->RegulatedAccountsIn(records);
      if (!regulated.ok()) return unload(regulated.status());
      regulated_->Update(records, *regulated);
    }
    regulated_->EndStep(step);
  }
  tail_sequence_.store(tail_cursor_.event_sequence, std::memory_order_release);
  tail_ok_at_ns_.store(started, std::memory_order_release);
  return absl::OkStatus();
}

namespace {

// Adds the ids `known` says are regulated to `out`; returns those it does not know.
std::vector<std::string> TakeKnown(const std::vector<std::string>& ids,
                                   const std::function<std::optional<bool>(const std::string&)>& known,
                                   std::set<std::string>& out) {
  std::vector<std::string> unknown;
  for (const std::string& id : ids) {
    const std::optional<bool> regulated = known(id);
    if (!regulated.has_value()) {
      unknown.push_back(id);
    } else if (*regulated) {
      out.insert(id);
    }
  }
  return unknown;
}

}  // namespace

void HealthService::EventAboutToBeRead(const Event& event) {
  if (event.kind != EventKind::kAccountUpserted) return;
  if (event.sequence <= tail_sequence_.load(std::memory_order_acquire)) return;
  InvalidateCachedViews(event.account_id);
}

absl::StatusOr<std::set<std::string>> HealthService::RegulatedAccounts(
    const std::vector<std::string>& account_ids) {
  std::set<std::string> out;
  const std::vector<std::string>* asked = &account_ids;
  std::vector<std::string> not_indexed;
  if (regulated_ != nullptr && TailFresh()) {
    not_indexed = TakeKnown(
        account_ids, [&](const std::string& id) { return regulated_->Get(id); }, out);
    if (not_indexed.empty()) return out;
    asked = &not_indexed;
  }
  if (!CacheUsable()) {
    ASSIGN_OR_RETURN(std::set<std::string> found, repository_->RegulatedAccountsIn(*asked));
    out.insert(found.begin(), found.end());
    return out;
  }
  const std::vector<std::string> unknown = TakeKnown(
      *asked, [&](const std::string& id) { return cache_->GetRegulated(id); }, out);
  if (unknown.empty()) return out;
  const uint64_t ticket = cache_->BeginFill();
  ASSIGN_OR_RETURN(std::set<std::string> found, repository_->RegulatedAccountsIn(unknown));
  for (const std::string& id : unknown) {
    const bool regulated = found.count(id) > 0;
    cache_->PutRegulated(id, regulated, ticket);
    if (regulated) out.insert(id);
  }
  return out;
}

void HealthService::InvalidateCachedViews(const std::string& account_id) {
  if (cache_ != nullptr) cache_->Invalidate(account_id);
  if (regulated_ != nullptr) regulated_->Invalidate(account_id);
}

absl::StatusOr<IngestResult> HealthService::Ingest(const db::WriteKey& key,
                                                  const db::ResultCodec<IngestResult>& codec,
                                                  const IngestBatch& batch, absl::Time now) {
  absl::StatusOr<IngestResult> result = repository_->Ingest(key, codec, batch, now);
  if (!result.ok()) return result;
  InvalidateIngested(batch, *result);
  // A stored answer replayed for a retry may come without its records' event ids:
  // the retry is the same request, so they are the batch's.
  for (RecordAck& ack : result->acks) {
    if (ack.event_id.empty() && ack.index >= 0 &&
        static_cast<size_t>(ack.index) < batch.records.size()) {
      ack.event_id = batch.records[ack.index].event_id;
    }
  }
  return result;
}

void HealthService::InvalidateIngested(const IngestBatch& batch, const IngestResult& result) {
  if (cache_ == nullptr) return;
  std::string last;
  for (const RecordAck& ack : result.acks) {
    if (ack.outcome != RecordOutcome::kAccepted) continue;
    if (ack.index < 0 || static_cast<size_t>(ack.index) >= batch.records.size()) continue;
    const std::string& account_id = batch.records[ack.index].account_id;
    if (account_id == last) continue;
    last = account_id;
    cache_->Invalidate(account_id);
  }
}

absl::StatusOr<std::optional<StoredChurnModel>> HealthService::CurrentChurnModel(absl::Time now) {
  {
    std::lock_guard<std::mutex> lock(model_mu_);
    if (model_loaded_at_.has_value() && now - *model_loaded_at_ < kModelCacheTtl &&
        now >= *model_loaded_at_) {
      return current_model_;
    }
  }
  ASSIGN_OR_RETURN(std::optional<StoredChurnModel> model, repository_->FindChurnModel(0, now));
  std::lock_guard<std::mutex> lock(model_mu_);
  current_model_ = model;
  model_loaded_at_ = now;
  return model;
}

absl::StatusOr<std::optional<double>> HealthService::ChurnProbability(
    const std::string& account_id, absl::Time at, bool current) {
  std::optional<StoredChurnModel> model;
  if (current) {
    ASSIGN_OR_RETURN(model, CurrentChurnModel(at));
  } else {
    ASSIGN_OR_RETURN(model, repository_->FindChurnModel(0, at));
  }
  return ChurnProbabilityWith(model, account_id, at);
}

absl::StatusOr<std::optional<double>> HealthService::ChurnProbabilityWith(
    const std::optional<StoredChurnModel>& model, const std::string& account_id, absl::Time at) {
  if (!model.has_value()) return std::optional<double>();
  const absl::CivilDay day = DayOf(at);
  ASSIGN_OR_RETURN(AccountHistory history,
                   repository_->AccountHistoryOf(account_id, day - (model->lookback_days - 1), day));
  // A churned account's risk is no longer a prediction.
  if (OutcomeAfter(history.account, day, 0) == Outcome::kAlreadyChurned) {
    return std::optional<double>();
  }
  const double p =
      PredictChurn(model->model, ChurnFeatures(history.counters, day, model->lookback_days));
  if (!std::isfinite(p)) return std::optional<double>();
  return std::optional<double>(p);
}

absl::StatusOr<std::vector<HealthPoint>> HealthService::GetHealthHistory(
    const std::string& account_id, std::string score_name, std::optional<absl::CivilDay> from,
    std::optional<absl::CivilDay> to) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  score_name = OrDefaultName(std::move(score_name));
  RETURN_IF_ERROR(ValidateScoreName("score_name", score_name));
  const absl::CivilDay last = to.value_or(DayOf(clock_->Now()));
  const absl::CivilDay first = from.value_or(last - 89);
  if (first > last) return Invalid("from", "after to");
  if (last - first > 731) return Invalid("from", "more than 731 days before to");
  return repository_->History(account_id, score_name, first, last);
}

absl::StatusOr<ExplainResult> HealthService::ExplainChange(const std::string& account_id,
                                                           std::string score_name,
                                                           absl::Time from,
                                                           std::optional<absl::Time> to) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  score_name = OrDefaultName(std::move(score_name));
  RETURN_IF_ERROR(ValidateScoreName("score_name", score_name));
  if (from == absl::Time() || from == absl::UnixEpoch()) return Invalid("from", "must be set");
  const absl::Time end = to.value_or(clock_->Now());
  if (from >= end) return Invalid("from", "must be before to");
  ExplainResult out;
  ASSIGN_OR_RETURN(StoredScore before, repository_->GetScoreAsOf(account_id, score_name, from));
  ASSIGN_OR_RETURN(StoredScore after, repository_->GetScoreAsOf(account_id, score_name, end));
  for (const ComponentScore& c : after.components) {
    ComponentChange change;
    change.component = c.component;
    change.contribution_to = c.contribution;
    change.raw_to = c.raw;
    for (const ComponentScore& b : before.components) {
      if (b.component != c.component) continue;
      change.contribution_from = b.contribution;
      change.raw_from = b.raw;
    }
    out.components.push_back(change);
  }
  std::stable_sort(out.components.begin(), out.components.end(),
                   [](const ComponentChange& a, const ComponentChange& b) {
                     return std::abs(a.contribution_to - a.contribution_from) >
                            std::abs(b.contribution_to - b.contribution_from);
                   });
  ASSIGN_OR_RETURN(out.signals, repository_->CountSignals(account_id, from, end));
  ASSIGN_OR_RETURN(out.from, ViewOf(std::move(before), from));
  ASSIGN_OR_RETURN(out.to, ViewOf(std::move(after), end));
  return out;
}

absl::StatusOr<AtRiskPage> HealthService::ListAtRisk(AtRiskQuery query) {
  query.score_name = OrDefaultName(std::move(query.score_name));
  RETURN_IF_ERROR(ValidateScoreName("score_name", query.score_name));
  for (size_t i = 0; i < query.bands.size(); ++i) {
    if (query.bands[i] == Band::kUnspecified) {
      return Invalid(absl::StrCat("bands[", i, "]"), "must be a band");
    }
  }
  if (query.bands.size() > 3) return Invalid("bands", "at most 3");
  RETURN_IF_ERROR(ValidateLimit(query.limit));
  return repository_->ListAtRisk(query);
}

absl::StatusOr<PortfolioSummary> HealthService::GetPortfolioSummary(std::string score_name,
                                                                    int period_days) {
  score_name = OrDefaultName(std::move(score_name));
  RETURN_IF_ERROR(ValidateScoreName("score_name", score_name));
  if (period_days == 0) period_days = 30;
  if (period_days < 1 || period_days > 365) return Invalid("period_days", "must be in 0-365");
  const absl::Time period_start = clock_->Now() - absl::Hours(24) * period_days;
  if (portfolio_ != nullptr) {
    // Every change committed before this call is in the answer: the tail is read now.
    RETURN_IF_ERROR(PollCacheInvalidations());
    absl::StatusOr<PortfolioSummary> indexed = portfolio_->Summary(score_name, period_start);
    if (indexed.ok()) {
      indexed->period_days = period_days;
      return indexed;
    }
    if (!absl::IsUnimplemented(indexed.status())) return indexed.status();
  }
  ASSIGN_OR_RETURN(PortfolioSummary out, repository_->Portfolio(score_name, period_start));
  out.period_days = period_days;
  return out;
}

absl::StatusOr<Override> HealthService::SetOverride(const db::WriteKey& key,
                                                    const db::ResultCodec<Override>& codec,
                                                    Override o) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateId("override.account_id", o.account_id));
  o.score_name = OrDefaultName(std::move(o.score_name));
  RETURN_IF_ERROR(ValidateScoreName("override.score_name", o.score_name));
  if (!std::isfinite(o.score) || o.score < 0 || o.score > 100) {
    return Invalid("override.score", "must be in 0-100");
  }
  if (o.reason.empty() || o.reason.size() > 1000) {
    return Invalid("override.reason", "must be 1-1000 characters");
  }
  RETURN_IF_ERROR(ValidateId("override.set_by", o.set_by));
  const absl::Time now = clock_->Now();
  if (o.expires_at <= now) return Invalid("override.expires_at", "must be in the future");
  if (o.expires_at > now + absl::Hours(24 * 366)) {
    return Invalid("override.expires_at", "more than a year ahead");
  }
  o.set_at = now;
  absl::StatusOr<Override> stored = repository_->AddOverride(key, codec, o);
  if (stored.ok()) InvalidateCachedViews(o.account_id);
  return stored;
}

absl::StatusOr<std::vector<Override>> HealthService::ListOverrides(const std::string& account_id) {
  RETURN_IF_ERROR(ValidateId("account_id", account_id));
  return repository_->ListOverrides(account_id);
}

absl::StatusOr<AlertPage> HealthService::ListAlerts(const AlertQuery& query) {
  RETURN_IF_ERROR(ValidateId("account_id", query.account_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateLimit(query.limit));
  return repository_->ListAlerts(query);
}

absl::StatusOr<AlertSettings> HealthService::GetAlertSettings() {
  return repository_->GetAlertSettings();
}

absl::StatusOr<AlertSettings> HealthService::SetAlertSettings(
    const db::WriteKey& key, const db::ResultCodec<AlertSettings>& codec,
    const AlertSettings& settings) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  RETURN_IF_ERROR(ValidateAlertSettings(settings));
  return repository_->SetAlertSettings(key, codec, settings, clock_->Now());
}

absl::StatusOr<int> HealthService::RunRescoreJobs(int max_accounts) {
  absl::StatusOr<int> rescored = repository_->RunRescoreJobs(clock_->Now(), max_accounts);
  // The batch published its score, band and alert events: this replica drops the
  // views they changed now rather than at the tail's next step.
  if (rescored.ok() && *rescored > 0 && cache_ != nullptr) (void)PollCacheInvalidations();
  return rescored;
}

absl::StatusOr<BacktestResult> HealthService::BacktestScorecard(const BacktestQuery& query) {
  BacktestResult out;
  out.horizon_days = query.horizon_days == 0 ? kDefaultHorizonDays : query.horizon_days;
  if (out.horizon_days < 0 || out.horizon_days > kMaxHorizonDays) {
    return Invalid("horizon_days", absl::StrCat("must be in 0-", kMaxHorizonDays));
  }
  Scorecard scorecard;
  if (query.draft.has_value()) {
    if (!query.scorecard_id.empty()) {
      return Invalid("scorecard_id", "give either scorecard_id or scorecard, not both");
    }
    if (query.version != 0) return Invalid("version", "applies to a stored scorecard only");
    scorecard = *query.draft;
    if (scorecard.scorecard_id.empty()) scorecard.scorecard_id = "draft";
    scorecard.score_name = OrDefaultName(scorecard.score_name);
    RETURN_IF_ERROR(ValidateScorecard(scorecard));
    scorecard.version = 0;
  } else {
    if (query.scorecard_id.empty()) {
      return Invalid("scorecard_id", "one of scorecard_id and scorecard is required");
    }
    RETURN_IF_ERROR(ValidateId("scorecard_id", query.scorecard_id));
    if (query.version < 0) return Invalid("version", "must not be negative");
    ASSIGN_OR_RETURN(scorecard, repository_->GetScorecard(query.scorecard_id, query.version));
  }
  out.scorecard_id = scorecard.scorecard_id;
  out.scorecard_version = scorecard.version;

  // Only days whose whole horizon has passed: an account still active then is
  // known to have stayed, so no outcome is guessed.
  const absl::CivilDay last_known = DayOf(clock_->Now()) - out.horizon_days;
  std::vector<absl::CivilDay> days = query.as_of;
  if (days.empty()) days.push_back(last_known);
  if (days.size() > static_cast<size_t>(kMaxBacktestDays)) {
    return Invalid("as_of", absl::StrCat(days.size(), " days; at most ", kMaxBacktestDays));
  }
  for (size_t i = 0; i < days.size(); ++i) {
    if (days[i] > last_known) {
      return Invalid(absl::StrCat("as_of[", i, "]"),
                     absl::StrCat("must be at least horizon_days (", out.horizon_days,
                                  ") before today, on or before ", absl::FormatCivilTime(last_known)));
    }
    for (size_t j = 0; j < i; ++j) {
      if (days[j] == days[i]) return Invalid(absl::StrCat("as_of[", i, "]"), "appears twice");
    }
  }
  std::sort(days.begin(), days.end());
  int longest_lookback = 1;
  for (const ComponentSpec& c : scorecard.components) {
    longest_lookback = std::max(longest_lookback, c.measure.lookback_days);
  }

  std::vector<BacktestTally> tallies(days.size());
  for (size_t i = 0; i < days.size(); ++i) tallies[i].as_of = days[i];
  RETURN_IF_ERROR(repository_->ForEachAccountHistory(
      days.front() - (longest_lookback - 1), days.back(),
      [&](const AccountHistory& history) -> absl::Status {
        for (size_t i = 0; i < days.size(); ++i) {
          AddToBacktest(scorecard, history, days[i], out.horizon_days, &tallies[i]);
        }
        return absl::OkStatus();
      }));
  // Every day together: an account counts once per day it was replayed on.
  BacktestTally all;
  for (const BacktestTally& t : tallies) {
    all.cases.insert(all.cases.end(), t.cases.begin(), t.cases.end());
    all.skipped_already_churned += t.skipped_already_churned;
    all.skipped_no_data += t.skipped_no_data;
    all.skipped_not_covered += t.skipped_not_covered;
    out.by_date.push_back(Summarize(t));
  }
  out.overall = Summarize(all);
  return out;
}

absl::StatusOr<StoredChurnModel> HealthService::TrainChurnModel(
    const db::WriteKey& key, const db::ResultCodec<StoredChurnModel>& codec,
    const TrainChurnRequest& request) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id, /*required=*/false));
  StoredChurnModel out;
  out.horizon_days = request.horizon_days == 0 ? kDefaultHorizonDays : request.horizon_days;
  if (out.horizon_days < 0 || out.horizon_days > kMaxHorizonDays) {
    return Invalid("horizon_days", absl::StrCat("must be in 0-", kMaxHorizonDays));
  }
  out.lookback_days = request.lookback_days == 0 ? kDefaultLookbackDays : request.lookback_days;
  if (out.lookback_days < 0 || out.lookback_days > kMaxLookbackDays) {
    return Invalid("lookback_days", absl::StrCat("must be in 0-", kMaxLookbackDays));
  }
  out.holdout_fraction = request.holdout_fraction == 0 ? 0.25 : request.holdout_fraction;
  if (!(out.holdout_fraction > 0 && out.holdout_fraction < 1)) {
    return Invalid("holdout_fraction", "must be between 0 and 1, exclusive");
  }
  out.seed = request.seed == 0 ? 1 : request.seed;
  const absl::Time now = clock_->Now();
  const absl::CivilDay last_known = DayOf(now) - out.horizon_days;
  out.cutoff = request.cutoff.value_or(last_known);
  if (out.cutoff > last_known) {
    return Invalid("cutoff", absl::StrCat("must be at least horizon_days (", out.horizon_days,
                                          ") before today, on or before ",
                                          absl::FormatCivilTime(last_known)));
  }
  // A retry is answered from the stored answer before training again, which could
  // otherwise fail or differ if accounts changed in between.
  ASSIGN_OR_RETURN(std::optional<StoredChurnModel> replay,
                   repository_->StoredTrainAnswer(key, codec));
  if (replay.has_value()) return *std::move(replay);

  std::vector<ChurnExample> examples;
  RETURN_IF_ERROR(repository_->ForEachAccountHistory(
      out.cutoff - (out.lookback_days - 1), out.cutoff,
      [&](const AccountHistory& history) -> absl::Status {
        std::optional<ChurnExample> e =
            ChurnExampleAt(history, out.cutoff, out.horizon_days, out.lookback_days);
        if (e.has_value()) examples.push_back(*std::move(e));
        return absl::OkStatus();
      }));
  TrainOptions options;
  options.holdout_fraction = out.holdout_fraction;
  options.seed = out.seed;
  ASSIGN_OR_RETURN(out.model, cs::health::TrainChurnModel(ChurnFeatureNames(), examples, options));
  out.trained_at = now;
  absl::StatusOr<StoredChurnModel> stored = repository_->StoreChurnModel(key, codec, out);
  // This replica serves the new model at once; others within kModelCacheTtl.
  std::lock_guard<std::mutex> lock(model_mu_);
  model_loaded_at_.reset();
  return stored;
}

absl::StatusOr<StoredChurnModel> HealthService::GetChurnModel(int64_t model_id) {
  if (model_id < 0) return Invalid("model_id", "must not be negative");
  // A day's slack: another replica's clock may run a little ahead of this one's.
  ASSIGN_OR_RETURN(std::optional<StoredChurnModel> model,
                   repository_->FindChurnModel(model_id, clock_->Now() + absl::Hours(24)));
  if (!model.has_value()) {
    return absl::NotFoundError(model_id == 0 ? std::string("no churn model has been trained yet")
                                             : absl::StrCat("churn model ", model_id, " not found"));
  }
  return *std::move(model);
}

}  // namespace cs::health
