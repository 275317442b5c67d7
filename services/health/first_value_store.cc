#include "services/health/first_value_store.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/db/event_log.h"
#include "common/db/idempotency.h"
#include "common/db/sql_values.h"
#include "common/status.h"
#include "services/health/event.h"

namespace cs::health {
namespace {

using ResultSetPtr = std::unique_ptr<sql::ResultSet>;

std::string Str(sql::ResultSet& rs, int i) { return db::GetString(rs, i); }

absl::StatusOr<std::vector<FirstValueDefinition>> ReadDefinitions(db::Connection& conn,
                                                                  bool for_update) {
  std::vector<FirstValueDefinition> out;
  ResultSetPtr rs(conn.Prepare(absl::StrCat("SELECT tier, version, signal_kind, feature,"
                                            " event_name, updated_at FROM first_value_definitions",
                                            for_update ? " FOR UPDATE" : ""))
                      .executeQuery());
  while (rs->next()) {
    FirstValueDefinition d;
    std::optional<Tier> tier = TierFromName(Str(*rs, 1));
    std::optional<SignalKind> kind = SignalKindFromName(Str(*rs, 3));
    if (!tier.has_value() || !kind.has_value()) {
      return absl::InternalError("unknown tier or signal kind in first_value_definitions");
    }
    d.tier = *tier;
    d.version = rs->getInt(2);
    d.signal_kind = *kind;
    d.feature = Str(*rs, 4);
    d.event_name = Str(*rs, 5);
    ASSIGN_OR_RETURN(d.updated_at, db::FromSqlDatetime(Str(*rs, 6)));
    out.push_back(std::move(d));
  }
  std::sort(out.begin(), out.end(), [](const FirstValueDefinition& a, const FirstValueDefinition& b) {
    return a.tier < b.tier;
  });
  return out;
}

struct AccountState {
  Tier tier = Tier::kUnspecified;
  bool reached = false;
};

}  // namespace

absl::Status RecordFirstValueAndNps(db::Connection& conn,
                                    const std::vector<AcceptedSignal>& accepted,
                                    const FirstValueEncoders& encoders, absl::Time now) {
  if (accepted.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<FirstValueDefinition> definitions,
                   ReadDefinitions(conn, /*for_update=*/false));
  // Signals that could be some tier's first value, and NPS answers; everything else
  // (the bulk of a batch: logins, sessions) costs nothing more.
  std::set<std::string> wanted;
  std::vector<const AcceptedSignal*> candidates;
  std::vector<const AcceptedSignal*> nps;
  for (const AcceptedSignal& a : accepted) {
    bool could_match = false;
    for (const FirstValueDefinition& d : definitions) {
      if (MatchesFirstValue(d, *a.signal, a.event_name)) could_match = true;
    }
    if (could_match) candidates.push_back(&a);
    if (a.signal->kind == SignalKind::kNpsResponse) nps.push_back(&a);
    if (could_match || a.signal->kind == SignalKind::kNpsResponse) wanted.insert(a.signal->account_id);
  }
  if (wanted.empty()) return absl::OkStatus();

  std::vector<std::string> ids(wanted.begin(), wanted.end());
  std::map<std::string, AccountState> accounts;
  db::ForEachChunk(ids.size(), [&](size_t offset, size_t count) {
    auto& stmt = conn.Prepare(absl::StrCat(
        "SELECT account_id, tier, first_value_at IS NOT NULL FROM accounts WHERE account_id IN ",
        db::RowPlaceholders(1, count)));
    for (size_t i = 0; i < count; ++i) stmt.setString(static_cast<int>(i + 1), ids[offset + i]);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      AccountState s;
      s.tier = TierFromName(Str(*rs, 2)).value_or(Tier::kUnspecified);
      s.reached = rs->getBoolean(3);
      accounts[Str(*rs, 1)] = s;
    }
  });

  std::map<Tier, const FirstValueDefinition*> by_tier;
  for (const FirstValueDefinition& d : definitions) by_tier[d.tier] = &d;
  // Per account, the earliest signal of the batch that matches its own tier's definition.
  std::map<std::string, const AcceptedSignal*> first;
  for (const AcceptedSignal* a : candidates) {
    auto account = accounts.find(a->signal->account_id);
    if (account == accounts.end() || account->second.reached) continue;
    auto d = by_tier.find(account->second.tier);
    if (d == by_tier.end() || !MatchesFirstValue(*d->second, *a->signal, a->event_name)) continue;
    const AcceptedSignal*& best = first[a->signal->account_id];
    if (best == nullptr || a->signal->occurred_at < best->signal->occurred_at) best = a;
  }

