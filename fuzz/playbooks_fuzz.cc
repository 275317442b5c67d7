// libFuzzer target of the playbook service: every unary RPC of PlaybookService
// through the real handler, services and MySQL repositories on a throwaway schema.
// See fuzz/harness.h for the input format and the invariants.
//
// Health and expansion are in-process fakes of the service's own peer interfaces
// (peers.h), answering at once: this target is about playbooks' input handling, and
// a real peer would only add network time. Accounts "acct-*" exist (tier and owner
// derived from the id); any other id is NOT_FOUND, as health answers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/db/audit_log.h"
#include "common/hash.h"
#include "cs/playbooks/v1/playbooks.grpc.pb.h"
#include "fuzz/harness.h"
#include "services/playbooks/advocacy_service.h"
#include "services/playbooks/advocacy_store.h"
#include "services/playbooks/escalation_service.h"
#include "services/playbooks/grpc_handler.h"
#include "services/playbooks/mysql_escalation_repository.h"
#include "services/playbooks/mysql_playbook_repository.h"
#include "services/playbooks/onboarding_service.h"
#include "services/playbooks/peers.h"
#include "services/playbooks/playbook_service.h"
#include "common/server/proto_util.h"
#include "services/playbooks/mysql_success_plan_repository.h"
#include "services/playbooks/proto_mapping.h"
#include "services/playbooks/success_plan_mapping.h"
#include "services/playbooks/success_plan_service.h"

