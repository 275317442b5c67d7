#ifndef CS_SERVICES_EXPANSION_PROTO_MAPPING_H_
#define CS_SERVICES_EXPANSION_PROTO_MAPPING_H_

#include <vector>

#include "absl/status/statusor.h"
#include "cs/expansion/v1/expansion.pb.h"
#include "services/expansion/metrics_service.h"
#include "services/expansion/opportunity.h"
#include "services/expansion/opportunity_repository.h"
#include "services/expansion/revenue.h"

namespace cs::expansion {

absl::StatusOr<RevenueMovement> MovementFromProto(const cs::expansion::v1::RevenueMovement& p);
void MovementToProto(const RevenueMovement& m, cs::expansion::v1::RevenueMovement* out);

// Every field, so it also decodes stored answers; unknown enum values and impossible
// dates are INVALID_ARGUMENT naming "opportunity.<field>".
absl::StatusOr<Opportunity> OpportunityFromProto(const cs::expansion::v1::Opportunity& p);
void OpportunityToProto(const Opportunity& o, cs::expansion::v1::Opportunity* out,
                        bool with_history = true);
// Parses a decimal id; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<int64_t> ParseId(absl::string_view field, const std::string& text);

void AdvanceToProto(const AdvanceResult& r, cs::expansion::v1::AdvanceStageResponse* out);
absl::StatusOr<AdvanceResult> AdvanceFromProto(const cs::expansion::v1::AdvanceStageResponse& p);

void ProbabilitiesToProto(
    const StageProbabilities& p,
    google::protobuf::RepeatedPtrField<cs::expansion::v1::StageProbability>* out);
void ProbabilitiesToProto(const StageProbabilities& p,
                          cs::expansion::v1::SetStageProbabilitiesResponse* out);
absl::StatusOr<StageProbabilities> ProbabilitiesFromProto(
    const cs::expansion::v1::SetStageProbabilitiesResponse& p);

absl::StatusOr<AccountProfile> ProfileFromProto(const cs::expansion::v1::AccountProfile& p);
void ProfileToProto(const AccountProfile& p, cs::expansion::v1::AccountProfile* out);

absl::StatusOr<std::vector<SubscriptionMonth>> SubscriptionsFromProto(
    const cs::expansion::v1::ImportSubscriptionsRequest& p);
void ImportResultToProto(const ImportResult& r,
                         cs::expansion::v1::ImportSubscriptionsResponse* out);
absl::StatusOr<ImportResult> ImportResultFromProto(
    const cs::expansion::v1::ImportSubscriptionsResponse& p);

void SnapshotToProto(const ForecastSnapshot& s, cs::expansion::v1::ForecastSnapshot* out);
absl::StatusOr<ForecastSnapshot> SnapshotFromProto(const cs::expansion::v1::ForecastSnapshot& p);

void PipelineToProto(const PipelineReport& r, const std::string& currency,
                     cs::expansion::v1::GetPipelineSummaryResponse* out);
void AccuracyToProto(const ForecastAccuracy& a,
                     cs::expansion::v1::GetForecastAccuracyResponse* out);
void ExpansionToProto(const ExpansionReport& r, const std::string& currency,
                      cs::expansion::v1::GetExpansionMetricsResponse* out);
void RetentionToProto(const RetentionReport& r, const std::string& currency,
                      cs::expansion::v1::GetRetentionMetricsResponse* out);

absl::StatusOr<MonthPeriod> PeriodFromProto(const cs::expansion::v1::MonthRange& p);
absl::StatusOr<Tier> TierFromProto(absl::string_view field, int value);

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_PROTO_MAPPING_H_
