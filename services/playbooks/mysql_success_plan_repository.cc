#include "services/playbooks/mysql_success_plan_repository.h"

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/db/event_log.h"
#include "common/db/sql_values.h"
#include "common/status.h"

namespace cs::playbooks {
namespace {

using ResultSetPtr = std::unique_ptr<sql::ResultSet>;


bool IsAutomatic(CriterionSource s) {
  return s == CriterionSource::kHealthScore || s == CriterionSource::kComponent ||
         s == CriterionSource::kMeasure;
}

constexpr char kPlanColumns[] =
    "plan_id, account_id, title, owner_id, status, template_id, roi_minor_units, roi_currency,"
    " roi_description, version, starts_at, created_at, updated_at";

absl::StatusOr<SuccessPlan> ParsePlanRow(sql::ResultSet& rs) {
  SuccessPlan p;
  p.plan_id = db::GetString(rs, 1);
  p.account_id = db::GetString(rs, 2);
  p.title = db::GetString(rs, 3);
  p.owner_id = db::GetString(rs, 4);
  p.status = PlanStatusFromName(db::GetString(rs, 5)).value_or(PlanStatus::kUnspecified);
  p.template_id = db::GetString(rs, 6);
  if (!db::GetString(rs, 8).empty()) p.roi_amount = Money{rs.getInt64(7), db::GetString(rs, 8)};
  p.roi_description = db::GetString(rs, 9);
  p.version = rs.getInt64(10);
  ASSIGN_OR_RETURN(p.starts_at, db::GetTime(rs, 11));
  ASSIGN_OR_RETURN(p.created_at, db::GetTime(rs, 12));
  ASSIGN_OR_RETURN(p.updated_at, db::GetTime(rs, 13));
  return p;
}

// Objectives, milestones and criteria of a plan whose row was read.
absl::Status ReadChildren(db::Connection& conn, SuccessPlan& p) {
  std::map<std::string, size_t> index;
  {
    auto& stmt = conn.Prepare(
        "SELECT objective_id, title, description FROM success_plan_objectives WHERE plan_id = ?"
        " ORDER BY position");
    stmt.setString(1, p.plan_id);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      Objective o;
      o.objective_id = db::GetString(*rs, 1);
      o.title = db::GetString(*rs, 2);
      o.description = db::GetString(*rs, 3);
      index[o.objective_id] = p.objectives.size();
      p.objectives.push_back(std::move(o));
    }
  }
  {
    auto& stmt = conn.Prepare(
        "SELECT objective_id, milestone_id, title, due_at, owner_id, status, completed_at,"
        " alerted_at FROM success_plan_milestones WHERE plan_id = ? ORDER BY position");
    stmt.setString(1, p.plan_id);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      auto it = index.find(db::GetString(*rs, 1));
      if (it == index.end()) return absl::InternalError("milestone without its objective");
      Milestone m;
      m.milestone_id = db::GetString(*rs, 2);
      m.title = db::GetString(*rs, 3);
      ASSIGN_OR_RETURN(m.due_at, db::GetTime(*rs, 4));
      m.owner_id = db::GetString(*rs, 5);
      m.status = MilestoneStatusFromName(db::GetString(*rs, 6)).value_or(MilestoneStatus::kUnspecified);
      ASSIGN_OR_RETURN(m.completed_at, db::GetOptionalTime(*rs, 7));
      ASSIGN_OR_RETURN(m.alerted_at, db::GetOptionalTime(*rs, 8));
      p.objectives[it->second].milestones.push_back(std::move(m));
    }
  }
  auto& stmt = conn.Prepare(
      "SELECT objective_id, criterion_id, description, source, name, comparison, target, met,"
      " met_at, last_value, last_checked_at FROM success_plan_criteria WHERE plan_id = ?"
      " ORDER BY position");
  stmt.setString(1, p.plan_id);
  ResultSetPtr rs(stmt.executeQuery());
  while (rs->next()) {
    auto it = index.find(db::GetString(*rs, 1));
    if (it == index.end()) return absl::InternalError("criterion without its objective");
    Criterion c;
    c.criterion_id = db::GetString(*rs, 2);
    c.description = db::GetString(*rs, 3);
    c.source = CriterionSourceFromName(db::GetString(*rs, 4)).value_or(CriterionSource::kUnspecified);
    c.name = db::GetString(*rs, 5);
    c.comparison = ComparisonFromName(db::GetString(*rs, 6)).value_or(Comparison::kUnspecified);
    c.target = rs->getDouble(7);
    c.met = rs->getBoolean(8);
    ASSIGN_OR_RETURN(c.met_at, db::GetOptionalTime(*rs, 9));
    c.last_value = rs->getDouble(10);
    ASSIGN_OR_RETURN(c.last_checked_at, db::GetOptionalTime(*rs, 11));
    p.objectives[it->second].criteria.push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SuccessPlan>> ReadPlan(db::Connection& conn,
                                                    const std::string& plan_id, bool for_update) {
  auto& stmt = conn.Prepare(absl::StrCat("SELECT ", kPlanColumns,
                                         " FROM success_plans WHERE plan_id = ?",
                                         for_update ? " FOR UPDATE" : ""));
  stmt.setString(1, plan_id);
  std::optional<SuccessPlan> plan;
  {
    ResultSetPtr rs(stmt.executeQuery());
    if (!rs->next()) return plan;
    ASSIGN_OR_RETURN(plan, ParsePlanRow(*rs));
  }
  RETURN_IF_ERROR(ReadChildren(conn, *plan));
  return plan;
}

absl::StatusOr<SuccessPlan> MustReadPlan(db::Connection& conn, const std::string& plan_id,
                                         bool for_update) {
  ASSIGN_OR_RETURN(std::optional<SuccessPlan> plan, ReadPlan(conn, plan_id, for_update));
  if (!plan.has_value()) {
    return absl::NotFoundError(absl::StrCat("success plan '", plan_id, "' not found"));
  }
  return *std::move(plan);
}

void BindPlanRow(sql::PreparedStatement& stmt, const SuccessPlan& p, absl::Time now) {
  stmt.setString(1, p.account_id);
  stmt.setString(2, p.title);
  stmt.setString(3, p.owner_id);
  stmt.setString(4, std::string(PlanStatusName(p.status)));
  stmt.setString(5, p.template_id);
  stmt.setInt64(6, p.roi_amount.has_value() ? p.roi_amount->minor_units : 0);
  stmt.setString(7, p.roi_amount.has_value() ? p.roi_amount->currency_code : "");
  stmt.setString(8, p.roi_description);
  stmt.setInt64(9, p.version);
  stmt.setString(10, db::ToSqlDatetime(p.starts_at));
  stmt.setString(11, db::ToSqlDatetime(p.updated_at));
  // closed_at: when the plan leaves ACTIVE; kept from before by the UPDATE's COALESCE.
  db::SetOptionalTime(stmt, 12,
             p.status == PlanStatus::kActive ? std::nullopt : std::optional<absl::Time>(now));
}

// Rewrites the plan's objectives, milestones and criteria. The two NULL-able
// columns the workers read are derived here, so every write keeps them right:
// alert_at (an overdue alert is still owed) and check_at (an automatic check is due).
void WriteChildren(db::Connection& conn, const SuccessPlan& p, absl::Time now) {
  for (const char* table :
       {"success_plan_objectives", "success_plan_milestones", "success_plan_criteria"}) {
    auto& del = conn.Prepare(absl::StrCat("DELETE FROM ", table, " WHERE plan_id = ?"));
    del.setString(1, p.plan_id);
    del.executeUpdate();
  }
  const bool active = p.status == PlanStatus::kActive;
  int position = 0;
  for (const Objective& o : p.objectives) {
    auto& obj = conn.Prepare(
        "INSERT INTO success_plan_objectives (plan_id, objective_id, position, title, description)"
        " VALUES (?, ?, ?, ?, ?)");
    obj.setString(1, p.plan_id);
    obj.setString(2, o.objective_id);
    obj.setInt(3, ++position);
    obj.setString(4, o.title);
    obj.setString(5, o.description);
    obj.executeUpdate();
    for (const Milestone& m : o.milestones) {
      auto& stmt = conn.Prepare(
          "INSERT INTO success_plan_milestones (plan_id, milestone_id, objective_id, position,"
          " account_id, title, due_at, owner_id, status, completed_at, alerted_at, alert_at)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      const bool open =
          m.status != MilestoneStatus::kCompleted && m.status != MilestoneStatus::kCancelled;
      stmt.setString(1, p.plan_id);
      stmt.setString(2, m.milestone_id);
      stmt.setString(3, o.objective_id);
      stmt.setInt(4, ++position);
      stmt.setString(5, p.account_id);
      stmt.setString(6, m.title);
      stmt.setString(7, db::ToSqlDatetime(m.due_at));
      stmt.setString(8, m.owner_id);
      stmt.setString(9, std::string(MilestoneStatusName(m.status)));
      db::SetOptionalTime(stmt, 10, m.completed_at);
      db::SetOptionalTime(stmt, 11, m.alerted_at);
      db::SetOptionalTime(stmt, 12,
                 active && open && !m.alerted_at.has_value() ? std::optional<absl::Time>(m.due_at)
                                                             : std::nullopt);
      stmt.executeUpdate();
    }
    for (const Criterion& c : o.criteria) {
      auto& stmt = conn.Prepare(
          "INSERT INTO success_plan_criteria (plan_id, criterion_id, objective_id, position,"
          " account_id, description, source, name, comparison, target, met, met_at, last_value,"
          " last_checked_at, check_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      stmt.setString(1, p.plan_id);
      stmt.setString(2, c.criterion_id);
      stmt.setString(3, o.objective_id);
      stmt.setInt(4, ++position);
      stmt.setString(5, p.account_id);
      stmt.setString(6, c.description);
      stmt.setString(7, std::string(CriterionSourceName(c.source)));
      stmt.setString(8, c.name);
      stmt.setString(9, std::string(ComparisonName(c.comparison)));
      stmt.setDouble(10, c.target);
      stmt.setBoolean(11, c.met);
      db::SetOptionalTime(stmt, 12, c.met_at);
      stmt.setDouble(13, c.last_value);
      db::SetOptionalTime(stmt, 14, c.last_checked_at);
      // A written plan is checked at once: a new target may already be reached.
      db::SetOptionalTime(stmt, 15,
                 active && IsAutomatic(c.source) && !c.met ? std::optional<absl::Time>(now)
                                                           : std::nullopt);
      stmt.executeUpdate();
    }
  }
}

void BumpVersion(db::Connection& conn, const std::string& plan_id, absl::Time now) {
  auto& stmt = conn.Prepare(
      "UPDATE success_plans SET version = version + 1, updated_at = ? WHERE plan_id = ?");
  stmt.setString(1, db::ToSqlDatetime(now));
  stmt.setString(2, plan_id);
  stmt.executeUpdate();
}

absl::StatusOr<std::optional<PlanTemplate>> ReadTemplate(db::Connection& conn,
                                                         const db::ResultCodec<PlanTemplate>& codec,
                                                         const std::string& template_id) {
  auto& stmt = conn.Prepare("SELECT body FROM success_plan_templates WHERE template_id = ?");
  stmt.setString(1, template_id);
  ResultSetPtr rs(stmt.executeQuery());
  if (!rs->next()) return std::optional<PlanTemplate>();
  ASSIGN_OR_RETURN(PlanTemplate t, codec.decode(db::GetString(*rs, 1)));
  return std::optional<PlanTemplate>(std::move(t));
}

void InsertTemplate(db::Connection& conn, const db::ResultCodec<PlanTemplate>& codec,
                    const PlanTemplate& t) {
  auto& stmt = conn.Prepare(
      "INSERT INTO success_plan_templates (template_id, tier, industry, body, created_at)"
      " VALUES (?, ?, ?, ?, ?)");
  stmt.setString(1, t.template_id);
  stmt.setString(2, t.tier);
  stmt.setString(3, t.industry);
  stmt.setString(4, codec.encode(t));
  stmt.setString(5, db::ToSqlDatetime(t.created_at));
  stmt.executeUpdate();
}

}  // namespace

absl::StatusOr<SuccessPlan> MySqlSuccessPlanRepository::CreatePlan(
    const db::WriteKey& key, const db::ResultCodec<SuccessPlan>& codec, const SuccessPlan& plan,
    absl::Time now) {
  return db::RunIdempotent<SuccessPlan>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<SuccessPlan> {
        ASSIGN_OR_RETURN(std::optional<SuccessPlan> existing,
                         ReadPlan(conn, plan.plan_id, /*for_update=*/true));
        if (existing.has_value()) {
          return absl::AlreadyExistsError(
              absl::StrCat("success plan '", plan.plan_id, "' already exists"));
        }
        SuccessPlan p = plan;
        p.version = 1;
        p.created_at = now;
        p.updated_at = now;
        auto& stmt = conn.Prepare(
            "INSERT INTO success_plans (account_id, title, owner_id, status, template_id,"
            " roi_minor_units, roi_currency, roi_description, version, starts_at, updated_at,"
            " closed_at, plan_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        BindPlanRow(stmt, p, now);
        stmt.setString(13, p.plan_id);
        stmt.setString(14, db::ToSqlDatetime(now));
        stmt.executeUpdate();
        WriteChildren(conn, p, now);
        return MustReadPlan(conn, p.plan_id, /*for_update=*/false);
      });
}

absl::StatusOr<SuccessPlan> MySqlSuccessPlanRepository::GetPlan(const std::string& plan_id) {
  std::optional<SuccessPlan> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, MustReadPlan(conn, plan_id, /*for_update=*/false));
    return absl::OkStatus();
  }));
  return *std::move(out);
}

