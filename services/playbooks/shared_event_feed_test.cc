// The feed the two consumers of one replica share: the follower reads what the
// leader read, from memory, and health only when it is behind or the leader stopped.

#include "services/playbooks/shared_event_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/testing/status_matchers.h"
#include "services/playbooks/worker.h"

namespace cs::playbooks {
namespace {

// A log of `size` events (sequence 1..size) answering pages as health does.
class LogFeed final : public HealthFeed {
 public:
  explicit LogFeed(int64_t size) : size_(size) {}
  absl::StatusOr<HealthEventPage> ListEvents(int64_t after, int limit) override {
    ++calls;
    if (down) return absl::UnavailableError("health is down");
    HealthEventPage page;
    page.last_sequence = size_;
    for (int64_t s = after + 1; s <= size_ && s <= after + limit; ++s) {
      HealthEvent e;
      e.sequence = s;
      e.account_id = "acct-" + std::to_string(s);
      page.events.push_back(e);
    }
    return page;
  }
  absl::StatusOr<AccountProfile> GetAccount(const std::string&) override {
    return absl::NotFoundError("none");
  }
  void Grow(int64_t by) { size_ += by; }
  int calls = 0;
  bool down = false;

 private:
  int64_t size_;
};

std::vector<int64_t> Sequences(const HealthEventPage& page) {
  std::vector<int64_t> out;
  for (const HealthEvent& e : page.events) out.push_back(e.sequence);
  return out;
}

class SharedEventFeedTest : public ::testing::Test {
 protected:
  LogFeed log_{100};
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  SharedEventFeed feed_{&log_, &clock_, /*capacity=*/30, /*stale_after=*/absl::Seconds(10)};
};

TEST_F(SharedEventFeedTest, TheFollowerReadsWhatTheLeaderReadWithoutAskingHealth) {
  ASSERT_OK(feed_.ListEvents(0, 10));
  ASSERT_OK(feed_.ListEvents(10, 10));
  ASSERT_EQ(log_.calls, 2);
  absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(0, 15);
  ASSERT_OK(page);
  EXPECT_EQ(Sequences(*page), std::vector<int64_t>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                                    14, 15}));
  EXPECT_EQ(page->events[4].account_id, "acct-5");
  EXPECT_EQ(page->last_sequence, 100);
  // The rest of what the leader read, then nothing until it reads on.
  page = feed_.follower()->ListEvents(15, 15);
  ASSERT_OK(page);
  EXPECT_EQ(Sequences(*page), std::vector<int64_t>({16, 17, 18, 19, 20}));
  page = feed_.follower()->ListEvents(20, 15);
  ASSERT_OK(page);
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(log_.calls, 2);
  ASSERT_OK(feed_.ListEvents(20, 10));
  page = feed_.follower()->ListEvents(20, 15);
  ASSERT_OK(page);
  EXPECT_EQ(page->events.front().sequence, 21);
  EXPECT_EQ(page->events.back().sequence, 30);
  EXPECT_EQ(log_.calls, 3);
  EXPECT_EQ(feed_.follower_pages_from_memory(), 3);
  EXPECT_EQ(feed_.follower_pages_from_health(), 0);
}

TEST_F(SharedEventFeedTest, AFollowerBehindWhatIsKeptReadsHealthItself) {
  for (int64_t after = 0; after < 50; after += 10) ASSERT_OK(feed_.ListEvents(after, 10));
  // Capacity 30: events 21..50 are kept, 1..20 are gone.
  absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(5, 10);
  ASSERT_OK(page);
  EXPECT_EQ(page->events.front().sequence, 6);
  EXPECT_EQ(page->events.back().sequence, 15);
  EXPECT_EQ(log_.calls, 6);
  page = feed_.follower()->ListEvents(20, 10);
  ASSERT_OK(page);
  EXPECT_EQ(page->events.front().sequence, 21);
  EXPECT_EQ(log_.calls, 6);
  EXPECT_EQ(feed_.follower_pages_from_health(), 1);
}

TEST_F(SharedEventFeedTest, WhenTheLeaderStopsReadingTheFollowerGoesToHealth) {
  ASSERT_OK(feed_.ListEvents(0, 10));
  clock_.Advance(absl::Seconds(11));
  absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(10, 10);
  ASSERT_OK(page);
  EXPECT_EQ(page->events.front().sequence, 11);
  EXPECT_EQ(log_.calls, 2);
  // Health down: the follower hears it rather than an empty page.
  log_.down = true;
  EXPECT_FALSE(feed_.follower()->ListEvents(20, 10).ok());
}

