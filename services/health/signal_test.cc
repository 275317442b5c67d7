#include "services/health/signal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace cs::health {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

std::vector<std::pair<std::string, double>> Increments(const Signal& s) {
  std::vector<std::pair<std::string, double>> out;
  ForEachCounterIncrement(s, [&](absl::string_view counter, double amount) {
    out.emplace_back(std::string(counter), amount);
  });
  return out;
}

Signal Of(SignalKind kind, double value = 0) {
  Signal s;
  s.kind = kind;
  s.value = value;
  return s;
}

TEST(CounterIncrementTest, EachKindAddsItsCounters) {
  EXPECT_THAT(Increments(Of(SignalKind::kLogin)), ElementsAre(Pair("logins", 1)));
  EXPECT_THAT(Increments(Of(SignalKind::kSessionMinutes, 42)),
              ElementsAre(Pair("session_minutes", 42)));
  EXPECT_THAT(Increments(Of(SignalKind::kNpsResponse, 9)),
              ElementsAre(Pair("nps_sum", 9), Pair("nps_count", 1)));
  EXPECT_THAT(Increments(Of(SignalKind::kCsmSentiment, 4)),
              ElementsAre(Pair("sentiment_sum", 4), Pair("sentiment_count", 1)));
  EXPECT_THAT(Increments(Of(SignalKind::kUnspecified)), IsEmpty());
}

TEST(CounterIncrementTest, AResolvedTicketCountsItsRatingOnlyWhenRated) {
  Signal s = Of(SignalKind::kTicketResolved, 6.5);
  EXPECT_THAT(Increments(s),
              ElementsAre(Pair("tickets_resolved", 1), Pair("resolution_hours", 6.5)));
  s.csat = 4;
  EXPECT_THAT(Increments(s),
              ElementsAre(Pair("tickets_resolved", 1), Pair("resolution_hours", 6.5),
                          Pair("csat_sum", 4), Pair("csat_count", 1)));
}

// A feature's own counter carries its whole name, up to the 64 characters a
// valid signal may name.
TEST(CounterIncrementTest, AFeatureUseCountsTheFeatureByItsWholeName) {
  Signal s = Of(SignalKind::kFeatureUsed);
  s.feature = "reports";
  EXPECT_THAT(Increments(s), ElementsAre(Pair("feature_uses", 1), Pair("feature:reports", 1)));
  s.feature = std::string(63, 'x') + "y";
  EXPECT_THAT(Increments(s),
              ElementsAre(Pair("feature_uses", 1), Pair("feature:" + s.feature, 1)));
}

}  // namespace
}  // namespace cs::health