absl::StatusOr<PlanPage> MySqlSuccessPlanRepository::ListPlans(const PlanFilter& filter) {
  // Filters are ANDed in a fixed order, so each combination is one cached statement.
  std::string sql = absl::StrCat("SELECT ", kPlanColumns, " FROM success_plans WHERE plan_id > ?");
  std::vector<std::string> params = {filter.after};
  if (!filter.account_id.empty()) {
    absl::StrAppend(&sql, " AND account_id = ?");
    params.push_back(filter.account_id);
  }
  if (!filter.owner_id.empty()) {
    absl::StrAppend(&sql, " AND owner_id = ?");
    params.push_back(filter.owner_id);
  }
  if (filter.status.has_value()) {
    absl::StrAppend(&sql, " AND status = ?");
    params.push_back(std::string(PlanStatusName(*filter.status)));
  }
  absl::StrAppend(&sql, " ORDER BY plan_id LIMIT ?");
  PlanPage page;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(sql);
    int i = 0;
    for (const std::string& p : params) stmt.setString(++i, p);
    // One more than asked tells whether another page follows.
    stmt.setInt(++i, filter.page_size + 1);
    {
      ResultSetPtr rs(stmt.executeQuery());
      while (rs->next()) {
        ASSIGN_OR_RETURN(SuccessPlan p, ParsePlanRow(*rs));
        page.plans.push_back(std::move(p));
      }
    }
    if (static_cast<int>(page.plans.size()) > filter.page_size) {
      page.plans.resize(filter.page_size);
      page.next = page.plans.back().plan_id;
    }
    for (SuccessPlan& p : page.plans) RETURN_IF_ERROR(ReadChildren(conn, p));
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<SuccessPlan> MySqlSuccessPlanRepository::UpdatePlan(
    const db::WriteKey& key, const db::ResultCodec<SuccessPlan>& codec, const SuccessPlan& plan,
    absl::Time now) {
  return db::RunIdempotent<SuccessPlan>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<SuccessPlan> {
        ASSIGN_OR_RETURN(SuccessPlan current, MustReadPlan(conn, plan.plan_id, /*for_update=*/true));
        if (current.version != plan.version) {
          return absl::AbortedError(absl::StrCat("success plan '", plan.plan_id, "' is at version ",
                                                 current.version, ", not ", plan.version));
        }
        if (current.account_id != plan.account_id) {
          return absl::InvalidArgumentError("plan.account_id: a plan cannot move to another account");
        }
        SuccessPlan p = plan;
        CarryServerState(current, &p, now);
        p.version = current.version + 1;
        p.updated_at = now;
        p.template_id = current.template_id;
        if (p.starts_at == absl::InfinitePast()) p.starts_at = current.starts_at;
        auto& stmt = conn.Prepare(
            "UPDATE success_plans SET account_id = ?, title = ?, owner_id = ?, status = ?,"
            " template_id = ?, roi_minor_units = ?, roi_currency = ?, roi_description = ?,"
            " version = ?, starts_at = ?, updated_at = ?,"
            " closed_at = CASE WHEN ? IS NULL THEN NULL ELSE COALESCE(closed_at, ?) END"
            " WHERE plan_id = ?");
        BindPlanRow(stmt, p, now);
        db::SetOptionalTime(stmt, 13,
                   p.status == PlanStatus::kActive ? std::nullopt : std::optional<absl::Time>(now));
        stmt.setString(14, p.plan_id);
        stmt.executeUpdate();
        WriteChildren(conn, p, now);
        return MustReadPlan(conn, p.plan_id, /*for_update=*/false);
      });
}

