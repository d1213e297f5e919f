#include "fleet/pending_units.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <optional>

namespace mk::fleet {
namespace {

using Key = dynamo::WorkerKey;

// One reply due from each of `keys`.
std::map<Key, size_t> Expect(std::initializer_list<Key> keys) {
  std::map<Key, size_t> expected;
  for (const Key& key : keys) expected[key] = 1;
  return expected;
}

TEST(PendingUnitsTest, NobodyExpectedNeverAllReplied) {
  PendingUnits pending(Expect({}));
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{1, std::nullopt});
  EXPECT_FALSE(pending.AllReplied());
}

TEST(PendingUnitsTest, EveryRankMustReplyNotJustTheWorker) {
  // A data-parallel worker answering one reply per rank: the first rank's reply
  // must not end the round.
  PendingUnits pending(Expect({Key{1, 0u}, Key{1, 1u}, Key{1, 2u}, Key{1, 3u}}));
  pending.Heard(Key{1, 0u});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{1, 2u});
  pending.Heard(Key{1, 1u});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{1, 3u});
  EXPECT_TRUE(pending.AllReplied());
}

TEST(PendingUnitsTest, OtherWorkersAndRepeatsDoNotCount) {
  PendingUnits pending(Expect({Key{1, 0u}, Key{1, 1u}}));
  pending.Heard(Key{1, 0u});
  pending.Heard(Key{1, 0u});
  pending.Heard(Key{2, 1u});
  pending.Heard(Key{1, 5u});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{1, 1u});
  EXPECT_TRUE(pending.AllReplied());
}

TEST(PendingUnitsTest, RanklessReplyStandsForTheRanklessUnitFirst) {
  PendingUnits pending(Expect({Key{1, std::nullopt}, Key{2, std::nullopt}}));
  pending.Heard(Key{1, std::nullopt});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{2, std::nullopt});
  EXPECT_TRUE(pending.AllReplied());
}

TEST(PendingUnitsTest, RanklessRepliesStandForOneRankEach) {
  // Ranks that answer `data: null` carry no rank: four such replies of worker 1
  // let the round end, three do not, and another worker's do not help.
  PendingUnits pending(
      Expect({Key{1, 0u}, Key{1, 1u}, Key{1, 2u}, Key{1, 3u}, Key{2, std::nullopt}}));
  pending.Heard(Key{2, std::nullopt});
  for (int i = 0; i < 3; ++i) pending.Heard(Key{1, std::nullopt});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{3, std::nullopt});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{1, std::nullopt});
  EXPECT_TRUE(pending.AllReplied());
}

TEST(PendingUnitsTest, RanklessUnitStandingForSeveralNeedsAReplyEach) {
  std::map<Key, size_t> expected = {{Key{1, std::nullopt}, 3}, {Key{2, 0u}, 1}};
  PendingUnits pending(expected);
  pending.Heard(Key{2, 0u});
  pending.Heard(Key{1, std::nullopt});
  pending.Heard(Key{1, std::nullopt});
  EXPECT_FALSE(pending.AllReplied());
  pending.Heard(Key{1, std::nullopt});
  EXPECT_TRUE(pending.AllReplied());
}

}  // namespace
}  // namespace mk::fleet
