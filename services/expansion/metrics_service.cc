#include "services/expansion/metrics_service.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/money.h"
#include "common/status.h"
#include "common/validation.h"
#include "services/expansion/revenue_service.h"

namespace cs::expansion {
namespace {

absl::StatusOr<std::string> CurrencyOrDefault(const std::string& currency) {
  if (currency.empty()) return std::string("USD");
  if (!IsIsoCurrency(currency)) {
    return absl::InvalidArgumentError(
        absl::StrCat("currency_code: '", currency, "' is not an ISO-4217 code"));
  }
  return currency;
}

absl::Status CheckPeriod(const MonthPeriod& p) {
  if (p.first < absl::CivilMonth(1970, 1) || p.last > absl::CivilMonth(9999, 12)) {
    return absl::InvalidArgumentError("period: first_month and last_month must be set");
  }
  if (p.last < p.first) {
    return absl::InvalidArgumentError("period.last_month: must not be before first_month");
  }
  if (p.last - p.first >= 1200) {
    return absl::InvalidArgumentError("period: at most 100 years");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PipelineReport> MetricsService::Pipeline(const std::string& currency,
                                                        const std::string& owner_id, Tier tier) {
  ASSIGN_OR_RETURN(std::string code, CurrencyOrDefault(currency));
  RETURN_IF_ERROR(ValidateId("owner_id", owner_id, /*required=*/false));
  return opportunities_->SummarizeOpen(code, owner_id, tier);
}

absl::StatusOr<ForecastSnapshot> MetricsService::CurrentForecast(const std::string& currency) {
  ASSIGN_OR_RETURN(PipelineReport report,
                   opportunities_->SummarizeOpen(currency, "", Tier::kUnspecified));
  ForecastSnapshot s;
  s.taken_at = clock_->Now();
  s.currency = currency;
  s.by_quarter = report.by_quarter;
  return s;
}

absl::StatusOr<ForecastSnapshot> MetricsService::Snapshot(
    const db::WriteKey& key, const db::ResultCodec<ForecastSnapshot>& codec,
    const std::string& currency) {
  RETURN_IF_ERROR(ValidateId("request_id", key.request_id));
  ASSIGN_OR_RETURN(std::string code, CurrencyOrDefault(currency));
  // Computed before the write: a retry replays the stored snapshot regardless.
  ASSIGN_OR_RETURN(ForecastSnapshot snapshot, CurrentForecast(code));
  return opportunities_->SaveSnapshot(key, codec, snapshot);
}

absl::StatusOr<int> MetricsService::RunScheduledSnapshots() {
  const absl::CivilDay today = absl::ToCivilDay(clock_->Now(), absl::UTCTimeZone());
  int taken = 0;
  for (const std::string& currency : settings_.snapshot_currencies) {
    ASSIGN_OR_RETURN(bool took, opportunities_->TakeScheduledSnapshot(
                                    today, currency, [&] { return CurrentForecast(currency); }));
    if (took) ++taken;
  }
  return taken;
}

absl::StatusOr<SnapshotPage> MetricsService::ListSnapshots(int64_t after_id, int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError("page.page_size: must be in 1-1000");
  }
  return opportunities_->ListSnapshots(after_id, page_size);
}

absl::StatusOr<ForecastAccuracy> MetricsService::Accuracy(int64_t snapshot_id) {
  if (snapshot_id <= 0) return absl::InvalidArgumentError("snapshot_id: must be set");
  ForecastAccuracy out;
  ASSIGN_OR_RETURN(out.snapshot, opportunities_->GetSnapshot(snapshot_id));
  std::vector<Quarter> quarters;
  for (const auto& [q, amounts] : out.snapshot.by_quarter) quarters.push_back(q);
  ASSIGN_OR_RETURN(auto won, opportunities_->WonByQuarter(out.snapshot.currency, quarters));
  for (const auto& [q, amounts] : out.snapshot.by_quarter) {
    QuarterAccuracy a;
    a.quarter = q;
    a.forecast = amounts;
    a.actual_won = won[q];
    if (amounts.weighted != 0) {
      const double f = static_cast<double>(amounts.weighted);
      a.accuracy_ratio = a.actual_won / f;
      a.error_ratio = (a.actual_won - f) / f;
    }
    out.quarters.push_back(a);
  }
  return out;
}

absl::StatusOr<ExpansionReport> MetricsService::Expansion(const MonthPeriod& period,
                                                          const std::string& currency, Tier tier) {
  RETURN_IF_ERROR(CheckPeriod(period));
  ASSIGN_OR_RETURN(std::string code, CurrencyOrDefault(currency));
  const absl::TimeZone utc = absl::UTCTimeZone();
  ASSIGN_OR_RETURN(
      std::vector<ClosedOpportunity> closed,
      opportunities_->ListClosed(code, tier, absl::FromCivil(absl::CivilDay(period.first), utc),
                                 absl::FromCivil(absl::CivilDay(period.last + 1), utc)));
  if (ledger_index_ != nullptr) {
    ExpansionAccumulator sums;
    const absl::Status s = ledger_index_->ForEachPeriod(
        code, tier, period.first, period.last, /*cohort_only=*/false,
        [&sums](const AccountPeriod& a) { return sums.Add(a); });
    if (s.ok()) return sums.Finish(closed);
    // FAILED_PRECONDITION: a compacted sum overflowed; the database sums exactly.
    if (s.code() != absl::StatusCode::kFailedPrecondition) return s;
  }
  ASSIGN_OR_RETURN(std::vector<AccountPeriod> accounts,
                   revenue_->LoadPeriods(code, tier, period.first, period.last));
  return ComputeExpansion(accounts, closed);
}

absl::StatusOr<RetentionReport> MetricsService::Retention(const MonthPeriod& period,
                                                          const std::string& currency,
                                                          double gross_margin_percent) {
  RETURN_IF_ERROR(CheckPeriod(period));
  ASSIGN_OR_RETURN(std::string code, CurrencyOrDefault(currency));
  if (gross_margin_percent < 0 || gross_margin_percent > 100) {
    return absl::InvalidArgumentError("gross_margin_percent: must be in (0, 100]");
  }
  const double margin =
      gross_margin_percent == 0 ? settings_.gross_margin : gross_margin_percent / 100.0;
  const int months = static_cast<int>(period.last - period.first) + 1;
  if (ledger_index_ != nullptr) {
    // Accounts without MRR at the start are outside every cohort (the accumulator
    // skips them), so the index leaves them out.
    RetentionAccumulator cohort;
    const absl::Status s = ledger_index_->ForEachPeriod(
        code, Tier::kUnspecified, period.first, period.last, /*cohort_only=*/true,
        [&cohort](const AccountPeriod& a) { return cohort.Add(a); });
    if (s.ok()) return cohort.Finish(months, margin);
    // FAILED_PRECONDITION: a compacted sum overflowed; the database sums exactly.
    if (s.code() != absl::StatusCode::kFailedPrecondition) return s;
  }
  ASSIGN_OR_RETURN(std::vector<AccountPeriod> accounts,
                   revenue_->LoadPeriods(code, Tier::kUnspecified, period.first, period.last));
  return ComputeRetention(accounts, months, margin);
}

void ForecastScheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || interval_ <= absl::ZeroDuration()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ForecastScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ForecastScheduler::Run() {
  bool failing = false;
  while (true) {
    absl::StatusOr<int> taken = metrics_->RunScheduledSnapshots();
    if (!taken.ok()) {
      // Once per run of failures (the database may be down for a while).
      if (!failing) {
        log::Warn("scheduled forecast snapshot failed",
                  {{"status", std::string(taken.status().message())}});
      }
      failing = true;
    } else {
      failing = false;
      if (*taken > 0) log::Info("scheduled forecast snapshot taken", {{"snapshots", *taken}});
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace cs::expansion
