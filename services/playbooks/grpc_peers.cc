#include "services/playbooks/grpc_peers.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/server/common_mapping.h"
#include "common/server/peer_channel.h"
#include "common/server/proto_util.h"
#include "common/status.h"
#include "services/playbooks/proto_mapping.h"

namespace cs::playbooks {
namespace {

namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;

std::optional<absl::CivilDay> Day(const cs::common::v1::Date& d) {
  absl::StatusOr<std::optional<absl::CivilDay>> day = DateFromProto("date", d);
  return day.ok() ? *day : std::nullopt;
}

ev1::OpportunityKind KindOf(const std::string& signal_kind) {
  if (signal_kind == "FEATURE_REQUEST") return ev1::OPPORTUNITY_KIND_FEATURE_UPSELL;
  if (signal_kind == "INTEGRATION_REQUEST") return ev1::OPPORTUNITY_KIND_INTEGRATION_EXPANSION;
  // A referral points at another team or department of the same customer.
  if (signal_kind == "REFERRAL") return ev1::OPPORTUNITY_KIND_VERTICAL_EXPANSION;
  return ev1::OPPORTUNITY_KIND_PLAN_UPGRADE;
}

}  // namespace

AccountProfile AccountFromProto(const hv1::Account& a) {
  AccountProfile p;
  p.account_id = a.account_id();
  p.tier = EnumSuffix(hv1::Tier_Name(a.tier()), "TIER_");
  p.industry = EnumSuffix(hv1::Industry_Name(a.industry()), "INDUSTRY_");
  p.owner_id = a.owner_id();
  p.lifecycle = EnumSuffix(hv1::Lifecycle_Name(a.lifecycle()), "LIFECYCLE_");
  p.contract_start = Day(a.contract_start());
  p.renewal_date = Day(a.renewal_date());
  return p;
}

HealthEvent HealthEventFromProto(const hv1::Event& e) {
  HealthEvent out;
  out.sequence = e.sequence();
  out.account_id = e.account_id();
  out.occurred_at = FromTimestamp(e.occurred_at());
  if (e.kind() >= 1 && e.kind() <= 9) out.kind = static_cast<HealthEventKind>(e.kind());
  if (e.has_account()) {
    out.account = AccountFromProto(e.account());
    if (e.account().has_arr() && !e.account().arr().currency_code().empty()) {
      out.arr_minor = e.account().arr().minor_units();
      out.arr_currency = e.account().arr().currency_code();
    }
  }
  if (e.has_first_value_reached()) {
    out.signal_at = FromTimestamp(e.first_value_reached().reached_at());
    out.tier = EnumSuffix(hv1::Tier_Name(e.first_value_reached().tier()), "TIER_");
  }
  if (e.has_nps_recorded()) {
    out.signal_at = FromTimestamp(e.nps_recorded().responded_at());
    out.nps = e.nps_recorded().score();
    out.signal_event_id = e.nps_recorded().signal_event_id();
  }
  if (e.has_score_change()) {
    const hv1::ScoreChange& s = e.score_change();
    out.score_name = s.score_name();
    out.band = EnumSuffix(hv1::Band_Name(s.band()), "BAND_");
    out.previous_band = EnumSuffix(hv1::Band_Name(s.previous_band()), "BAND_");
    out.score = s.score();
    out.tier = EnumSuffix(hv1::Tier_Name(s.tier()), "TIER_");
    // Playbooks answer the "health" score; other named scores are informational.
    if (!out.score_name.empty() && out.score_name != "health") out.kind = HealthEventKind::kOther;
  }
  if (e.has_alert()) out.alert_kind = EnumSuffix(hv1::AlertKind_Name(e.alert().kind()), "ALERT_KIND_");
  if (e.has_expansion_signal()) {
    const hv1::ExpansionSignal& s = e.expansion_signal();
    out.signal_kind = EnumSuffix(hv1::SignalKind_Name(s.signal_kind()), "SIGNAL_KIND_");
    out.signal_event_id = s.event_id();
    out.feature = s.feature();
    out.band = EnumSuffix(hv1::Band_Name(s.band()), "BAND_");
    out.score = s.score();
    out.tier = EnumSuffix(hv1::Tier_Name(s.tier()), "TIER_");
  }
  return out;
}

GrpcHealthFeed::GrpcHealthFeed(const std::string& target, const Clock* clock, Options options)
    : stub_(hv1::AccountHealthService::NewStub(MakePeerChannel(target, options.channel))),
      clock_(clock),
      options_(options) {}

absl::StatusOr<HealthEventPage> GrpcHealthFeed::ListEvents(int64_t after, int limit) {
  hv1::ListEventsRequest request;
  request.set_after_sequence(after);
  request.set_page_size(limit);
  hv1::ListEventsResponse response;
  auto context = ContextWithDeadline(options_.call_timeout);
  absl::Status s = FromPeerStatus("health", stub_->ListEvents(context.get(), request, &response));
  if (!s.ok()) return s;
  HealthEventPage page;
  page.last_sequence = response.last_sequence();
  for (const hv1::Event& e : response.events()) page.events.push_back(HealthEventFromProto(e));
  return page;
}

absl::StatusOr<AccountProfile> GrpcHealthFeed::GetAccount(const std::string& account_id) {
  const absl::Time now = clock_->Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(account_id);
    if (it != cache_.end() && now - it->second.second < options_.cache_ttl) return it->second.first;
  }
  hv1::GetAccountRequest request;
  request.set_account_id(account_id);
  hv1::GetAccountResponse response;
  auto context = ContextWithDeadline(options_.call_timeout);
  absl::Status s = FromPeerStatus("health", stub_->GetAccount(context.get(), request, &response));
  if (!s.ok()) {
    if (s.code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("account '", account_id, "' not found"));
    }
    return s;
  }
  AccountProfile profile = AccountFromProto(response.account());
  Remember(account_id, profile, now);
  return profile;
}