namespace {

namespace pb = cs::playbooks;
namespace v1 = cs::playbooks::v1;

const std::string kService = v1::PlaybookService::service_full_name();

class FakeHealth final : public pb::HealthFeed {
 public:
  absl::StatusOr<pb::HealthEventPage> ListEvents(int64_t after, int limit) override {
    return pb::HealthEventPage{{}, after};
  }
  absl::StatusOr<pb::AccountProfile> GetAccount(const std::string& account_id) override {
    if (!absl::StartsWith(account_id, "acct-")) {
      return absl::NotFoundError(absl::StrCat("account '", account_id, "' not found"));
    }
    static const char* const kTiers[] = {"ENTERPRISE", "MID_MARKET", "SMB", "SOLO"};
    const uint64_t h = cs::Fingerprint64(account_id);
    pb::AccountProfile p;
    p.account_id = account_id;
    p.tier = kTiers[h % 4];
    p.industry = (h >> 2) % 2 == 0 ? "HEALTHCARE" : "SAAS";
    p.owner_id = absl::StrCat("csm-", (h >> 3) % 3);
    p.lifecycle = "ADOPTING";
    p.contract_start = absl::CivilDay(2025, 1, 15);
    p.renewal_date = absl::CivilDay(2027, 1, 15);
    return p;
  }
};

// Health's reading of an account for success-plan criteria: acct-* have a score and
// two components, anything else has none (NOT_FOUND, as health answers).
class FakeHealthReader final : public pb::HealthReader {
 public:
  absl::StatusOr<pb::HealthReading> ReadHealth(const std::string& account_id) override {
    if (!absl::StartsWith(account_id, "acct-")) {
      return absl::NotFoundError(absl::StrCat("no health score for '", account_id, "'"));
    }
    pb::HealthReading r;
    r.has_score = true;
    r.score = static_cast<double>(cs::Fingerprint64(account_id) % 101);
    r.components = {{"PRODUCT_USAGE", 70}, {"SUPPORT", 40}};
    r.measures = {{"logins_per_week", 12}};
    return r;
  }
};

class FakeExpansion final : public pb::ExpansionClient {
 public:
  absl::StatusOr<std::string> CreateOpportunity(const pb::OpportunityRequest& request) override {
    return absl::StrCat("opp-", cs::Fingerprint64Hex(request.request_id));
  }
  // Every opportunity stays open: later signals of an interest join the first.
  absl::StatusOr<bool> IsOpen(const std::string&) override { return true; }
};

// The run StartPlaybook creates for (playbook, account, request id), and its tasks
// "<run>.<step>": the service derives them so a retry finds the same run.
std::string RunId(const std::string& playbook, const std::string& account,
                  const std::string& request_id) {
  return absl::StrCat("run-", cs::Fingerprint64Hex(absl::StrCat(playbook, "\n", account,
                                                                "\nmanual:", request_id)));
}

const std::vector<cs::fuzz::Seed>& Seeds() {
  static const auto* seeds = [] {
    const std::string run = RunId("red-emergency-response", "acct-1", "sp1");
    const std::string run2 = RunId("yellow-recovery", "acct-2", "sp2");
    return new std::vector<cs::fuzz::Seed>{
        {"UpsertEscalationChain",
         R"(request_id: "ch1" chain { chain_id: "enterprise" levels { role: ROLE_CSM }
            levels { role: ROLE_CS_MANAGER assignee_id: "mgr-1" }
            levels { role: ROLE_VP_CUSTOMER_SUCCESS assignee_id: "vp-1" } })"},
        {"GetEscalationChain", R"(chain_id: "enterprise")"},
        {"ListEscalationChains", ""},
        {"CreatePlaybook",
         R"(request_id: "pb1" playbook { playbook_id: "onboarding-check" name: "Onboarding check"
            description: "first weeks" trigger { kind: TRIGGER_KIND_ACCOUNT_CREATED }
            tiers: TIER_ENTERPRISE tiers: TIER_SMB industries: INDUSTRY_HEALTHCARE
            steps { title: "Kickoff call" kind: STEP_KIND_CALL due_offset { seconds: 86400 } role: ROLE_CSM
                    sla { seconds: 172800 } }
            steps { title: "Survey" kind: STEP_KIND_SURVEY due_offset { seconds: 604800 } role: ROLE_CSM }
            exit_criteria { green_days: 14 fail_on_churn: true } holdout_percent: 10
            escalation_chain_id: "enterprise" })"},
        {"CreatePlaybook",
         R"(playbook { playbook_id: "renewal-90" name: "Renewal" trigger { kind: TRIGGER_KIND_RENEWAL_DUE
            renewal_days_before: 90 } steps { title: "QBR" kind: STEP_KIND_QBR role: ROLE_CSM } })"},
        {"CreatePlaybook",
         R"(playbook { playbook_id: "monthly" name: "Monthly touch" trigger { kind: TRIGGER_KIND_CADENCE
            cadence_months: 1 } steps { title: "Email" kind: STEP_KIND_EMAIL role: ROLE_CSM } })"},
        {"UpdatePlaybook",
         R"(request_id: "pb2" playbook { playbook_id: "onboarding-check" version: 1 name: "Onboarding check v2"
            trigger { kind: TRIGGER_KIND_BAND_ENTERED band: BAND_YELLOW }
            steps { title: "Call" kind: STEP_KIND_CALL role: ROLE_CSM sla { seconds: 3600 } } disabled: false })"},
        {"GetPlaybook", R"(playbook_id: "red-emergency-response")"},
        {"GetPlaybook", R"(playbook_id: "onboarding-check" version: 1)"},
        {"ListPlaybooks", ""},
        {"StartPlaybook", R"(request_id: "sp1" playbook_id: "red-emergency-response" account_id: "acct-1")"},
        {"StartPlaybook", R"(request_id: "sp2" playbook_id: "yellow-recovery" account_id: "acct-2")"},
        {"StartPlaybook", R"(playbook_id: "onboarding-check" account_id: "acct-3")"},
        {"GetRun", absl::StrCat(R"(run_id: ")", run, R"(")")},
        {"ListRuns", R"(account_id: "acct-1" state: RUN_STATE_ACTIVE page_size: 10)"},
        {"ListRuns", R"(playbook_id: "red-emergency-response" page_size: 1)"},
        {"CancelRun", absl::StrCat(R"(request_id: "cr1" run_id: ")", run2, R"(" reason: "duplicate")")},
        {"ListTasks", R"(assignee_id: "csm-1" status: TASK_STATUS_OPEN page_size: 20)"},
        {"ListTasks", absl::StrCat(R"(overdue_only: true run_id: ")", run, R"(")")},
        {"GetTask", absl::StrCat(R"(task_id: ")", run, R"(.0")")},
        {"CompleteTask",
         absl::StrCat(R"(request_id: "ct1" task_id: ")", run, R"(.0" outcome: "done" note: "spoke to sponsor")")},
        {"SnoozeTask",
         absl::StrCat(R"(request_id: "st1" task_id: ")", run, R"(.1" until { seconds: 1794000000 } reason: "waiting")")},
        {"ReassignTask",
         absl::StrCat(R"(request_id: "rt1" task_id: ")", run, R"(.2" assignee_id: "csm-2" reason: "vacation")")},
        {"ListEscalations", absl::StrCat(R"(task_id: ")", run, R"(.0")")},
        {"ListTaskEvents", R"(after_sequence: 0 page_size: 50)"},
        {"GetProgramMetrics", R"(from { seconds: 1790000000 } to { seconds: 1794000000 })"},
        {"GetPlaybookLift", R"(playbook_id: "red-emergency-response")"},
        {"GetOnboardingMetrics",
         R"(from { seconds: 1780000000 } to { seconds: 1794000000 } tier: TIER_ENTERPRISE
            targets { tier: TIER_ENTERPRISE time_to_value_days: 60 completion_rate: 0.8 } late_limit: 10)"},
        {"ListAdvocateCandidates", R"(min_score: 70 min_nps: 9 min_green_days: 30 tier: TIER_SMB limit: 20)"},
        {"RecordAdvocacyAsk",
         R"(request_id: "ad1" account_id: "acct-1" kind: ADVOCACY_KIND_REFERENCE status: ADVOCACY_ASK_STATUS_REQUESTED
            asked_by: "csm-1" note: "case for the board" override_reason: "sponsor volunteered")"},
        {"UpdateAdvocacyAsk", R"(request_id: "ad2" ask_id: 1 status: ADVOCACY_ASK_STATUS_AGREED note: "yes")"},
        {"ListAdvocacyAsks", R"(account_id: "acct-1" kind: ADVOCACY_KIND_REFERENCE page_size: 10)"},
        {"CreateSuccessPlanTemplate",
         R"(request_id: "tp1" plan_template { template_id: "fz-template" name: "Fuzz template" tier: TIER_SMB
            industry: INDUSTRY_SAAS objectives { title: "Adopt reports" description: "weekly use"
              milestones { title: "Training" due_after_days: 14 }
              criteria { description: "usage" source: CRITERION_SOURCE_COMPONENT name: "PRODUCT_USAGE"
                         comparison: COMPARISON_AT_LEAST target: 60 } } })"},
        {"ListSuccessPlanTemplates", R"(tier: TIER_SMB industry: INDUSTRY_SAAS)"},
        {"CreateSuccessPlan",
         R"(request_id: "pl1" plan { plan_id: "plan-1" account_id: "acct-1" title: "Year one" owner_id: "csm-1"
            objectives { objective_id: "o1" title: "Go live" milestones { milestone_id: "m1" title: "Kickoff"
              due_at { seconds: 1794000000 } owner_id: "csm-1" }
              criteria { criterion_id: "c1" description: "healthy" source: CRITERION_SOURCE_HEALTH_SCORE comparison: COMPARISON_AT_LEAST target: 70 } }
            expected_roi { amount { minor_units: 5000000 currency_code: "USD" } description: "hours saved" } })"},
        {"CreateSuccessPlan", R"(request_id: "pl2" plan { account_id: "acct-2" title: "From template" owner_id: "csm-2" } template_id: "fz-template")"},
        {"GetSuccessPlan", R"(plan_id: "plan-1")"},
        {"ListSuccessPlans", R"(account_id: "acct-1" status: SUCCESS_PLAN_STATUS_ACTIVE owner_id: "csm-1" page_size: 5)"},
        {"UpdateSuccessPlan",
         R"(request_id: "pl3" plan { plan_id: "plan-1" account_id: "acct-1" title: "Year one, revised" owner_id: "csm-2"
            status: SUCCESS_PLAN_STATUS_ACTIVE version: 1
            objectives { objective_id: "o1" title: "Go live" milestones { milestone_id: "m1" title: "Kickoff"
              due_at { seconds: 1794000000 } } } })"},
        {"CompleteMilestone", R"(request_id: "cm1" plan_id: "plan-1" milestone_id: "m1")"},
        {"ListAuditEvents",
         R"(filter { principal: "csm-1" account_id: "acct-1" since { seconds: 1790000000 } } page { page_size: 10 })"},
    };
  }();
  return *seeds;
}

