#ifndef CS_SERVICES_EXPANSION_METRICS_H_
#define CS_SERVICES_EXPANSION_METRICS_H_

// Pure computations over ledger and pipeline figures the repository has read:
// retention, expansion, pipeline, movements derived from monthly MRR, and the
// suggestion rules. No SQL here, so every formula is unit-tested by hand.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/expansion/opportunity.h"
#include "services/expansion/revenue.h"

namespace cs::expansion {

// One account's ledger over a period of months (amounts in minor units).
struct AccountPeriod {
  std::string account_id;
  Tier tier = Tier::kUnspecified;
  int64_t start_mrr = 0;  // movements before the first month
  int64_t end_mrr = 0;    // movements through the last month
  // The period's movements, contraction and churn as positive amounts.
  int64_t new_mrr = 0;
  int64_t expansion_mrr = 0;
  int64_t reactivation_mrr = 0;
  int64_t contraction_mrr = 0;
  int64_t churn_mrr = 0;
  int expansion_movements = 0;
};

struct RetentionFigures {
  int64_t starting_mrr = 0;
  int starting_accounts = 0;
  int64_t expansion_mrr = 0;
  int64_t contraction_mrr = 0;
  int64_t churned_mrr = 0;
  int churned_accounts = 0;
  std::optional<double> grr, nrr;
  std::optional<double> logo_churn_period, logo_churn_monthly, logo_churn_annual;
  std::optional<double> revenue_churn_period, revenue_churn_monthly;
  std::optional<int64_t> arpa;
  std::optional<int64_t> clv;
};

struct RetentionReport {
  RetentionFigures overall;
  std::map<Tier, RetentionFigures> by_tier;  // tiers with a cohort
  double gross_margin = 0;                   // fraction, e.g. 0.8
  int months = 0;
};

// The cohort is the accounts with MRR above 0 at the start of the period.
// GRR = sum(min(end, start)) / sum(start); NRR = sum(end) / sum(start);
// logo churn (period) = cohort accounts at 0 MRR at the end / cohort accounts;
// monthly = 1 - (1 - period)^(1/months); annual = 1 - (1 - monthly)^12;
// revenue churn (period) = 1 - GRR, monthly likewise; ARPA = starting MRR / cohort
// accounts; CLV = ARPA x gross margin / monthly logo churn (absent when nobody churned).
// OUT_OF_RANGE when a sum would not fit in int64.
absl::StatusOr<RetentionReport> ComputeRetention(const std::vector<AccountPeriod>& accounts,
                                                 int months, double gross_margin);

// ComputeRetention one account at a time, for callers that do not hold every
// AccountPeriod at once (the ledger index). Add the accounts in any order, then
// Finish: the same report, and OUT_OF_RANGE under the same conditions.
class RetentionAccumulator {
 public:
  absl::Status Add(const AccountPeriod& account);
  absl::StatusOr<RetentionReport> Finish(int months, double gross_margin) const;

  // The cohort sums of one group of accounts.
  struct Sums {
    RetentionFigures figures;
    int64_t kept = 0;    // sum of min(end, start)
    int64_t ending = 0;  // sum of end, 0 at least
  };

 private:
  Sums overall_;
  std::map<Tier, Sums> by_tier_;
};

// An opportunity that closed (won or lost) in the period.
struct ClosedOpportunity {
  OpportunityKind kind = OpportunityKind::kUnspecified;
  bool won = false;
  absl::Time created_at;
  absl::Time closed_at;
};

struct KindWinRate {
  int won = 0;
  int lost = 0;
  std::optional<double> win_rate;
};

struct ExpansionReport {
  int64_t new_mrr = 0;
  int64_t expansion_mrr = 0;
  int64_t reactivation_mrr = 0;
  std::optional<double> expansion_share;  // expansion / (new + expansion + reactivation)
  int starting_accounts = 0;
  int expanded_accounts = 0;  // of the starting accounts
  std::optional<double> expansion_rate;
  std::optional<int64_t> expansion_arpu;  // expansion MRR / accounts with an expansion
  int won_opportunities = 0;
  std::optional<double> cycle_median_days, cycle_mean_days;
  std::map<OpportunityKind, KindWinRate> win_rate_by_kind;
};

absl::StatusOr<ExpansionReport> ComputeExpansion(const std::vector<AccountPeriod>& accounts,
                                                 const std::vector<ClosedOpportunity>& closed);

// ComputeExpansion one account at a time (the ledger index), then Finish with the
// closed opportunities: the same report, and OUT_OF_RANGE under the same conditions.
class ExpansionAccumulator {
 public:
  absl::Status Add(const AccountPeriod& account);
  absl::StatusOr<ExpansionReport> Finish(const std::vector<ClosedOpportunity>& closed) const;

 private:
  ExpansionReport report_;
  int accounts_with_expansion_ = 0;
};

// Pipeline sums of open opportunities of one currency.
struct AmountPair {
  int64_t total = 0;
  int64_t weighted = 0;  // sum of round(amount x probability / 100)
  int count = 0;
};

struct PipelineReport {
  AmountPair open;
  std::map<Stage, AmountPair> by_stage;
  std::map<OpportunityKind, AmountPair> by_kind;
  std::map<Tier, AmountPair> by_tier;
  std::map<Quarter, AmountPair> by_quarter;  // of expected close
};

absl::StatusOr<PipelineReport> ComputePipeline(const std::vector<Opportunity>& open);

// round(amount x percent / 100), half away from zero, without overflow.
int64_t WeightedAmount(int64_t amount, int percent);
// The MRR a won opportunity posts: round(ARR / 12).
int64_t MonthlyFromAnnual(int64_t arr);

// A movement derived from monthly MRR figures.
struct DerivedMovement {
  absl::CivilMonth month;
  MovementKind kind = MovementKind::kUnspecified;
  int64_t mrr_change = 0;
  bool operator==(const DerivedMovement&) const = default;
};

// Walks one account's months from its first imported month to its last; a month not
// given counts as MRR 0. Each month is compared with the one before it: 0 -> x is NEW
// the first time and REACTIVATION after that, x -> 0 is CHURN, a rise EXPANSION, a
// fall CONTRACTION, no change nothing. `months` maps month -> MRR.
std::vector<DerivedMovement> DeriveMovements(const std::map<absl::CivilMonth, int64_t>& months);

struct Suggestion {
  OpportunityKind kind = OpportunityKind::kUnspecified;
  std::string rule;
  std::vector<std::string> evidence;
  std::string subject;
  int64_t existing_opportunity_id = 0;
};

struct SuggestionSettings {
  int seat_utilization_percent = 90;
  int usage_near_limit_percent = 80;
};

// The rules over an account profile. `open_by_kind` maps a kind to an open
// opportunity of the account, so a suggestion can point at it.
std::vector<Suggestion> SuggestFromProfile(const AccountProfile& profile,
                                           const std::map<OpportunityKind, int64_t>& open_by_kind,
                                           const SuggestionSettings& settings);

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_METRICS_H_