absl::StatusOr<SuccessPlan> MySqlSuccessPlanRepository::CompleteMilestone(
    const db::WriteKey& key, const db::ResultCodec<SuccessPlan>& codec,
    const std::string& plan_id, const std::string& milestone_id, absl::Time now) {
  return db::RunIdempotent<SuccessPlan>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<SuccessPlan> {
        ASSIGN_OR_RETURN(SuccessPlan plan, MustReadPlan(conn, plan_id, /*for_update=*/true));
        const Milestone* found = nullptr;
        for (const Objective& o : plan.objectives) {
          for (const Milestone& m : o.milestones) {
            if (m.milestone_id == milestone_id) found = &m;
          }
        }
        if (found == nullptr) {
          return absl::NotFoundError(absl::StrCat("milestone '", milestone_id,
                                                  "' not found in success plan '", plan_id, "'"));
        }
        if (found->status == MilestoneStatus::kCompleted) return plan;
        if (plan.status != PlanStatus::kActive) {
          return absl::FailedPreconditionError(
              absl::StrCat("success plan '", plan_id, "' is ", PlanStatusName(plan.status)));
        }
        if (found->status == MilestoneStatus::kCancelled) {
          return absl::FailedPreconditionError(
              absl::StrCat("milestone '", milestone_id, "' is cancelled"));
        }
        auto& stmt = conn.Prepare(
            "UPDATE success_plan_milestones SET status = 'COMPLETED', completed_at = ?,"
            " alert_at = NULL WHERE plan_id = ? AND milestone_id = ?");
        stmt.setString(1, db::ToSqlDatetime(now));
        stmt.setString(2, plan_id);
        stmt.setString(3, milestone_id);
        stmt.executeUpdate();
        BumpVersion(conn, plan_id, now);
        return MustReadPlan(conn, plan_id, /*for_update=*/false);
      });
}