struct Target {
  explicit Target(cs::db::Pool* pool)
      : chains(pool, &clock),
        escalations(&chains, &clock),
        repository(pool, &clock, pb::TaskEventCodecForOutbox()),
        playbooks(&repository, &health, &expansion, &clock, pb::PlaybookService::Options{}),
        outcome_repository(pool, &clock),
        onboarding(&outcome_repository, &clock),
        advocacy(&outcome_repository, &clock),
        audit(pool),
        plan_repository(pool, &clock, pb::TaskEventCodecForOutbox(),
                        cs::ProtoCodec<pb::PlanTemplate, v1::SuccessPlanTemplate>(
                            pb::PlanTemplateToProto, pb::PlanTemplateFromProto)),
        plans(&plan_repository, &health, &reader, &clock, pb::SuccessPlanService::Options{}),
        handler(&escalations, &playbooks) {
    // Attached as main.cc attaches them, so their RPCs are fuzzed too.
    handler.AttachOutcomes(&onboarding, &advocacy);
    handler.AttachSuccessPlans(&plans);
    handler.AttachAuditLog(&audit);
  }

  cs::FakeClock clock{absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), absl::UTCTimeZone())};
  FakeHealth health;
  FakeExpansion expansion;
  pb::MySqlEscalationRepository chains;
  pb::EscalationService escalations;
  pb::MySqlPlaybookRepository repository;
  pb::PlaybookService playbooks;
  pb::MySqlOutcomeRepository outcome_repository;
  pb::OnboardingService onboarding;
  pb::AdvocacyService advocacy;
  cs::db::AuditLog audit;
  FakeHealthReader reader;
  pb::MySqlSuccessPlanRepository plan_repository;
  pb::SuccessPlanService plans;
  pb::PlaybookHandler handler;
};

