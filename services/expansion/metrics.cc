#include "services/expansion/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace cs::expansion {
namespace {

absl::Status Add(int64_t& sum, int64_t value) {
  if (__builtin_add_overflow(sum, value, &sum)) {
    return absl::OutOfRangeError("amount sum does not fit in 64 bits");
  }
  return absl::OkStatus();
}

std::optional<double> Ratio(double num, double den) {
  if (den == 0) return std::nullopt;
  return num / den;
}

// The monthly rate that compounds to `period` over `months` months.
double Monthly(double period, int months) {
  if (period >= 1) return 1;
  return 1 - std::pow(1 - period, 1.0 / months);
}

int64_t RoundDiv(__int128 num, __int128 den) {
  // Half away from zero.
  __int128 q = num / den, r = num % den;
  if (2 * (r < 0 ? -r : r) >= den) q += (num < 0 ? -1 : 1);
  return static_cast<int64_t>(q);
}

absl::Status AddToCohort(RetentionAccumulator::Sums& sums, const AccountPeriod& a) {
  RetentionFigures& f = sums.figures;
  if (a.start_mrr <= 0) return absl::OkStatus();  // not in the cohort
  ++f.starting_accounts;
  RETURN_IF_ERROR(Add(f.starting_mrr, a.start_mrr));
  RETURN_IF_ERROR(Add(f.expansion_mrr, a.expansion_mrr));
  RETURN_IF_ERROR(Add(f.expansion_mrr, a.reactivation_mrr));
  RETURN_IF_ERROR(Add(f.contraction_mrr, a.contraction_mrr));
  RETURN_IF_ERROR(Add(f.churned_mrr, a.churn_mrr));
  const int64_t end = std::max<int64_t>(a.end_mrr, 0);
  RETURN_IF_ERROR(Add(sums.kept, std::min(end, a.start_mrr)));
  RETURN_IF_ERROR(Add(sums.ending, end));
  if (end == 0) ++f.churned_accounts;
  return absl::OkStatus();
}

RetentionFigures FinishCohort(const RetentionAccumulator::Sums& sums, int months, double margin) {
  RetentionFigures f = sums.figures;
  if (f.starting_accounts == 0) return f;
  const double start = static_cast<double>(f.starting_mrr);
  f.grr = sums.kept / start;
  f.nrr = sums.ending / start;
  f.logo_churn_period = static_cast<double>(f.churned_accounts) / f.starting_accounts;
  f.logo_churn_monthly = Monthly(*f.logo_churn_period, months);
  f.logo_churn_annual = 1 - std::pow(1 - *f.logo_churn_monthly, 12);
  f.revenue_churn_period = 1 - *f.grr;
  f.revenue_churn_monthly = Monthly(*f.revenue_churn_period, months);
  f.arpa = RoundDiv(f.starting_mrr, f.starting_accounts);
  if (*f.logo_churn_monthly > 0) {
    const double clv = static_cast<double>(*f.arpa) * margin / *f.logo_churn_monthly;
    if (clv < 9.0e18) f.clv = static_cast<int64_t>(std::llround(clv));
  }
  return f;
}

}  // namespace

int64_t WeightedAmount(int64_t amount, int percent) {
  return RoundDiv(static_cast<__int128>(amount) * percent, 100);
}

int64_t MonthlyFromAnnual(int64_t arr) { return RoundDiv(arr, 12); }

absl::Status RetentionAccumulator::Add(const AccountPeriod& account) {
  RETURN_IF_ERROR(AddToCohort(overall_, account));
  return AddToCohort(by_tier_[account.tier], account);
}

absl::StatusOr<RetentionReport> RetentionAccumulator::Finish(int months,
                                                             double gross_margin) const {
  if (months < 1) return absl::InvalidArgumentError("period: must cover at least one month");
  RetentionReport report;
  report.months = months;
  report.gross_margin = gross_margin;
  report.overall = FinishCohort(overall_, months, gross_margin);
  for (const auto& [tier, sums] : by_tier_) {
    if (sums.figures.starting_accounts > 0) {
      report.by_tier[tier] = FinishCohort(sums, months, gross_margin);
    }
  }
  return report;
}

