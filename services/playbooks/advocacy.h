#ifndef CS_SERVICES_PLAYBOOKS_ADVOCACY_H_
#define CS_SERVICES_PLAYBOOKS_ADVOCACY_H_

// Advocacy (DOMAIN §3, the GREEN response: references, case studies, referrals):
// who may be asked, and the record of asks that keeps an account from being asked
// twice in a quarter.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cs::playbooks {

// Values match cs.playbooks.v1.AdvocacyKind and AdvocacyAskStatus.
enum class AdvocacyKind { kUnspecified = 0, kReference = 1, kCaseStudy = 2, kReferral = 3 };
enum class AskStatus { kUnspecified = 0, kRequested = 1, kAgreed = 2, kDeclined = 3, kCompleted = 4 };

absl::string_view AdvocacyKindName(AdvocacyKind k);
std::optional<AdvocacyKind> AdvocacyKindFromName(absl::string_view name);
absl::string_view AskStatusName(AskStatus s);
std::optional<AskStatus> AskStatusFromName(absl::string_view name);

// REQUESTED -> AGREED | DECLINED; AGREED -> COMPLETED | DECLINED; the rest are final.
bool AskTransitionAllowed(AskStatus from, AskStatus to);

// One quarter: an account asked (any kind, any answer) within it is not asked again.
inline constexpr absl::Duration kAskQuietPeriod = absl::Hours(24 * 90);

struct AdvocacyAsk {
  int64_t ask_id = 0;
  std::string account_id;
  AdvocacyKind kind = AdvocacyKind::kUnspecified;
  AskStatus status = AskStatus::kUnspecified;
  std::string asked_by;
  std::string note;
  std::string override_reason;
  absl::Time asked_at;
  absl::Time updated_at;
};

struct AskFilter {
  std::string account_id;
  std::optional<AdvocacyKind> kind;
  std::optional<AskStatus> status;
  int page_size = 50;
  // Decoded page token: the last ask id of the previous page (0: the first page).
  int64_t before_ask_id = 0;
};

struct AskPage {
  std::vector<AdvocacyAsk> asks;
  int64_t next_before = 0;  // 0 on the last page
};

// Defaults: DOMAIN §2's "maintain health above 80" (000), a promoter's NPS (9-10 on
// the 0-10 scale) and a month GREEN without a break (the shortest trend window).
struct CandidateCriteria {
  double min_score = 80;
  double min_nps = 9;
  int min_green_days = 30;
  std::string tier;  // empty: every tier
  int limit = 50;
};

struct AdvocateCandidate {
  std::string account_id;
  std::string tier;
  std::string owner_id;
  double score = 0;
  double nps = 0;
  absl::Time nps_at;
  absl::Time green_since;
  double days_stable = 0;
  std::optional<int64_t> arr_minor;
  std::string arr_currency;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_ADVOCACY_H_
