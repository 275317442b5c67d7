#ifndef CS_SERVICES_PLAYBOOKS_ADVOCACY_MAPPING_H_
#define CS_SERVICES_PLAYBOOKS_ADVOCACY_MAPPING_H_

// Proto <-> domain for onboarding metrics and advocacy. Tiers on these messages
// are cs.health.v1.Tier (the accounts are health's); stored as their names.

#include <string>

#include "absl/status/statusor.h"
#include "cs/playbooks/v1/playbooks.pb.h"
#include "services/playbooks/advocacy.h"
#include "services/playbooks/onboarding.h"
#include "services/playbooks/onboarding_service.h"

namespace cs::playbooks {

std::string HealthTierName(int tier);
absl::StatusOr<std::string> HealthTierFromProto(const std::string& field, int tier);
int HealthTierToProto(const std::string& name);

absl::StatusOr<OnboardingQuery> OnboardingQueryFromProto(
    const cs::playbooks::v1::GetOnboardingMetricsRequest& p);
void OnboardingReportToProto(const OnboardingReport& r,
                             cs::playbooks::v1::GetOnboardingMetricsResponse* out);

absl::StatusOr<CandidateCriteria> CandidateCriteriaFromProto(
    const cs::playbooks::v1::ListAdvocateCandidatesRequest& p);
void CandidateToProto(const AdvocateCandidate& c, cs::playbooks::v1::AdvocateCandidate* out);

void AskToProto(const AdvocacyAsk& a, cs::playbooks::v1::AdvocacyAsk* out);
absl::StatusOr<AdvocacyAsk> AskFromProto(const cs::playbooks::v1::AdvocacyAsk& p);
absl::StatusOr<AdvocacyAsk> AskFromRequest(const cs::playbooks::v1::RecordAdvocacyAskRequest& p);

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ADVOCACY_MAPPING_H_
