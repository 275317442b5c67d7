#ifndef CS_SERVICES_PLAYBOOKS_GRPC_PEERS_H_
#define CS_SERVICES_PLAYBOOKS_GRPC_PEERS_H_

// The gRPC side of peers.h: the health service's event log and accounts, and the
// expansion service's CreateOpportunity, over peer channels (retries of
// UNAVAILABLE with backoff, a deadline on every call).

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/server/peer_channel.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "services/playbooks/peers.h"

namespace cs::playbooks {

// Maps one health event to the domain (kinds this service does not use, and
// score events of scores other than "health", become kOther).
HealthEvent HealthEventFromProto(const cs::health::v1::Event& e);
AccountProfile AccountFromProto(const cs::health::v1::Account& a);

class GrpcHealthFeed final : public HealthFeed {
 public:
  struct Options {
    absl::Duration call_timeout = absl::Seconds(5);
    // Account context is cached this long: a burst of events for one account asks once.
    absl::Duration cache_ttl = absl::Seconds(30);
    // Retries, backoff and TLS of the channel.
    PeerChannelOptions channel;
  };
  GrpcHealthFeed(const std::string& target, const Clock* clock, Options options);

  absl::StatusOr<HealthEventPage> ListEvents(int64_t after, int limit) override;
  absl::StatusOr<AccountProfile> GetAccount(const std::string& account_id) override;
  // Cached ones from the cache, the rest with ListAccounts by id, up to 1000 a call.
  absl::StatusOr<std::map<std::string, AccountProfile>> GetAccounts(
      const std::vector<std::string>& account_ids) override;

 private:
  void Remember(const std::string& account_id, const AccountProfile& profile, absl::Time now);

  std::unique_ptr<cs::health::v1::AccountHealthService::Stub> stub_;
  const Clock* clock_;
  Options options_;
  std::mutex mu_;
  std::map<std::string, std::pair<AccountProfile, absl::Time>> cache_;
};

class GrpcExpansionClient final : public ExpansionClient {
 public:
  struct Options {
    absl::Duration call_timeout = absl::Seconds(5);
    // The estimate an opportunity opens with (DOMAIN §4's expansion ARPU, $1,200),
    // until someone sizes it in the expansion service.
    int64_t default_amount_minor_units = 120000;
    std::string currency_code = "USD";
    // DOMAIN §4's expansion cycle target: identified to won in 90 days.
    int expected_close_days = 90;
    PeerChannelOptions channel;
  };
  GrpcExpansionClient(const std::string& target, const Clock* clock, Options options);

  absl::StatusOr<std::string> CreateOpportunity(const OpportunityRequest& request) override;
  absl::StatusOr<bool> IsOpen(const std::string& opportunity_id) override;

 private:
  std::unique_ptr<cs::expansion::v1::ExpansionService::Stub> stub_;
  const Clock* clock_;
  Options options_;
};

}  // namespace cs::playbooks

#endif  // CS_SERVICES_PLAYBOOKS_GRPC_PEERS_H_
