#ifndef CS_SERVICES_PLAYBOOKS_ONBOARDING_SERVICE_H_
#define CS_SERVICES_PLAYBOOKS_ONBOARDING_SERVICE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "services/playbooks/advocacy_repository.h"
#include "services/playbooks/onboarding.h"

namespace cs::playbooks {

struct OnboardingQuery {
  std::optional<absl::Time> from;
  std::optional<absl::Time> to;
  std::string tier;  // empty: every tier
  // Replace DOMAIN's targets for the tiers they name.
  std::vector<OnboardingTarget> targets;
  int late_limit = 0;  // 0: 100
};

class OnboardingService {
 public:
  static constexpr int kDefaultPeriodDays = 90;
  static constexpr int kDefaultLateLimit = 100;
  static constexpr int kMaxLateLimit = 1000;

  OnboardingService(OutcomeRepository* repository, const Clock* clock)
      : repository_(repository), clock_(clock) {}

  absl::StatusOr<OnboardingReport> GetOnboardingMetrics(const OnboardingQuery& query);

 private:
  OutcomeRepository* repository_;
  const Clock* clock_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ONBOARDING_SERVICE_H_
