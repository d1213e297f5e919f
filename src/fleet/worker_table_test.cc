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
using Recorded = WorkerTable::Recorded;

dynamo::WorkerLoad Unit(uint64_t lease, std::optional<uint32_t> rank = std::nullopt,
                        uint64_t kv_active = 0) {
  dynamo::WorkerLoad unit;
  unit.key = Key{lease, rank};
  unit.kv_active_blocks = kv_active;
  unit.kv_total_blocks = 100;
  return unit;
}

dynamo::UnreadableReport Dropped(uint64_t lease, std::optional<uint32_t> rank = std::nullopt,
                                 dynamo::DropReason reason = dynamo::DropReason::kNoData) {
  return {Key{lease, rank}, reason};
}

std::vector<Key> KeysOf(const std::vector<fleet::Unit>& units) {
  std::vector<Key> keys;
  for (const auto& unit : units) keys.push_back(unit.key);
  return keys;
}

class WorkerTableTest : public ::testing::Test {
 protected:
  std::vector<fleet::Unit> UnitsAt(WorkerTable::TimePoint now) const {
    return table_.Units(now, kMaxAge);
  }

  static constexpr std::chrono::seconds kMaxAge{15};
  WorkerTable table_;
  const WorkerTable::TimePoint t0_ = WorkerTable::TimePoint{} + 1000s;
};

TEST_F(WorkerTableTest, StartsEmpty) {
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_THAT(UnitsAt(t0_), IsEmpty());
  EXPECT_THAT(table_.Keys(), IsEmpty());
}

TEST_F(WorkerTableTest, RecordSaysWhetherTheUnitIsNew) {
  EXPECT_EQ(table_.RecordReport(Unit(1), t0_), Recorded::kAdded);
  EXPECT_EQ(table_.RecordReport(Unit(1), t0_ + 1s), Recorded::kUpdated);
  EXPECT_EQ(table_.RecordUnreadable(Dropped(2), t0_ + 1s), Recorded::kAdded);
  EXPECT_EQ(table_.RecordUnreadable(Dropped(2), t0_ + 2s), Recorded::kUpdated);
  EXPECT_EQ(table_.RecordUnreadable(Dropped(1), t0_ + 2s), Recorded::kUpdated);
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, EachRankIsItsOwnUnit) {
  EXPECT_EQ(table_.RecordReport(Unit(1, 0u), t0_), Recorded::kAdded);
  EXPECT_EQ(table_.RecordReport(Unit(1, 1u), t0_), Recorded::kAdded);
  EXPECT_EQ(table_.RecordReport(Unit(1, 1u), t0_), Recorded::kUpdated);
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, RecordKeepsTheLatestReport) {
  table_.RecordReport(Unit(1, std::nullopt, 10), t0_);
  table_.RecordReport(Unit(1, std::nullopt, 70), t0_ + 1s);
  const std::vector<fleet::Unit> units = UnitsAt(t0_ + 1s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kReporting);
  ASSERT_TRUE(units[0].report.has_value());
  EXPECT_EQ(units[0].report->kv_active_blocks, 70u);
}

TEST_F(WorkerTableTest, UnitsAreOrderedByKey) {
  table_.RecordReport(Unit(3), t0_);
  table_.RecordReport(Unit(1, 1u), t0_);
  table_.RecordUnreadable(Dropped(2), t0_);
  table_.RecordReport(Unit(1, 0u), t0_);
  table_.RecordReport(Unit(0), t0_);
  // By lease, then rank, with "no rank" first.
  EXPECT_THAT(KeysOf(UnitsAt(t0_)), ElementsAre(Key{0, std::nullopt}, Key{1, 0u}, Key{1, 1u},
                                                Key{2, std::nullopt}, Key{3, std::nullopt}));
}

// ---- Unit states ------------------------------------------------------------

TEST_F(WorkerTableTest, AnsweringButUnreadableUnitIsPresentAndUnreadable) {
  table_.RecordUnreadable(Dropped(1, std::nullopt, dynamo::DropReason::kOutOfRange), t0_);
  const std::vector<fleet::Unit> units = UnitsAt(t0_);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kUnreadable);
  EXPECT_FALSE(units[0].report.has_value());
  EXPECT_EQ(units[0].drop_reason, dynamo::DropReason::kOutOfRange);
}

TEST_F(WorkerTableTest, UnreadableUnitThatKeepsAnsweringNeverLeaves) {
  for (int i = 0; i <= 10; ++i) {
    table_.RecordUnreadable(Dropped(1), t0_ + i * 10s);
    EXPECT_THAT(table_.EvictSilentSince(t0_ + i * 10s - kMaxAge), IsEmpty()) << i;
  }
  EXPECT_EQ(UnitsAt(t0_ + 100s).size(), 1u);
}

TEST_F(WorkerTableTest, ReadableReportKeepsServingWithinTheBoundThenUnitIsUnreadable) {
  table_.RecordReport(Unit(1, std::nullopt, 40), t0_);
  table_.RecordUnreadable(Dropped(1), t0_ + 5s);
  // A dropped report after a readable one: the readable one serves while fresh.
  std::vector<fleet::Unit> units = UnitsAt(t0_ + 15s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kReporting);
  EXPECT_EQ(units[0].report->kv_active_blocks, 40u);
  // Past the bound with nothing readable since: unreadable, with the drop's reason.
  units = UnitsAt(t0_ + 16s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kUnreadable);
  EXPECT_FALSE(units[0].report.has_value());
  EXPECT_EQ(units[0].drop_reason, dynamo::DropReason::kNoData);
}