absl::StatusOr<PlanTemplate> MySqlSuccessPlanRepository::CreateTemplate(
    const db::WriteKey& key, const db::ResultCodec<PlanTemplate>& codec, const PlanTemplate& t,
    absl::Time now) {
  return db::RunIdempotent<PlanTemplate>(
      *pool_, *clock_, key, codec, [&](db::Connection& conn) -> absl::StatusOr<PlanTemplate> {
        ASSIGN_OR_RETURN(std::optional<PlanTemplate> existing,
                         ReadTemplate(conn, templates_, t.template_id));
        if (existing.has_value()) {
          return absl::AlreadyExistsError(
              absl::StrCat("success plan template '", t.template_id, "' already exists"));
        }
        PlanTemplate stored = t;
        stored.created_at = now;
        InsertTemplate(conn, templates_, stored);
        return stored;
      });
}

absl::StatusOr<PlanTemplate> MySqlSuccessPlanRepository::GetTemplate(
    const std::string& template_id) {
  std::optional<PlanTemplate> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(out, ReadTemplate(conn, templates_, template_id));
    return absl::OkStatus();
  }));
  if (!out.has_value()) {
    return absl::NotFoundError(absl::StrCat("success plan template '", template_id, "' not found"));
  }
  return *std::move(out);
}