void GrpcHealthFeed::Remember(const std::string& account_id, const AccountProfile& profile,
                              absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: the cache is a burst absorber, not a copy of health's accounts.
  if (cache_.size() > 10000) cache_.clear();
  cache_[account_id] = {profile, now};
}

absl::StatusOr<std::map<std::string, AccountProfile>> GrpcHealthFeed::GetAccounts(
    const std::vector<std::string>& account_ids) {
  constexpr int kPerCall = 1000;  // ListAccounts' limit on ids and on page size
  const absl::Time now = clock_->Now();
  std::map<std::string, AccountProfile> out;
  std::vector<std::string> missing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : account_ids) {
      auto it = cache_.find(id);
      if (it != cache_.end() && now - it->second.second < options_.cache_ttl) {
        out[id] = it->second.first;
      } else {
        missing.push_back(id);  // sorted and deduplicated below
      }
    }
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  for (size_t first = 0; first < missing.size(); first += kPerCall) {
    const size_t last = std::min(missing.size(), first + kPerCall);
    const std::vector<std::string> asked(missing.begin() + first, missing.begin() + last);
    hv1::ListAccountsRequest request;
    for (const std::string& id : asked) request.add_account_ids(id);
    request.mutable_page()->set_page_size(kPerCall);
    hv1::ListAccountsResponse response;
    auto context = ContextWithDeadline(options_.call_timeout);
    const absl::Status listed =
        FromPeerStatus("health", stub_->ListAccounts(context.get(), request, &response));
    // A health that predates account_ids answers UNIMPLEMENTED (a stand-in) or lists
    // accounts that were not asked for (it ignored the filter): ask one by one.
    bool filtered = listed.ok();
    for (const hv1::Account& a : response.accounts()) {
      if (!std::binary_search(asked.begin(), asked.end(), a.account_id())) filtered = false;
    }
    if (!filtered && (listed.ok() || listed.code() == absl::StatusCode::kUnimplemented)) {
      ASSIGN_OR_RETURN(auto one_by_one, HealthFeed::GetAccounts(asked));
      out.merge(one_by_one);
      continue;
    }
    RETURN_IF_ERROR(listed);
    for (const hv1::Account& a : response.accounts()) {
      AccountProfile profile = AccountFromProto(a);
      Remember(a.account_id(), profile, now);
      out[a.account_id()] = std::move(profile);
    }
  }
  return out;
}

GrpcExpansionClient::GrpcExpansionClient(const std::string& target, const Clock* clock,
                                         Options options)
    : stub_(ev1::ExpansionService::NewStub(MakePeerChannel(target, options.channel))),
      clock_(clock),
      options_(std::move(options)) {}

absl::StatusOr<std::string> GrpcExpansionClient::CreateOpportunity(
    const OpportunityRequest& r) {
  ev1::CreateOpportunityRequest request;
  request.set_request_id(r.request_id);
  ev1::Opportunity* o = request.mutable_opportunity();
  o->set_account_id(r.account_id);
  o->set_kind(KindOf(r.signal_kind));
  o->mutable_amount()->set_minor_units(options_.default_amount_minor_units);
  o->mutable_amount()->set_currency_code(options_.currency_code);
  const absl::CivilDay close =
      absl::ToCivilDay(clock_->Now(), absl::UTCTimeZone()) + options_.expected_close_days;
  DateToProto(close, o->mutable_expected_close_date());
  o->set_source(ev1::OPPORTUNITY_SOURCE_PLAYBOOK);
  o->set_source_ref(r.request_id);
  o->set_title(absl::StrCat("Expansion interest: ",
                            r.feature.empty() ? r.signal_kind : r.feature).substr(0, 200));
  ev1::Tier tier = ev1::TIER_UNSPECIFIED;
  if (ev1::Tier_Parse(absl::StrCat("TIER_", r.tier), &tier)) o->set_tier(tier);
  ev1::CreateOpportunityResponse response;
  auto context = ContextWithDeadline(options_.call_timeout);
  absl::Status s =
      FromPeerStatus("expansion", stub_->CreateOpportunity(context.get(), request, &response));
  if (!s.ok()) return s;
  return response.opportunity().opportunity_id();
}

absl::StatusOr<bool> GrpcExpansionClient::IsOpen(const std::string& opportunity_id) {
  ev1::GetOpportunityRequest request;
  request.set_opportunity_id(opportunity_id);
  ev1::GetOpportunityResponse response;
  auto context = ContextWithDeadline(options_.call_timeout);
  absl::Status s =
      FromPeerStatus("expansion", stub_->GetOpportunity(context.get(), request, &response));
  if (s.code() == absl::StatusCode::kNotFound) return false;
  if (!s.ok()) return s;
  const ev1::Stage stage = response.opportunity().stage();
  return stage != ev1::STAGE_CLOSED_WON && stage != ev1::STAGE_CLOSED_LOST;
}

}  // namespace cs::playbooks