TEST_F(SharedEventFeedTest, ALeaderStuckOnOnePageDoesNotHoldTheFollowerBack) {
  ASSERT_OK(feed_.ListEvents(0, 10));
  ASSERT_OK(feed_.follower()->ListEvents(0, 10));
  // The leader cannot apply the next page and reads it again and again.
  for (int i = 0; i < 12; ++i) {
    ASSERT_OK(feed_.ListEvents(10, 10));
    clock_.Advance(absl::Seconds(1));
  }
  const int calls = log_.calls;
  // What the leader read still comes from memory; past it, health answers.
  absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(10, 10);
  ASSERT_OK(page);
  EXPECT_EQ(page->events.front().sequence, 11);
  EXPECT_EQ(log_.calls, calls);
  page = feed_.follower()->ListEvents(20, 10);
  ASSERT_OK(page);
  ASSERT_FALSE(page->events.empty());
  EXPECT_EQ(page->events.front().sequence, 21);
  EXPECT_EQ(log_.calls, calls + 1);
  // A leader caught up with health (an empty page) is keeping pace.
  LogFeed short_log(20);
  SharedEventFeed feed(&short_log, &clock_, 30, absl::Seconds(10));
  ASSERT_OK(feed.ListEvents(0, 10));
  ASSERT_OK(feed.ListEvents(10, 10));
  for (int i = 0; i < 12; ++i) {
    ASSERT_OK(feed.ListEvents(20, 10));
    clock_.Advance(absl::Seconds(1));
  }
  page = feed.follower()->ListEvents(20, 10);
  ASSERT_OK(page);
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(feed.follower_pages_from_health(), 0);
}

TEST_F(SharedEventFeedTest, ALeaderPageThatDoesNotJoinWhatIsKeptReplacesIt) {
  ASSERT_OK(feed_.ListEvents(0, 10));
  ASSERT_OK(feed_.ListEvents(60, 10));  // another replica moved the cursor on
  absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(60, 5);
  ASSERT_OK(page);
  EXPECT_EQ(Sequences(*page), std::vector<int64_t>({61, 62, 63, 64, 65}));
  // 1..10 are no longer kept: the follower at 3 reads health.
  page = feed_.follower()->ListEvents(3, 5);
  ASSERT_OK(page);
  EXPECT_EQ(page->events.front().sequence, 4);
  EXPECT_EQ(log_.calls, 3);
}

TEST_F(SharedEventFeedTest, AFollowerAheadOfTheLeaderWaitsForIt) {
  ASSERT_OK(feed_.ListEvents(0, 10));
  absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(40, 10);
  ASSERT_OK(page);
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(log_.calls, 1);
  // A leader page that overlaps what is kept extends it.
  ASSERT_OK(feed_.ListEvents(5, 40));
  page = feed_.follower()->ListEvents(40, 10);
  ASSERT_OK(page);
  EXPECT_EQ(Sequences(*page), std::vector<int64_t>({41, 42, 43, 44, 45}));
  EXPECT_EQ(log_.calls, 2);
}

// The follower's loop, caught up with the leader, waits out its idle interval (an
// hour here) unless the leader keeps new events: each page it keeps wakes the
// follower, which takes it from memory at once, so it never falls behind what is
// kept and never reads health itself. A page of nothing new wakes nobody.
TEST_F(SharedEventFeedTest, EachPageTheLeaderKeepsWakesTheFollowersLoop) {
  std::atomic<int> kept{0};
  std::atomic<int64_t> cursor{0};
  std::atomic<int> rounds{0};
  Worker follower(
      "follower",
      [&]() -> absl::StatusOr<int> {
        ++rounds;
        absl::StatusOr<HealthEventPage> page = feed_.follower()->ListEvents(cursor.load(), 10);
        if (!page.ok()) return page.status();
        if (!page->events.empty()) cursor = page->events.back().sequence;
        return static_cast<int>(page->events.size());
      },
      absl::Hours(1));
  feed_.OnKept([&] {
    ++kept;
    follower.Wake();
  });
  auto wait_for = [](const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  };
  ASSERT_OK(feed_.ListEvents(0, 10));
  EXPECT_EQ(kept.load(), 1);
  follower.Start();
  ASSERT_TRUE(wait_for([&] { return cursor.load() == 10 && rounds.load() >= 2; }));
  // Caught up: the follower's loop waits. The leader reads on.
  ASSERT_OK(feed_.ListEvents(10, 10));
  EXPECT_TRUE(wait_for([&] { return cursor.load() == 20; })) << "the follower slept on";
  ASSERT_OK(feed_.ListEvents(20, 10));
  EXPECT_TRUE(wait_for([&] { return cursor.load() == 30; })) << "the follower slept on";
  follower.Stop();
  EXPECT_EQ(kept.load(), 3);
  EXPECT_EQ(log_.calls, 3) << "the follower read health";
  EXPECT_EQ(feed_.follower_pages_from_health(), 0);

  // The same page read again keeps nothing new; an empty page neither.
  ASSERT_OK(feed_.ListEvents(20, 10));
  ASSERT_OK(feed_.ListEvents(100, 10));
  EXPECT_EQ(kept.load(), 3);
}

}  // namespace
}  // namespace cs::playbooks