absl::StatusOr<std::vector<PlanTemplate>> MySqlSuccessPlanRepository::ListTemplates(
    const std::string& tier, const std::string& industry) {
  std::vector<PlanTemplate> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT body FROM success_plan_templates WHERE (? = '' OR tier = ?)"
        " AND (? = '' OR industry = ? OR industry = '')"
        " ORDER BY FIELD(tier, 'ENTERPRISE', 'MID_MARKET', 'SMB', 'SOLO'), industry = '',"
        " industry, template_id");
    stmt.setString(1, tier);
    stmt.setString(2, tier);
    stmt.setString(3, industry);
    stmt.setString(4, industry);
    ResultSetPtr rs(stmt.executeQuery());
    while (rs->next()) {
      ASSIGN_OR_RETURN(PlanTemplate t, templates_.decode(db::GetString(*rs, 1)));
      out.push_back(std::move(t));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status MySqlSuccessPlanRepository::EnsureTemplates(const std::vector<PlanTemplate>& templates,
                                                         absl::Time now) {
  return pool_->InTransaction([&](db::Connection& conn) -> absl::Status {
    for (const PlanTemplate& t : templates) {
      ASSIGN_OR_RETURN(std::optional<PlanTemplate> existing,
                       ReadTemplate(conn, templates_, t.template_id));
      if (existing.has_value()) continue;
      PlanTemplate stored = t;
      stored.created_at = now;
      InsertTemplate(conn, templates_, stored);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<int> MySqlSuccessPlanRepository::AlertOverdueMilestones(absl::Time now, int limit) {
  return pool_->Transact<int>([&](db::Connection& conn) -> absl::StatusOr<int> {
    auto& claim = conn.Prepare(
        "SELECT m.plan_id, m.milestone_id, m.objective_id, m.account_id, m.title, m.owner_id,"
        " m.due_at, p.owner_id FROM success_plan_milestones m"
        " JOIN success_plans p ON p.plan_id = m.plan_id"
        " WHERE m.alert_at < ? ORDER BY m.alert_at, m.plan_id, m.milestone_id LIMIT ?"
        " FOR UPDATE SKIP LOCKED");
    claim.setString(1, db::ToSqlDatetime(now));
    claim.setInt(2, limit);
    std::vector<TaskEvent> events;
    {
      ResultSetPtr rs(claim.executeQuery());
      while (rs->next()) {
        MilestoneAlert a;
        a.plan_id = db::GetString(*rs, 1);
        a.milestone_id = db::GetString(*rs, 2);
        a.objective_id = db::GetString(*rs, 3);
        a.account_id = db::GetString(*rs, 4);
        a.title = db::GetString(*rs, 5);
        a.owner_id = db::GetString(*rs, 6).empty() ? db::GetString(*rs, 8) : db::GetString(*rs, 6);
        ASSIGN_OR_RETURN(a.due_at, db::GetTime(*rs, 7));
        TaskEvent e;
        e.kind = TaskEventKind::kMilestoneOverdue;
        e.occurred_at = now;
        e.task.account_id = a.account_id;
        e.milestone = std::move(a);
        events.push_back(std::move(e));
      }
    }
    if (events.empty()) return 0;
    std::vector<db::LoggedEvent> logged;
    for (const TaskEvent& e : events) {
      auto& mark = conn.Prepare(
          "UPDATE success_plan_milestones SET alerted_at = ?, alert_at = NULL"
          " WHERE plan_id = ? AND milestone_id = ?");
      mark.setString(1, db::ToSqlDatetime(now));
      mark.setString(2, e.milestone->plan_id);
      mark.setString(3, e.milestone->milestone_id);
      mark.executeUpdate();
      logged.push_back({0, std::string(TaskEventKindName(e.kind)), e.milestone->account_id,
                        e.occurred_at, events_.encode(e)});
    }
    // Appended last: the outbox head stays locked for the shortest time.
    db::AppendEvents(conn, logged);
    return static_cast<int>(events.size());
  });
}

absl::StatusOr<int64_t> MySqlSuccessPlanRepository::Cursor(const std::string& consumer) {
  int64_t cursor = 0;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare("SELECT last_sequence FROM consumer_cursors WHERE consumer = ?");
    stmt.setString(1, consumer);
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) cursor = rs->getInt64(1);
    return absl::OkStatus();
  }));
  return cursor;
}

absl::StatusOr<int> MySqlSuccessPlanRepository::ApplyScoreEvents(
    const std::string& consumer, const std::vector<HealthEvent>& events, absl::Time now) {
  return pool_->Transact<int>([&](db::Connection& conn) -> absl::StatusOr<int> {
    auto& claim = conn.Prepare(
        "SELECT last_sequence FROM consumer_cursors WHERE consumer = ? FOR UPDATE SKIP LOCKED");
    claim.setString(1, consumer);
    int64_t cursor = 0;
    {
      ResultSetPtr rs(claim.executeQuery());
      if (!rs->next()) return 0;
      cursor = rs->getInt64(1);
    }
    int consumed = 0;
    std::set<std::string> nudged;
    for (const HealthEvent& e : events) {
      if (e.sequence <= cursor) continue;
      cursor = e.sequence;
      ++consumed;
      const bool score = e.kind == HealthEventKind::kScoreChanged ||
                         e.kind == HealthEventKind::kBandChanged;
      if (score) nudged.insert(e.account_id);
    }
    if (consumed == 0) return 0;
    // One statement per chunk of the page's accounts, in key order; binary chunk
    // sizes, as the playbooks consumer's page statements: a page names a few
    // hundred accounts.
    const std::vector<std::string> accounts(nudged.begin(), nudged.end());
    const std::string at = db::ToSqlDatetime(now);
    db::ForEachChunk(accounts.size(), db::kBinaryRowChunks, [&](size_t offset, size_t count) {
      auto& nudge = conn.Prepare(
          absl::StrCat("UPDATE success_plan_criteria FORCE INDEX (success_plan_criteria_account)"
                       " SET check_at = ? WHERE check_at > ?"
                       " AND account_id IN ",
                       db::RowPlaceholders(1, count)));
      nudge.setString(1, at);
      nudge.setString(2, at);
      for (size_t i = 0; i < count; ++i) {
        nudge.setString(static_cast<int>(i + 3), accounts[offset + i]);
      }
      nudge.executeUpdate();
    });
    auto& advance = conn.Prepare(
        "UPDATE consumer_cursors SET last_sequence = ?, updated_at = ? WHERE consumer = ?");
    advance.setInt64(1, cursor);
    advance.setString(2, db::ToSqlDatetime(now));
    advance.setString(3, consumer);
    advance.executeUpdate();
    return consumed;
  });
}

absl::StatusOr<std::vector<CriterionCheck>> MySqlSuccessPlanRepository::ClaimCriteriaChecks(
    absl::Time now, absl::Duration lease, int limit) {
  return pool_->Transact<std::vector<CriterionCheck>>(
      [&](db::Connection& conn) -> absl::StatusOr<std::vector<CriterionCheck>> {
        auto& claim = conn.Prepare(
            "SELECT plan_id, account_id, criterion_id, description, source, name, comparison,"
            " target FROM success_plan_criteria WHERE check_at <= ?"
            " ORDER BY check_at, plan_id, criterion_id LIMIT ? FOR UPDATE SKIP LOCKED");
        claim.setString(1, db::ToSqlDatetime(now));
        claim.setInt(2, limit);
        std::vector<CriterionCheck> out;
        {
          ResultSetPtr rs(claim.executeQuery());
          while (rs->next()) {
            CriterionCheck c;
            c.plan_id = db::GetString(*rs, 1);
            c.account_id = db::GetString(*rs, 2);
            c.criterion.criterion_id = db::GetString(*rs, 3);
            c.criterion.description = db::GetString(*rs, 4);
            c.criterion.source =
                CriterionSourceFromName(db::GetString(*rs, 5)).value_or(CriterionSource::kUnspecified);
            c.criterion.name = db::GetString(*rs, 6);
            c.criterion.comparison =
                ComparisonFromName(db::GetString(*rs, 7)).value_or(Comparison::kUnspecified);
            c.criterion.target = rs->getDouble(8);
            out.push_back(std::move(c));
          }
        }
        for (const CriterionCheck& c : out) {
          auto& lease_stmt = conn.Prepare(
              "UPDATE success_plan_criteria SET check_at = ? WHERE plan_id = ? AND criterion_id = ?");
          lease_stmt.setString(1, db::ToSqlDatetime(now + lease));
          lease_stmt.setString(2, c.plan_id);
          lease_stmt.setString(3, c.criterion.criterion_id);
          lease_stmt.executeUpdate();
        }
        return out;
      });
}

absl::Status MySqlSuccessPlanRepository::RecordCriteriaChecks(
    const std::vector<CriterionResult>& results, absl::Time now, absl::Time next_check) {
  return pool_->InTransaction([&](db::Connection& conn) -> absl::Status {
    for (const CriterionResult& r : results) {
      auto& read = conn.Prepare(
          "SELECT source, comparison, target FROM success_plan_criteria"
          " WHERE plan_id = ? AND criterion_id = ? AND check_at IS NOT NULL FOR UPDATE");
      read.setString(1, r.plan_id);
      read.setString(2, r.criterion_id);
      Criterion c;
      {
        ResultSetPtr rs(read.executeQuery());
        // Gone, met or no longer checked (the plan changed meanwhile): nothing to record.
        if (!rs->next()) continue;
        c.source = CriterionSourceFromName(db::GetString(*rs, 1)).value_or(CriterionSource::kUnspecified);
        c.comparison = ComparisonFromName(db::GetString(*rs, 2)).value_or(Comparison::kUnspecified);
        c.target = rs->getDouble(3);
      }
      const bool met = r.value.has_value() && MeetsTarget(c, *r.value);
      auto& write = conn.Prepare(
          "UPDATE success_plan_criteria SET last_value = COALESCE(?, last_value),"
          " last_checked_at = ?, met = ?, met_at = ?, check_at = ?"
          " WHERE plan_id = ? AND criterion_id = ?");
      if (r.value.has_value()) {
        write.setDouble(1, *r.value);
      } else {
        write.setNull(1, sql::DataType::DOUBLE);
      }
      write.setString(2, db::ToSqlDatetime(now));
      write.setBoolean(3, met);
      db::SetOptionalTime(write, 4, met ? std::optional<absl::Time>(now) : std::nullopt);
      db::SetOptionalTime(write, 5, met ? std::nullopt : std::optional<absl::Time>(next_check));
      write.setString(6, r.plan_id);
      write.setString(7, r.criterion_id);
      write.executeUpdate();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<std::string>> MySqlSuccessPlanRepository::PlanReviewedBy(
    const std::string& account_id, absl::Time task_created_at, absl::Time task_due_at) {
  std::optional<std::string> out;
  RETURN_IF_ERROR(pool_->Run([&](db::Connection& conn) -> absl::Status {
    auto& stmt = conn.Prepare(
        "SELECT plan_id FROM success_plans WHERE account_id = ? AND starts_at <= ?"
        " AND (closed_at IS NULL OR closed_at >= ?) ORDER BY starts_at DESC, plan_id DESC LIMIT 1");
    stmt.setString(1, account_id);
    stmt.setString(2, db::ToSqlDatetime(task_due_at));
    stmt.setString(3, db::ToSqlDatetime(task_created_at));
    ResultSetPtr rs(stmt.executeQuery());
    if (rs->next()) out = db::GetString(*rs, 1);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace cs::playbooks
