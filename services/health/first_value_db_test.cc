// Time to first value against the real MariaDB: the versioned definitions, the
// once-only first_value_at and its FIRST_VALUE_REACHED event, NPS_RECORDED.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/db/event_log.h"
#include "services/health/first_value_mapping.h"
#include "services/health/first_value_store.h"
#include "services/health/health_db_fixture.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;
using ::testing::HasSubstr;

class FirstValueDbTest : public HealthDbFixture {
 protected:
  void SetUp() override {
    HealthDbFixture::SetUp();
    if (pool_ == nullptr) return;
    first_value_repo_ = std::make_unique<MySqlFirstValueRepository>(pool_.get(), &clock_);
    first_value_ = std::make_unique<FirstValueService>(first_value_repo_.get(), &clock_);
    definition_codec_ = ProtoCodec<FirstValueDefinition, v1::FirstValueDefinition>(
        FirstValueDefinitionToProto,
        [](const v1::FirstValueDefinition& p) { return FirstValueDefinitionFromProto(p); });
  }

  Signal At(const std::string& account, SignalKind kind, absl::Duration ago,
            const std::string& feature = "") {
    Signal s;
    s.event_id = absl::StrCat("e", ++next_event_);
    s.account_id = account;
    s.kind = kind;
    s.occurred_at = clock_.Now() - ago;
    s.feature = feature;
    return s;
  }

  absl::StatusOr<IngestResult> Record(const std::vector<Signal>& signals) {
    return health_->RecordSignals({"RecordSignals", "", ""}, ingest_codec_, signals, {}, false);
  }

  // The events of `kind` after `after`, decoded as a consumer reads them.
  std::vector<v1::Event> Events(const std::string& kind, int64_t after) {
    std::vector<v1::Event> out;
    absl::StatusOr<std::vector<db::LoggedEvent>> events = db::ReadEvents(*pool_, after, 1000);
    EXPECT_OK(events);
    if (!events.ok()) return out;
    for (const db::LoggedEvent& e : *events) {
      if (e.kind != kind) continue;
      Event event{e.sequence, EventKindFromName(e.kind).value_or(EventKind::kUnspecified),
                  e.subject_id, e.occurred_at, e.payload};
      v1::Event p;
      EXPECT_OK(EventToProto(event, &p));
      out.push_back(std::move(p));
    }
    return out;
  }

  std::string FirstValueAt(const std::string& account) {
    std::string out = "unset";
    EXPECT_OK(pool_->Run([&](db::Connection& c) -> absl::Status {
      auto& stmt = c.Prepare("SELECT first_value_at FROM accounts WHERE account_id = ?");
      stmt.setString(1, account);
      std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
      if (rs->next()) out = rs->isNull(1) ? "null" : std::string(rs->getString(1));
      return absl::OkStatus();
    }));
    return out;
  }

  static absl::Time At(const std::string& column) {
    absl::StatusOr<absl::Time> t = db::FromSqlDatetime(column);
    EXPECT_OK(t) << column;
    return t.ok() ? *t : absl::InfinitePast();
  }

  absl::StatusOr<FirstValueDefinition> Set(const FirstValueDefinition& d,
                                           const std::string& request_id = "") {
    return first_value_->SetDefinition({"SetFirstValueDefinition", request_id, "fp"},
                                       definition_codec_, d);
  }

  std::unique_ptr<MySqlFirstValueRepository> first_value_repo_;
  std::unique_ptr<FirstValueService> first_value_;
  db::ResultCodec<FirstValueDefinition> definition_codec_;
  db::ResultCodec<IngestResult> ingest_codec_;
  int next_event_ = 0;
};

TEST_F(FirstValueDbTest, DefaultsAreTheFirstFeatureUseForEveryTierAtVersionOne) {
  absl::StatusOr<std::vector<FirstValueDefinition>> defs = first_value_->GetDefinitions();
  ASSERT_OK(defs);
  ASSERT_EQ(defs->size(), 4u);
  const Tier tiers[] = {Tier::kEnterprise, Tier::kMidMarket, Tier::kSmb, Tier::kSolo};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*defs)[i].tier, tiers[i]);
    EXPECT_EQ((*defs)[i].version, 1);
    EXPECT_EQ((*defs)[i].signal_kind, SignalKind::kFeatureUsed);
    EXPECT_EQ((*defs)[i].feature, "");
    EXPECT_EQ((*defs)[i].event_name, "");
  }
}

