#include "services/playbooks/advocacy.h"

#include "common/enum_names.h"

namespace cs::playbooks {
namespace {

constexpr EnumNames<AdvocacyKind, 4> kKinds({{
    {AdvocacyKind::kUnspecified, "UNSPECIFIED"},
    {AdvocacyKind::kReference, "REFERENCE"},
    {AdvocacyKind::kCaseStudy, "CASE_STUDY"},
    {AdvocacyKind::kReferral, "REFERRAL"},
}});

constexpr EnumNames<AskStatus, 5> kStatuses({{
    {AskStatus::kUnspecified, "UNSPECIFIED"},
    {AskStatus::kRequested, "REQUESTED"},
    {AskStatus::kAgreed, "AGREED"},
    {AskStatus::kDeclined, "DECLINED"},
    {AskStatus::kCompleted, "COMPLETED"},
}});

}  // namespace

absl::string_view AdvocacyKindName(AdvocacyKind k) { return kKinds.Name(k); }
std::optional<AdvocacyKind> AdvocacyKindFromName(absl::string_view n) { return kKinds.Parse(n); }
absl::string_view AskStatusName(AskStatus s) { return kStatuses.Name(s); }
std::optional<AskStatus> AskStatusFromName(absl::string_view n) { return kStatuses.Parse(n); }

bool AskTransitionAllowed(AskStatus from, AskStatus to) {
  switch (from) {
    case AskStatus::kRequested:
      return to == AskStatus::kAgreed || to == AskStatus::kDeclined;
    case AskStatus::kAgreed:
      return to == AskStatus::kCompleted || to == AskStatus::kDeclined;
    default:
      return false;
  }
}

}  // namespace cs::playbooks