TEST_F(WorkerTableTest, UnreadableUnitIsReportingAgainOnAReadableReport) {
  table_.RecordUnreadable(Dropped(1), t0_);
  table_.RecordReport(Unit(1, std::nullopt, 30), t0_ + 1s);
  const std::vector<fleet::Unit> units = UnitsAt(t0_ + 1s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kReporting);
}

TEST_F(WorkerTableTest, RanklessDropIsHeardFromEveryRankOfItsWorker) {
  // A data-parallel worker whose ranks now answer `data: null`: no rank in the
  // reports, yet each rank stays present (unreadable), and no rank-less unit appears.
  table_.RecordReport(Unit(1, 0u), t0_);
  table_.RecordReport(Unit(1, 1u), t0_);
  table_.RecordReport(Unit(2), t0_);
  EXPECT_EQ(table_.RecordUnreadable(Dropped(1), t0_ + 10s), Recorded::kUpdated);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 10s), ElementsAre(Key{2, std::nullopt}));
  const std::vector<fleet::Unit> units = UnitsAt(t0_ + 20s);
  EXPECT_THAT(KeysOf(units), ElementsAre(Key{1, 0u}, Key{1, 1u}));
  for (const fleet::Unit& unit : units) EXPECT_EQ(unit.state, UnitState::kUnreadable);
}

TEST_F(WorkerTableTest, RankedReportRetiresTheWorkersNeverReadableRanklessUnit) {
  table_.RecordUnreadable(Dropped(1), t0_);
  table_.RecordReport(Unit(1, 0u), t0_ + 1s);
  table_.RecordReport(Unit(1, 1u), t0_ + 1s);
  EXPECT_THAT(table_.Keys(), ElementsAre(Key{1, 0u}, Key{1, 1u}));
}

TEST_F(WorkerTableTest, RankedReportKeepsAReadableRanklessUnit) {
  table_.RecordReport(Unit(1), t0_);
  table_.RecordReport(Unit(1, 0u), t0_ + 1s);
  EXPECT_THAT(table_.Keys(), ElementsAre(Key{1, std::nullopt}, Key{1, 0u}));
}

// ---- Eviction and limits ----------------------------------------------------

TEST_F(WorkerTableTest, EvictsOnlyUnitsHeardBeforeTheBound) {
  table_.RecordReport(Unit(1), t0_);
  table_.RecordUnreadable(Dropped(2), t0_ + 5s);
  table_.RecordReport(Unit(3), t0_ + 10s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 5s), ElementsAre(Key{1, std::nullopt}));
  // A unit heard exactly at the bound stays.
  EXPECT_THAT(table_.Keys(), ElementsAre(Key{2, std::nullopt}, Key{3, std::nullopt}));
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, EvictsSeveralAndReturnsTheirKeys) {
  table_.RecordReport(Unit(1, 0u), t0_);
  table_.RecordReport(Unit(1, 1u), t0_ + 1s);
  table_.RecordReport(Unit(2), t0_ + 2s);
  table_.RecordReport(Unit(3), t0_ + 9s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 3s),
              UnorderedElementsAre(Key{1, 0u}, Key{1, 1u}, Key{2, std::nullopt}));
  EXPECT_THAT(table_.Keys(), ElementsAre(Key{3, std::nullopt}));
}

TEST_F(WorkerTableTest, DroppedReportRefreshesTheHeardTime) {
  table_.RecordReport(Unit(1), t0_);
  table_.RecordUnreadable(Dropped(1), t0_ + 10s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 5s), IsEmpty());
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(WorkerTableTest, EvictedUnitIsNewAgainWhenItReturns) {
  table_.RecordReport(Unit(1), t0_);
  table_.EvictSilentSince(t0_ + 1s);
  EXPECT_EQ(table_.RecordReport(Unit(1), t0_ + 2s), Recorded::kAdded);
}

TEST_F(WorkerTableTest, NewUnitsBeyondTheLimitAreRefused) {
  WorkerTable table(2);
  EXPECT_EQ(table.RecordReport(Unit(1), t0_), Recorded::kAdded);
  EXPECT_EQ(table.RecordUnreadable(Dropped(2), t0_), Recorded::kAdded);
  EXPECT_EQ(table.RecordReport(Unit(3), t0_), Recorded::kOverLimit);
  EXPECT_EQ(table.RecordUnreadable(Dropped(4), t0_), Recorded::kOverLimit);
  // Units present are still updated at the limit.
  EXPECT_EQ(table.RecordReport(Unit(2), t0_ + 1s), Recorded::kUpdated);
  EXPECT_EQ(table.size(), 2u);
}

TEST_F(WorkerTableTest, KeysAreEveryUnitPresent) {
  table_.RecordReport(Unit(7, 0u), t0_);
  table_.RecordReport(Unit(7, 1u), t0_ + 5s);
  table_.RecordUnreadable(Dropped(9), t0_);
  table_.RecordReport(Unit(4), t0_ + 5s);
  EXPECT_THAT(table_.Keys(),
              ElementsAre(Key{4, std::nullopt}, Key{7, 0u}, Key{7, 1u}, Key{9, std::nullopt}));
  table_.EvictSilentSince(t0_ + 1s);
  EXPECT_THAT(table_.Keys(), ElementsAre(Key{4, std::nullopt}, Key{7, 1u}));
}

}  // namespace
}  // namespace mk::fleet