absl::StatusOr<RetentionReport> ComputeRetention(const std::vector<AccountPeriod>& accounts,
                                                 int months, double gross_margin) {
  if (months < 1) return absl::InvalidArgumentError("period: must cover at least one month");
  RetentionAccumulator cohort;
  for (const AccountPeriod& a : accounts) RETURN_IF_ERROR(cohort.Add(a));
  return cohort.Finish(months, gross_margin);
}

absl::Status ExpansionAccumulator::Add(const AccountPeriod& a) {
  ExpansionReport& r = report_;
  RETURN_IF_ERROR(expansion::Add(r.new_mrr, a.new_mrr));
  RETURN_IF_ERROR(expansion::Add(r.expansion_mrr, a.expansion_mrr));
  RETURN_IF_ERROR(expansion::Add(r.reactivation_mrr, a.reactivation_mrr));
  if (a.expansion_movements > 0) ++accounts_with_expansion_;
  if (a.start_mrr > 0) {
    ++r.starting_accounts;
    if (a.expansion_movements > 0) ++r.expanded_accounts;
  }
  return absl::OkStatus();
}

absl::StatusOr<ExpansionReport> ComputeExpansion(const std::vector<AccountPeriod>& accounts,
                                                 const std::vector<ClosedOpportunity>& closed) {
  ExpansionAccumulator sums;
  for (const AccountPeriod& a : accounts) RETURN_IF_ERROR(sums.Add(a));
  return sums.Finish(closed);
}

// (expansion::Add: the members named Add hide the checked addition.)
absl::StatusOr<ExpansionReport> ExpansionAccumulator::Finish(
    const std::vector<ClosedOpportunity>& closed) const {
  ExpansionReport r = report_;
  const int accounts_with_expansion = accounts_with_expansion_;
  int64_t new_revenue = 0;
  RETURN_IF_ERROR(expansion::Add(new_revenue, r.new_mrr));
  RETURN_IF_ERROR(expansion::Add(new_revenue, r.expansion_mrr));
  RETURN_IF_ERROR(expansion::Add(new_revenue, r.reactivation_mrr));
  r.expansion_share = Ratio(static_cast<double>(r.expansion_mrr), static_cast<double>(new_revenue));
  r.expansion_rate = Ratio(r.expanded_accounts, r.starting_accounts);
  if (accounts_with_expansion > 0) {
    r.expansion_arpu = RoundDiv(r.expansion_mrr, accounts_with_expansion);
  }
  std::vector<double> cycles;
  for (const ClosedOpportunity& c : closed) {
    KindWinRate& k = r.win_rate_by_kind[c.kind];
    if (c.won) {
      ++k.won;
      cycles.push_back(absl::ToDoubleHours(c.closed_at - c.created_at) / 24.0);
    } else {
      ++k.lost;
    }
  }
  for (auto& [kind, k] : r.win_rate_by_kind) k.win_rate = Ratio(k.won, k.won + k.lost);
  r.won_opportunities = static_cast<int>(cycles.size());
  if (!cycles.empty()) {
    std::sort(cycles.begin(), cycles.end());
    const size_t n = cycles.size();
    r.cycle_median_days = n % 2 == 1 ? cycles[n / 2] : (cycles[n / 2 - 1] + cycles[n / 2]) / 2;
    double sum = 0;
    for (double d : cycles) sum += d;
    r.cycle_mean_days = sum / n;
  }
  return r;
}

absl::StatusOr<PipelineReport> ComputePipeline(const std::vector<Opportunity>& open) {
  PipelineReport r;
  for (const Opportunity& o : open) {
    const int64_t weighted = WeightedAmount(o.amount.minor_units, o.probability_percent);
    AmountPair* pairs[] = {
        &r.open, &r.by_stage[o.stage], &r.by_kind[o.kind], &r.by_tier[o.tier],
        &r.by_quarter[QuarterOf(o.expected_close_date.value_or(absl::CivilDay()))]};
    for (AmountPair* p : pairs) {
      RETURN_IF_ERROR(Add(p->total, o.amount.minor_units));
      RETURN_IF_ERROR(Add(p->weighted, weighted));
      ++p->count;
    }
  }
  return r;
}

