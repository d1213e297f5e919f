#include "dynamo/publisher_sequences.h"

#include <gtest/gtest.h>

namespace mk::dynamo {
namespace {

TEST(PublisherSequencesTest, InOrderLosesNothing) {
  PublisherSequences sequences;
  for (uint64_t i = 0; i < 10; ++i) sequences.Observe(7, i);
  EXPECT_EQ(sequences.lost(), 0u);
  EXPECT_EQ(sequences.restarts(), 0u);
}

TEST(PublisherSequencesTest, FirstSightingMayStartAnywhere) {
  PublisherSequences sequences;
  sequences.Observe(7, 5000);  // subscribed late: nothing is known lost
  sequences.Observe(7, 5001);
  EXPECT_EQ(sequences.lost(), 0u);
}

TEST(PublisherSequencesTest, GapsCountTheMissingEvents) {
  PublisherSequences sequences;
  sequences.Observe(7, 0);
  sequences.Observe(7, 1);
  sequences.Observe(7, 5);  // 2, 3, 4 lost
  sequences.Observe(8, 0);
  sequences.Observe(8, 2);  // 1 lost
  EXPECT_EQ(sequences.lost(), 4u);
}

TEST(PublisherSequencesTest, SequenceGoingBackIsARestart) {
  PublisherSequences sequences;
  sequences.Observe(7, 0);
  sequences.Observe(7, 1);
  sequences.Observe(7, 0);
  sequences.Observe(7, 1);
  EXPECT_EQ(sequences.restarts(), 1u);
  EXPECT_EQ(sequences.lost(), 0u);
}

TEST(PublisherSequencesTest, ForgetsTheOldestPastTheLimit) {
  PublisherSequences sequences(100);
  for (uint64_t id = 0; id < 1000; ++id) sequences.Observe(id, 0);
  EXPECT_LE(sequences.publishers(), 100u);
  // A recent one is still followed.
  sequences.Observe(999, 3);
  EXPECT_EQ(sequences.lost(), 2u);
}

}  // namespace
}  // namespace mk::dynamo
