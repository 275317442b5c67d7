#include "services/health/health_mapping.h"

#include <gtest/gtest.h>

#include <string>

#include "common/testing/status_matchers.h"

namespace cs::health {
namespace {

namespace v1 = cs::health::v1;

RecordAck Ack(int index, RecordOutcome outcome, std::string reason = "") {
  RecordAck a;
  a.index = index;
  a.event_id = "e" + std::to_string(index);
  a.outcome = outcome;
  a.reason = std::move(reason);
  return a;
}

IngestResult Mixed() {
  IngestResult r;
  r.acks = {Ack(0, RecordOutcome::kAccepted), Ack(1, RecordOutcome::kDuplicate),
            Ack(2, RecordOutcome::kAccepted), Ack(3, RecordOutcome::kRejected, "bad kind"),
            Ack(4, RecordOutcome::kAccepted)};
  r.accepted = 3;
  r.duplicates = 1;
  r.rejected = 1;
  return r;
}

// A stored answer keeps the counts and the acks of the records not accepted; read
// back, it answers for every record as the call did (event ids aside, which the
// retry carries).
TEST(StoredIngestAnswerTest, KeepsOnlyTheAcksOfRecordsNotAcceptedAndReadsBackWhole) {
  v1::RecordSignalsResponse stored;
  IngestResultToStored(Mixed(), &stored);
  ASSERT_EQ(stored.acks_size(), 2);
  EXPECT_EQ(stored.acks(0).index(), 1);
  EXPECT_EQ(stored.acks(1).index(), 3);
  EXPECT_TRUE(stored.acks(1).event_id().empty());

  absl::StatusOr<IngestResult> back = IngestResultFromProto(stored);
  ASSERT_OK(back);
  const IngestResult want = Mixed();
  ASSERT_EQ(back->acks.size(), want.acks.size());
  for (size_t i = 0; i < want.acks.size(); ++i) {
    EXPECT_EQ(back->acks[i].index, want.acks[i].index);
    EXPECT_EQ(back->acks[i].outcome, want.acks[i].outcome);
    EXPECT_EQ(back->acks[i].reason, want.acks[i].reason);
    EXPECT_TRUE(back->acks[i].event_id.empty());
  }
  EXPECT_EQ(back->accepted, 3);
  EXPECT_EQ(back->duplicates, 1);
  EXPECT_EQ(back->rejected, 1);
}

TEST(StoredIngestAnswerTest, AnAllAcceptedBatchStoresNoAck) {
  IngestResult r;
  for (int i = 0; i < 500; ++i) r.acks.push_back(Ack(i, RecordOutcome::kAccepted));
  r.accepted = 500;
  v1::RecordSignalsResponse stored;
  IngestResultToStored(r, &stored);
  EXPECT_EQ(stored.acks_size(), 0);
  EXPECT_LT(stored.ByteSizeLong(), 8u);
  absl::StatusOr<IngestResult> back = IngestResultFromProto(stored);
  ASSERT_OK(back);
  ASSERT_EQ(back->acks.size(), 500u);
  EXPECT_EQ(back->acks[499].index, 499);
  EXPECT_EQ(back->acks[499].outcome, RecordOutcome::kAccepted);
}

// Answers stored before carry every ack and read as they are.
TEST(StoredIngestAnswerTest, AnAnswerWithEveryAckReadsAsStored) {
  v1::RecordSignalsResponse full;
  MoveIngestResultToProto(Mixed(), &full);
  absl::StatusOr<IngestResult> back = IngestResultFromProto(full);
  ASSERT_OK(back);
  ASSERT_EQ(back->acks.size(), 5u);
  EXPECT_EQ(back->acks[3].reason, "bad kind");
  EXPECT_EQ(back->acks[4].event_id, "e4");
}

TEST(StoredIngestAnswerTest, AcksOutOfOrderAreACorruptAnswer) {
  v1::RecordSignalsResponse stored;
  IngestResultToStored(Mixed(), &stored);
  stored.mutable_acks()->SwapElements(0, 1);
  EXPECT_FALSE(IngestResultFromProto(stored).ok());
  v1::RecordSignalsResponse beyond;
  IngestResultToStored(Mixed(), &beyond);
  beyond.mutable_acks(1)->set_index(9);
  EXPECT_FALSE(IngestResultFromProto(beyond).ok());
}

}  // namespace
}  // namespace cs::health
