#ifndef CS_SERVICES_PLAYBOOKS_PEERS_H_
#define CS_SERVICES_PLAYBOOKS_PEERS_H_

// What the playbook service needs from the other services, as plain interfaces:
// the health service's event stream and account context, and the expansion
// service's opportunities. The gRPC implementations live in grpc_peers.{h,cc}.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/playbooks/playbook.h"

namespace cs::playbooks {

// Values follow cs.health.v1.EventKind; kinds this service does not know are kOther.
enum class HealthEventKind {
  kOther = 0,
  kAccountUpserted = 1,
  kScoreChanged = 2,
  kBandChanged = 3,
  kAlertOpened = 4,
  kAlertResolved = 5,
  kAccountChurned = 6,
  kExpansionSignal = 7,
  kFirstValueReached = 8,
  kNpsRecorded = 9,
};

struct HealthEvent {
  int64_t sequence = 0;
  HealthEventKind kind = HealthEventKind::kOther;
  std::string account_id;
  absl::Time occurred_at;
  // ACCOUNT_UPSERTED, ACCOUNT_CHURNED.
  std::optional<AccountProfile> account;
  // SCORE_CHANGED, BAND_CHANGED, EXPANSION_SIGNAL ("" when none).
  std::string score_name;
  std::string band;
  std::string previous_band;
  double score = 0;
  std::string tier;
  // ALERT_OPENED, ALERT_RESOLVED.
  std::string alert_kind;
  // EXPANSION_SIGNAL.
  std::string signal_event_id;
  std::string signal_kind;
  std::string feature;
  // FIRST_VALUE_REACHED: when the account reached value; NPS_RECORDED: when it answered.
  std::optional<absl::Time> signal_at;
  // NPS_RECORDED: the answer, 0-10.
  double nps = 0;
  // ACCOUNT_UPSERTED, ACCOUNT_CHURNED: the account's ARR when health has one.
  std::optional<int64_t> arr_minor;
  std::string arr_currency;
};

struct HealthEventPage {
  std::vector<HealthEvent> events;
  int64_t last_sequence = 0;
};

class HealthFeed {
 public:
  virtual ~HealthFeed() = default;
  // Events with sequence > after, oldest first. UNAVAILABLE while health is down.
  virtual absl::StatusOr<HealthEventPage> ListEvents(int64_t after, int limit) = 0;
  // NOT_FOUND for an unknown account; UNAVAILABLE while health is down.
  virtual absl::StatusOr<AccountProfile> GetAccount(const std::string& account_id) = 0;
  // The accounts among `account_ids` that exist, by id; UNAVAILABLE while health is
  // down. This one asks GetAccount for each; a feed over the network reads them in
  // as few calls as it can.
  virtual absl::StatusOr<std::map<std::string, AccountProfile>> GetAccounts(
      const std::vector<std::string>& account_ids) {
    std::map<std::string, AccountProfile> out;
    for (const std::string& id : account_ids) {
      absl::StatusOr<AccountProfile> account = GetAccount(id);
      if (account.ok()) {
        out[id] = *std::move(account);
      } else if (account.status().code() != absl::StatusCode::kNotFound) {
        return account.status();
      }
    }
    return out;
  }
};

struct OpportunityRequest {
  // Derived from the health event, so a replay or retry never opens two.
  std::string request_id;
  std::string account_id;
  std::string signal_kind;
  std::string feature;
  std::string tier;
  // The opportunity opened for the latest earlier request of the same account,
  // signal kind and feature; empty when none was. While it is open, later signals
  // of that interest join it instead of opening another.
  std::string earlier_opportunity_id;
};

class ExpansionClient {
 public:
  virtual ~ExpansionClient() = default;
  // The opportunity's id.
  virtual absl::StatusOr<std::string> CreateOpportunity(const OpportunityRequest& request) = 0;
  // Whether the opportunity exists and is neither won nor lost.
  virtual absl::StatusOr<bool> IsOpen(const std::string& opportunity_id) = 0;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_PEERS_H_