  std::vector<db::LoggedEvent> events;
  for (const auto& [account_id, a] : first) {
    // The IS NULL guard keeps it once even against a concurrent batch.
    auto& mark = conn.Prepare(
        "UPDATE accounts SET first_value_at = ? WHERE account_id = ? AND first_value_at IS NULL");
    mark.setString(1, db::ToSqlDatetime(a->signal->occurred_at));
    mark.setString(2, account_id);
    if (mark.executeUpdate() != 1) continue;
    const AccountState& state = accounts[account_id];
    FirstValueReached reached;
    reached.account_id = account_id;
    reached.tier = state.tier;
    reached.reached_at = a->signal->occurred_at;
    reached.signal_event_id = a->signal->event_id;
    reached.signal_kind = a->signal->kind;
    reached.feature = a->signal->feature;
    reached.event_name = a->event_name;
    reached.definition_version = by_tier[state.tier]->version;
    db::LoggedEvent e;
    e.kind = std::string(EventKindName(EventKind::kFirstValueReached));
    e.subject_id = account_id;
    e.occurred_at = now;
    e.payload = encoders.first_value_reached(reached);
    events.push_back(std::move(e));
  }
  for (const AcceptedSignal* a : nps) {
    NpsRecorded answer;
    answer.account_id = a->signal->account_id;
    answer.signal_event_id = a->signal->event_id;
    answer.score = a->signal->value;
    answer.responded_at = a->signal->occurred_at;
    auto account = accounts.find(answer.account_id);
    if (account != accounts.end()) answer.tier = account->second.tier;
    db::LoggedEvent e;
    e.kind = std::string(EventKindName(EventKind::kNpsRecorded));
    e.subject_id = answer.account_id;
    e.occurred_at = now;
    e.payload = encoders.nps_recorded(answer);
    events.push_back(std::move(e));
  }
  if (!events.empty()) db::AppendEvents(conn, events);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FirstValueDefinition>> MySqlFirstValueRepository::CurrentDefinitions() {
  std::vector<FirstValueDefinition> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadDefinitions(conn, /*for_update=*/false));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<FirstValueDefinition> MySqlFirstValueRepository::SetDefinition(
    const db::WriteKey& key, const db::ResultCodec<FirstValueDefinition>& codec,
    const FirstValueDefinition& definition, absl::Time now) {
  return db::RunIdempotent<FirstValueDefinition>(
      *pool_, *clock_, key, codec,
      [&](db::Connection& conn) -> absl::StatusOr<FirstValueDefinition> {
        const std::string tier(TierName(definition.tier));
        auto& current = conn.Prepare(
            "SELECT version FROM first_value_definitions WHERE tier = ? FOR UPDATE");
        current.setString(1, tier);
        int version = 0;
        {
          ResultSetPtr rs(current.executeQuery());
          if (rs->next()) version = rs->getInt(1);
        }
        if (definition.version != version) {
          return absl::AbortedError(absl::StrCat("definition.version: ", definition.version,
                                                 " is not the current version ", version,
                                                 " of tier ", tier, "; read it again"));
        }
        FirstValueDefinition out = definition;
        out.version = version + 1;
        out.updated_at = now;
        const std::string kind(SignalKindName(out.signal_kind));
        auto& upsert = conn.Prepare(
            "INSERT INTO first_value_definitions (tier, version, signal_kind, feature, event_name,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE version = VALUES(version),"
            " signal_kind = VALUES(signal_kind), feature = VALUES(feature),"
            " event_name = VALUES(event_name), updated_at = VALUES(updated_at)");
        auto& history = conn.Prepare(
            "INSERT INTO first_value_definition_versions (tier, version, signal_kind, feature,"
            " event_name, created_at) VALUES (?, ?, ?, ?, ?, ?)");
        for (sql::PreparedStatement* stmt : {&upsert, &history}) {
          stmt->setString(1, tier);
          stmt->setInt(2, out.version);
          stmt->setString(3, kind);
          stmt->setString(4, out.feature);
          stmt->setString(5, out.event_name);
          stmt->setString(6, db::ToSqlDatetime(now));
          stmt->executeUpdate();
        }
        return out;
      });
}

}  // namespace cs::health