TEST_F(FirstValueDbTest, TheFirstMatchingSignalIsRecordedOnceWithOneEvent) {
  AddAccount("a1");  // SMB
  AddAccount("a2");
  const int64_t start = *db::LastSequence(*pool_);
  // Logins are not value: nothing recorded, nothing published.
  ASSERT_OK(Record({At("a1", SignalKind::kLogin, absl::Hours(50)),
                    At("a1", SignalKind::kLogin, absl::Hours(40))}));
  EXPECT_EQ(FirstValueAt("a1"), "null");
  EXPECT_TRUE(Events("FIRST_VALUE_REACHED", start).empty());

  // Two matching signals in one batch, the later one first: the earlier counts.
  Signal later = At("a1", SignalKind::kFeatureUsed, absl::Hours(5), "reports");
  Signal earlier = At("a1", SignalKind::kFeatureUsed, absl::Hours(30), "dashboards");
  const int64_t before = *db::LastSequence(*pool_);
  ASSERT_OK(Record({later, At("a2", SignalKind::kLogin, absl::Hours(1)), earlier}));
  EXPECT_EQ(At(FirstValueAt("a1")), earlier.occurred_at);
  EXPECT_EQ(FirstValueAt("a2"), "null");
  std::vector<v1::Event> reached = Events("FIRST_VALUE_REACHED", before);
  ASSERT_EQ(reached.size(), 1u);
  EXPECT_EQ(reached[0].kind(), v1::EVENT_KIND_FIRST_VALUE_REACHED);
  EXPECT_EQ(reached[0].account_id(), "a1");
  ASSERT_TRUE(reached[0].has_first_value_reached());
  const v1::FirstValueReached& p = reached[0].first_value_reached();
  EXPECT_EQ(p.signal_event_id(), earlier.event_id);
  EXPECT_EQ(p.feature(), "dashboards");
  EXPECT_EQ(p.tier(), v1::TIER_SMB);
  EXPECT_EQ(p.definition_version(), 1);
  EXPECT_EQ(FromTimestamp(p.reached_at()), earlier.occurred_at);

  // Later matching signals, even older ones, change nothing: once per account.
  const int64_t after = *db::LastSequence(*pool_);
  ASSERT_OK(Record({At("a1", SignalKind::kFeatureUsed, absl::Hours(60), "exports")}));
  EXPECT_EQ(At(FirstValueAt("a1")), earlier.occurred_at);
  EXPECT_TRUE(Events("FIRST_VALUE_REACHED", after).empty());
  // A duplicate of the first signal changes nothing either.
  ASSERT_OK(Record({earlier}));
  EXPECT_TRUE(Events("FIRST_VALUE_REACHED", after).empty());
}

TEST_F(FirstValueDbTest, AFailedBatchRecordsNoFirstValue) {
  AddAccount("a1");
  const int64_t start = *db::LastSequence(*pool_);
  // Atomic batch with an unknown account: refused, so neither the signal nor its
  // first value is stored.
  Signal value = At("a1", SignalKind::kFeatureUsed, absl::Hours(2), "reports");
  absl::StatusOr<IngestResult> r = health_->RecordSignals(
      {"RecordSignals", "", ""}, ingest_codec_,
      {value, At("nobody", SignalKind::kFeatureUsed, absl::Hours(2), "x")}, {}, true);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(FirstValueAt("a1"), "null");
  EXPECT_TRUE(Events("FIRST_VALUE_REACHED", start).empty());
}

