#include "fleet/worker_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

#include "dynamo/worker_load.h"

namespace mk::dynamo {

// Found by argument-dependent lookup: readable keys in failure messages.
static void PrintTo(const WorkerKey& key, std::ostream* os) {
  *os << "{lease=0x" << LeaseHex(key.lease_id) << " rank=";
  if (key.dp_rank) {
    *os << *key.dp_rank;
  } else {
    *os << "none";
  }
  *os << "}";
}

}  // namespace mk::dynamo

namespace mk::fleet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

using Key = dynamo::WorkerKey;

dynamo::WorkerLoad Unit(uint64_t lease, std::optional<uint32_t> rank = std::nullopt,
                        uint64_t kv_active = 0) {
  dynamo::WorkerLoad unit;
  unit.key = Key{lease, rank};
  unit.kv_active_blocks = kv_active;
  unit.kv_total_blocks = 100;
  return unit;
}

std::vector<Key> KeysOf(const std::vector<dynamo::WorkerLoad>& units) {
  std::vector<Key> keys;
  for (const auto& unit : units) keys.push_back(unit.key);
  return keys;
}

class WorkerTableTest : public ::testing::Test {
 protected:
  WorkerTable table_;
  const WorkerTable::TimePoint t0_ = WorkerTable::TimePoint{} + 1000s;
};

TEST_F(WorkerTableTest, StartsEmpty) {
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_THAT(table_.Units(), IsEmpty());
  EXPECT_THAT(table_.Leases(), IsEmpty());
}

TEST_F(WorkerTableTest, RecordIsTrueOnlyForNewUnits) {
  EXPECT_TRUE(table_.Record(Unit(1), t0_));
  EXPECT_FALSE(table_.Record(Unit(1), t0_ + 1s));
  EXPECT_TRUE(table_.Record(Unit(2), t0_ + 1s));
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, EachRankIsItsOwnUnit) {
  EXPECT_TRUE(table_.Record(Unit(1, 0u), t0_));
  EXPECT_TRUE(table_.Record(Unit(1, 1u), t0_));
  // A lease without a rank is yet another unit.
  EXPECT_TRUE(table_.Record(Unit(1), t0_));
  EXPECT_FALSE(table_.Record(Unit(1, 1u), t0_));
  EXPECT_EQ(table_.size(), 3u);
}

TEST_F(WorkerTableTest, RecordKeepsTheLatestReport) {
  table_.Record(Unit(1, std::nullopt, 10), t0_);
  table_.Record(Unit(1, std::nullopt, 70), t0_ + 1s);
  const std::vector<dynamo::WorkerLoad> units = table_.Units();
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].kv_active_blocks, 70u);
}

TEST_F(WorkerTableTest, UnitsAreOrderedByKey) {
  table_.Record(Unit(3), t0_);
  table_.Record(Unit(1, 1u), t0_);
  table_.Record(Unit(2), t0_);
  table_.Record(Unit(1, 0u), t0_);
  table_.Record(Unit(1), t0_);
  // By lease, then rank, with "no rank" first.
  EXPECT_THAT(KeysOf(table_.Units()), ElementsAre(Key{1, std::nullopt}, Key{1, 0u}, Key{1, 1u},
                                                  Key{2, std::nullopt}, Key{3, std::nullopt}));
}

TEST_F(WorkerTableTest, EvictsOnlyUnitsHeardBeforeTheBound) {
  table_.Record(Unit(1), t0_);
  table_.Record(Unit(2), t0_ + 5s);
  table_.Record(Unit(3), t0_ + 10s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 5s), ElementsAre(Key{1, std::nullopt}));
  // A unit heard exactly at the bound stays.
  EXPECT_THAT(KeysOf(table_.Units()), ElementsAre(Key{2, std::nullopt}, Key{3, std::nullopt}));
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, EvictsSeveralAndReturnsTheirKeys) {
  table_.Record(Unit(1, 0u), t0_);
  table_.Record(Unit(1, 1u), t0_ + 1s);
  table_.Record(Unit(2), t0_ + 2s);
  table_.Record(Unit(3), t0_ + 9s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 3s),
              UnorderedElementsAre(Key{1, 0u}, Key{1, 1u}, Key{2, std::nullopt}));
  EXPECT_THAT(KeysOf(table_.Units()), ElementsAre(Key{3, std::nullopt}));
}

TEST_F(WorkerTableTest, EvictingNothingReturnsNothing) {
  table_.Record(Unit(1), t0_ + 5s);
  EXPECT_THAT(table_.EvictSilentSince(t0_), IsEmpty());
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(WorkerTableTest, RecordingAgainRefreshesTheHeardTime) {
  table_.Record(Unit(1), t0_);
  table_.Record(Unit(1), t0_ + 10s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 5s), IsEmpty());
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(WorkerTableTest, EvictedUnitIsNewAgainWhenItReturns) {
  table_.Record(Unit(1), t0_);
  table_.EvictSilentSince(t0_ + 1s);
  EXPECT_TRUE(table_.Record(Unit(1), t0_ + 2s));
}

TEST_F(WorkerTableTest, LeasesAreTheDistinctLeasesPresent) {
  table_.Record(Unit(7, 0u), t0_);
  table_.Record(Unit(7, 1u), t0_ + 5s);
  table_.Record(Unit(9), t0_);
  table_.Record(Unit(4), t0_ + 5s);
  EXPECT_THAT(table_.Leases(), ElementsAre(4u, 7u, 9u));
  table_.EvictSilentSince(t0_ + 1s);
  // Lease 7 still has rank 1; lease 9 has gone.
  EXPECT_THAT(table_.Leases(), ElementsAre(4u, 7u));
}

}  // namespace
}  // namespace mk::fleet