std::vector<DerivedMovement> DeriveMovements(const std::map<absl::CivilMonth, int64_t>& months) {
  std::vector<DerivedMovement> out;
  if (months.empty()) return out;
  int64_t previous = 0;
  bool ever_paid = false;
  const absl::CivilMonth last = months.rbegin()->first;
  for (absl::CivilMonth m = months.begin()->first; m <= last; ++m) {
    auto it = months.find(m);
    const int64_t current = it == months.end() ? 0 : it->second;
    DerivedMovement d{m, MovementKind::kUnspecified, current - previous};
    if (previous == 0 && current > 0) {
      d.kind = ever_paid ? MovementKind::kReactivation : MovementKind::kNew;
    } else if (previous > 0 && current == 0) {
      d.kind = MovementKind::kChurn;
    } else if (current > previous) {
      d.kind = MovementKind::kExpansion;
    } else if (current < previous) {
      d.kind = MovementKind::kContraction;
    }
    if (d.kind != MovementKind::kUnspecified) out.push_back(d);
    if (current > 0) ever_paid = true;
    previous = current;
  }
  return out;
}

namespace {

// DOMAIN §4's kinds by tier: SMB and solo buy plan upgrades and add-ons rather than
// seats and feature packages; enterprise buys custom solutions.
OpportunityKind KindForTier(const std::string& rule, Tier tier) {
  const bool small = tier == Tier::kSmb || tier == Tier::kSolo;
  if (rule == "seat_utilization") {
    return small ? OpportunityKind::kPlanUpgrade : OpportunityKind::kSeatExpansion;
  }
  if (rule == "usage_near_limit") {
    return tier == Tier::kSolo ? OpportunityKind::kPlanUpgrade : OpportunityKind::kUsageExpansion;
  }
  if (rule == "feature_request") {
    if (small) return OpportunityKind::kAddOn;
    return tier == Tier::kEnterprise ? OpportunityKind::kCustomSolution
                                     : OpportunityKind::kFeatureUpsell;
  }
  // integration_request
  return small ? OpportunityKind::kAddOn : OpportunityKind::kIntegrationExpansion;
}

int64_t Percent(int64_t part, int64_t whole) {
  return static_cast<int64_t>(static_cast<__int128>(part) * 100 / whole);
}

}  // namespace

std::vector<Suggestion> SuggestFromProfile(const AccountProfile& p,
                                           const std::map<OpportunityKind, int64_t>& open_by_kind,
                                           const SuggestionSettings& settings) {
  std::vector<Suggestion> out;
  auto add = [&](const std::string& rule, std::string subject, std::vector<std::string> evidence) {
    Suggestion s;
    s.kind = KindForTier(rule, p.tier);
    s.rule = rule;
    s.subject = std::move(subject);
    s.evidence = std::move(evidence);
    if (p.tier != Tier::kUnspecified) {
      s.evidence.push_back(absl::StrCat("tier ", TierName(p.tier)));
    }
    auto it = open_by_kind.find(s.kind);
    if (it != open_by_kind.end()) s.existing_opportunity_id = it->second;
    out.push_back(std::move(s));
  };
  // Integer comparison (used x 100 >= licensed x threshold) so 90 % is exact.
  if (p.seats_licensed > 0 &&
      static_cast<__int128>(p.seats_used) * 100 >=
          static_cast<__int128>(p.seats_licensed) * settings.seat_utilization_percent) {
    add("seat_utilization", "",
        {absl::StrCat("seats used ", p.seats_used, " of ", p.seats_licensed, " licensed (",
                      Percent(p.seats_used, p.seats_licensed), " %)")});
  }
  if (p.usage_limit > 0 &&
      static_cast<__int128>(p.usage_units) * 100 >=
          static_cast<__int128>(p.usage_limit) * settings.usage_near_limit_percent) {
    add("usage_near_limit", "",
        {absl::StrCat("usage ", p.usage_units, " of the plan limit ", p.usage_limit, " (",
                      Percent(p.usage_units, p.usage_limit), " %)",
                      p.plan.empty() ? "" : absl::StrCat(" on plan ", p.plan))});
  }
  for (const std::string& f : p.feature_requests) {
    add("feature_request", f, {absl::StrCat("asked for feature ", f)});
  }
  for (const std::string& i : p.integration_requests) {
    add("integration_request", i, {absl::StrCat("asked for integration ", i)});
  }
  return out;
}

}  // namespace cs::expansion