TEST_F(FirstValueDbTest, ATierDefinitionByEventNameMatchesOnlyThatTrackedEvent) {
  AddAccount("smb", 40);
  AddAccount("ent", 5000);
  FirstValueDefinition d;
  d.tier = Tier::kSmb;
  d.version = 1;
  d.signal_kind = SignalKind::kFeatureUsed;
  d.event_name = "Report Shared";
  absl::StatusOr<FirstValueDefinition> stored = Set(d, "set-1");
  ASSERT_OK(stored);
  EXPECT_EQ(stored->version, 2);
  // A replay answers the same; a stale version is ABORTED.
  absl::StatusOr<FirstValueDefinition> replay = Set(d, "set-1");
  ASSERT_OK(replay);
  EXPECT_EQ(replay->version, 2);
  EXPECT_THAT(Set(d), StatusIs(absl::StatusCode::kAborted, HasSubstr("definition.version")));
  EXPECT_EQ(first_value_->GetDefinitions()->at(2).event_name, "Report Shared");
  EXPECT_EQ(Count("SELECT COUNT(*) FROM first_value_definition_versions WHERE tier = 'SMB'"), 2);

  EventMapping report;
  report.event_name = "Report Shared";
  report.kind = SignalKind::kFeatureUsed;
  db::ResultCodec<EventMapping> mapping_codec;
  ASSERT_OK(health_->SetEventMapping({"SetEventMapping", "", ""}, mapping_codec, report));
  EventMapping viewed = report;
  viewed.event_name = "Report Viewed";
  ASSERT_OK(health_->SetEventMapping({"SetEventMapping", "", ""}, mapping_codec, viewed));

  const int64_t start = *db::LastSequence(*pool_);
  // A direct FEATURE_USED and a tracked "Report Viewed" are not the SMB value any
  // more; the enterprise account still uses the default (any feature use).
  ASSERT_OK(Record({At("smb", SignalKind::kFeatureUsed, absl::Hours(3), "reports"),
                    At("ent", SignalKind::kFeatureUsed, absl::Hours(3), "reports")}));
  auto track = [&](const std::string& id, const std::string& event, absl::Duration ago) {
    TrackEvent t;
    t.message_id = id;
    t.event = event;
    t.group_id = "smb";
    t.timestamp = clock_.Now() - ago;
    return t;
  };
  ASSERT_OK(health_->TrackEvents({"TrackEvents", "", ""}, ingest_codec_,
                                 {track("m1", "Report Viewed", absl::Hours(2))}, false));
  EXPECT_EQ(FirstValueAt("smb"), "null");
  ASSERT_OK(health_->TrackEvents({"TrackEvents", "", ""}, ingest_codec_,
                                 {track("m2", "Report Shared", absl::Hours(1))}, false));
  EXPECT_EQ(At(FirstValueAt("smb")), clock_.Now() - absl::Hours(1));
  std::vector<v1::Event> reached = Events("FIRST_VALUE_REACHED", start);
  ASSERT_EQ(reached.size(), 2u);
  EXPECT_EQ(reached[0].account_id(), "ent");
  EXPECT_EQ(reached[1].account_id(), "smb");
  EXPECT_EQ(reached[1].first_value_reached().event_name(), "Report Shared");
  EXPECT_EQ(reached[1].first_value_reached().definition_version(), 2);
}

TEST_F(FirstValueDbTest, BadDefinitionsAreRefusedNamingTheFieldAndWriteNothing) {
  FirstValueDefinition d;
  d.version = 1;
  d.signal_kind = SignalKind::kFeatureUsed;
  EXPECT_THAT(Set(d), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("definition.tier")));
  d.tier = Tier::kSolo;
  d.signal_kind = SignalKind::kUnspecified;
  EXPECT_THAT(Set(d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("definition.signal_kind")));
  d.signal_kind = SignalKind::kFeatureUsed;
  d.feature = std::string(65, 'f');
  EXPECT_THAT(Set(d), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("definition.feature")));
  v1::FirstValueDefinition wire;
  wire.set_tier(static_cast<v1::Tier>(42));
  EXPECT_THAT(FirstValueDefinitionFromProto(wire),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("definition.tier")));
  EXPECT_EQ(Count("SELECT COUNT(*) FROM first_value_definition_versions"), 4);
  EXPECT_EQ(first_value_->GetDefinitions()->at(3).version, 1);
}

TEST_F(FirstValueDbTest, EachNpsAnswerIsPublishedWithItsScore) {
  AddAccount("a1", 5);  // SOLO
  const int64_t start = *db::LastSequence(*pool_);
  Signal nps = At("a1", SignalKind::kNpsResponse, absl::Hours(4));
  nps.value = 9;
  Signal nps2 = At("a1", SignalKind::kNpsResponse, absl::Hours(2));
  nps2.value = 6;
  ASSERT_OK(Record({nps, At("a1", SignalKind::kLogin, absl::Hours(1)), nps2}));
  ASSERT_OK(Record({nps}));  // duplicate: no second event
  std::vector<v1::Event> answers = Events("NPS_RECORDED", start);
  ASSERT_EQ(answers.size(), 2u);
  std::map<std::string, double> by_id;
  for (const v1::Event& e : answers) {
    EXPECT_EQ(e.account_id(), "a1");
    EXPECT_EQ(e.nps_recorded().tier(), v1::TIER_SOLO);
    by_id[e.nps_recorded().signal_event_id()] = e.nps_recorded().score();
  }
  EXPECT_EQ(by_id[nps.event_id], 9);
  EXPECT_EQ(by_id[nps2.event_id], 6);
}

}  // namespace
}  // namespace cs::health