cs::fuzz::FuzzDatabase* database = nullptr;
Target* target = nullptr;
cs::fuzz::Harness* harness = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  cs::fuzz::MaybeWriteSeedsAndExit(kService, Seeds());
  database = new cs::fuzz::FuzzDatabase(
      cs::fuzz::OpenDatabase("fz_playbooks", {{"common", &common_migrations()},
                                              {"playbooks", &playbooks_migrations()}}));
  target = new Target(database->pool.get());
  if (absl::Status s = target->playbooks.EnsureDefaultPlaybooks(); !s.ok()) {
    std::fprintf(stderr, "fuzz: default playbooks: %s\n", s.ToString().c_str());
    std::exit(2);
  }
  if (absl::Status s = target->plans.EnsureDefaultTemplates(); !s.ok()) {
    std::fprintf(stderr, "fuzz: default plan templates: %s\n", s.ToString().c_str());
    std::exit(2);
  }
  cs::fuzz::Harness::Options options;
  options.watch = {"SELECT COUNT(*) FROM runs", "SELECT COUNT(*) FROM tasks",
                   "SELECT COUNT(*) FROM playbook_versions",
                   "SELECT COALESCE(MAX(updated_at), '') FROM escalation_chains"};
  options.before_call = [] { target->clock.Advance(absl::Milliseconds(1)); };
  harness = new cs::fuzz::Harness(&target->handler, kService, database->pool.get(),
                                  std::move(options));
  harness->Warm(Seeds());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return harness->Run(data, size);
}
