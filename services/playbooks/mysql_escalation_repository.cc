#include "services/playbooks/mysql_escalation_repository.h"

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace cs::playbooks {

absl::StatusOr<std::optional<EscalationChain>> FindEscalationChain(db::Connection& conn,
                                                                   const std::string& chain_id,
                                                                   bool for_update) {
  auto& head = conn.Prepare(absl::StrCat(
      "SELECT version, updated_at FROM escalation_chains WHERE chain_id = ?",
      for_update ? " FOR UPDATE" : ""));
  head.setString(1, chain_id);
  std::unique_ptr<sql::ResultSet> rs(head.executeQuery());
  if (!rs->next()) return std::optional<EscalationChain>();
  EscalationChain chain;
  chain.chain_id = chain_id;
  chain.version = rs->getInt64(1);
  ASSIGN_OR_RETURN(chain.updated_at, db::FromSqlDatetime(std::string(rs->getString(2))));
  auto& levels = conn.Prepare(
      "SELECT role, assignee_id FROM escalation_levels WHERE chain_id = ? ORDER BY level_index");
  levels.setString(1, chain_id);
  std::unique_ptr<sql::ResultSet> lrs(levels.executeQuery());
  while (lrs->next()) {
    chain.levels.push_back(
        {RoleFromName(std::string(lrs->getString(1))).value_or(Role::kUnspecified),
         std::string(lrs->getString(2))});
  }
  return std::optional<EscalationChain>(std::move(chain));
}

absl::StatusOr<EscalationChain> MySqlEscalationRepository::Upsert(
    const db::WriteKey& key, const db::ResultCodec<EscalationChain>& codec,
    const EscalationChain& chain, absl::Time now) {
  return db::RunIdempotent<EscalationChain>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<EscalationChain> {
        ASSIGN_OR_RETURN(std::optional<EscalationChain> existing,
                         FindEscalationChain(conn, chain.chain_id, /*for_update=*/true));
        EscalationChain out = chain;
        out.version = existing.has_value() ? existing->version + 1 : 1;
        out.updated_at = now;
        auto& upsert = conn.Prepare(
            "INSERT INTO escalation_chains (chain_id, version, updated_at) VALUES (?, ?, ?)"
            " ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at = VALUES(updated_at)");
        upsert.setString(1, out.chain_id);
        upsert.setInt64(2, out.version);
        upsert.setString(3, db::ToSqlDatetime(now));
        upsert.executeUpdate();
        auto& clear = conn.Prepare("DELETE FROM escalation_levels WHERE chain_id = ?");
        clear.setString(1, out.chain_id);
        clear.executeUpdate();
        auto& insert = conn.Prepare(
            "INSERT INTO escalation_levels (chain_id, level_index, role, assignee_id)"
            " VALUES (?, ?, ?, ?)");
        for (size_t i = 0; i < out.levels.size(); ++i) {
          insert.setString(1, out.chain_id);
          insert.setInt(2, static_cast<int>(i));
          insert.setString(3, std::string(RoleName(out.levels[i].role)));
          insert.setString(4, out.levels[i].assignee_id);
          insert.executeUpdate();
        }
        return out;
      });
}

absl::StatusOr<EscalationChain> MySqlEscalationRepository::Get(const std::string& chain_id) {
  std::optional<EscalationChain> found;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(found, FindEscalationChain(conn, chain_id, /*for_update=*/false));
    return absl::OkStatus();
  }));
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("escalation chain '", chain_id, "' not found"));
  }
  return *std::move(found);
}

absl::StatusOr<std::vector<EscalationChain>> MySqlEscalationRepository::List() {
  std::vector<EscalationChain> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    std::vector<std::string> ids;
    {
      std::unique_ptr<sql::ResultSet> rs(
          conn.Prepare("SELECT chain_id FROM escalation_chains ORDER BY chain_id").executeQuery());
      while (rs->next()) ids.emplace_back(rs->getString(1));
    }
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(std::optional<EscalationChain> chain,
                       FindEscalationChain(conn, id, /*for_update=*/false));
      if (chain.has_value()) out.push_back(*std::move(chain));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace cs::playbooks
