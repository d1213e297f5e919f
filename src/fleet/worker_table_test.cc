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
  // Records one batch; returns how many new units were refused.
  size_t Record(std::vector<dynamo::WorkerLoad> reports,
                std::vector<dynamo::UnreadableReport> unreadable, WorkerTable::TimePoint at) {
    return table_.Record(reports, unreadable, at);
  }
  size_t Report(dynamo::WorkerLoad report, WorkerTable::TimePoint at) {
    return Record({report}, {}, at);
  }
  size_t Drop(dynamo::UnreadableReport report, WorkerTable::TimePoint at) {
    return Record({}, {report}, at);
  }
  std::vector<fleet::Unit> UnitsAt(WorkerTable::TimePoint now) const {
    return table_.Units(now, kMaxAge);
  }
  std::vector<Key> Keys() const {
    std::vector<Key> keys;
    for (const auto& [key, replies] : table_.ExpectedReplies()) keys.push_back(key);
    return keys;
  }

  static constexpr std::chrono::seconds kMaxAge{15};
  WorkerTable table_;
  const WorkerTable::TimePoint t0_ = WorkerTable::TimePoint{} + 1000s;
};

TEST_F(WorkerTableTest, StartsEmpty) {
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_THAT(UnitsAt(t0_), IsEmpty());
  EXPECT_THAT(table_.ExpectedReplies(), IsEmpty());
}

TEST_F(WorkerTableTest, ReadableAndUnreadableReportsBothMakeUnitsPresent) {
  Report(Unit(1), t0_);
  Report(Unit(1), t0_ + 1s);
  Drop(Dropped(2), t0_ + 1s);
  Drop(Dropped(1), t0_ + 2s);
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, EachRankIsItsOwnUnit) {
  Record({Unit(1, 0u), Unit(1, 1u)}, {}, t0_);
  Report(Unit(1, 1u), t0_ + 1s);
  EXPECT_THAT(Keys(), ElementsAre(Key{1, 0u}, Key{1, 1u}));
}

TEST_F(WorkerTableTest, RecordKeepsTheLatestReport) {
  Report(Unit(1, std::nullopt, 10), t0_);
  Report(Unit(1, std::nullopt, 70), t0_ + 1s);
  const std::vector<fleet::Unit> units = UnitsAt(t0_ + 1s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kReporting);
  ASSERT_TRUE(units[0].report.has_value());
  EXPECT_EQ(units[0].report->kv_active_blocks, 70u);
}

TEST_F(WorkerTableTest, UnitsAreOrderedByKey) {
  Record({Unit(3), Unit(1, 1u), Unit(1, 0u), Unit(0)}, {Dropped(2)}, t0_);
  // By lease, then rank, with "no rank" first.
  EXPECT_THAT(KeysOf(UnitsAt(t0_)), ElementsAre(Key{0, std::nullopt}, Key{1, 0u}, Key{1, 1u},
                                                Key{2, std::nullopt}, Key{3, std::nullopt}));
}

// ---- Unit states ------------------------------------------------------------

TEST_F(WorkerTableTest, AnsweringButUnreadableUnitIsPresentAndUnreadable) {
  Drop(Dropped(1, std::nullopt, dynamo::DropReason::kOutOfRange), t0_);
  const std::vector<fleet::Unit> units = UnitsAt(t0_);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kUnreadable);
  EXPECT_FALSE(units[0].report.has_value());
  EXPECT_EQ(units[0].drop_reason, dynamo::DropReason::kOutOfRange);
  EXPECT_EQ(units[0].units, 1u);
}

TEST_F(WorkerTableTest, UnreadableUnitThatKeepsAnsweringNeverLeaves) {
  for (int i = 0; i <= 10; ++i) {
    Drop(Dropped(1), t0_ + i * 10s);
    EXPECT_THAT(table_.EvictSilentSince(t0_ + i * 10s - kMaxAge), IsEmpty()) << i;
  }
  EXPECT_EQ(UnitsAt(t0_ + 100s).size(), 1u);
}

TEST_F(WorkerTableTest, ReadableReportKeepsServingWithinTheBoundThenUnitIsUnreadable) {
  Report(Unit(1, std::nullopt, 40), t0_);
  Drop(Dropped(1), t0_ + 5s);
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
  Drop(Dropped(1), t0_);
  Report(Unit(1, std::nullopt, 30), t0_ + 1s);
  const std::vector<fleet::Unit> units = UnitsAt(t0_ + 1s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kReporting);
}

// A data-parallel worker whose ranks answer `data: null`: no rank in the reports,
// yet one unit per reply, whatever the table heard before.
TEST_F(WorkerTableTest, RanklessDropsOfABatchAreOneUnitEach) {
  Record({}, {Dropped(1), Dropped(1), Dropped(1), Dropped(1)}, t0_);
  const std::vector<fleet::Unit> units = UnitsAt(t0_);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].key, (Key{1, std::nullopt}));
  EXPECT_EQ(units[0].state, UnitState::kUnreadable);
  EXPECT_EQ(units[0].units, 4u);
  EXPECT_EQ(table_.ExpectedReplies().at(Key{1, std::nullopt}), 4u);
  // The next batch says how many there are now.
  Record({}, {Dropped(1), Dropped(1)}, t0_ + 1s);
  EXPECT_EQ(UnitsAt(t0_ + 1s)[0].units, 2u);
}

TEST_F(WorkerTableTest, PartlyRanklessWorkerCountsTheSameWhateverCameBefore) {
  // Ranks 0 and 1 readable, two more ranks answering `data: null`.
  const std::vector<dynamo::WorkerLoad> readable = {Unit(1, 0u), Unit(1, 1u)};
  const std::vector<dynamo::UnreadableReport> rankless = {Dropped(1), Dropped(1)};
  auto present = [&] {
    size_t units = 0;
    for (const fleet::Unit& unit : UnitsAt(t0_ + 30s)) units += unit.units;
    return units;
  };
  // Heard this way from the start.
  Record(readable, rankless, t0_);
  Record(readable, rankless, t0_ + 30s);
  EXPECT_EQ(present(), 4u);
  // Ranks 2 and 3 readable before: once past the bound, the same count.
  WorkerTable before;
  before.Record(std::vector{Unit(1, 0u), Unit(1, 1u), Unit(1, 2u), Unit(1, 3u)}, {}, t0_);
  before.Record(readable, rankless, t0_ + 10s);
  before.Record(readable, rankless, t0_ + 30s);
  before.EvictSilentSince(t0_ + 30s - kMaxAge);
  size_t units = 0;
  for (const fleet::Unit& unit : before.Units(t0_ + 30s, kMaxAge)) units += unit.units;
  EXPECT_EQ(units, 4u);
}

TEST_F(WorkerTableTest, NeverReadableRanklessUnitGoesWhenRankedReportsCome) {
  Drop(Dropped(1), t0_);
  Record({Unit(1, 0u), Unit(1, 1u)}, {}, t0_ + 1s);
  EXPECT_THAT(Keys(), ElementsAre(Key{1, 0u}, Key{1, 1u}));
}

TEST_F(WorkerTableTest, RanklessUnitStaysWhileItsBatchAlsoHasRankedReports) {
  Record({Unit(1, 0u)}, {Dropped(1)}, t0_);
  EXPECT_THAT(Keys(), ElementsAre(Key{1, std::nullopt}, Key{1, 0u}));
}

TEST_F(WorkerTableTest, RankedReportKeepsAReadableRanklessUnit) {
  Report(Unit(1), t0_);
  Report(Unit(1, 0u), t0_ + 1s);
  EXPECT_THAT(Keys(), ElementsAre(Key{1, std::nullopt}, Key{1, 0u}));
}

// ---- Eviction and limits ----------------------------------------------------

TEST_F(WorkerTableTest, EvictsOnlyUnitsHeardBeforeTheBound) {
  Report(Unit(1), t0_);
  Drop(Dropped(2), t0_ + 5s);
  Report(Unit(3), t0_ + 10s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 5s), ElementsAre(Key{1, std::nullopt}));
  // A unit heard exactly at the bound stays.
  EXPECT_THAT(Keys(), ElementsAre(Key{2, std::nullopt}, Key{3, std::nullopt}));
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(WorkerTableTest, EvictsSeveralAndReturnsTheirKeys) {
  Report(Unit(1, 0u), t0_);
  Report(Unit(1, 1u), t0_ + 1s);
  Report(Unit(2), t0_ + 2s);
  Report(Unit(3), t0_ + 9s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 3s),
              UnorderedElementsAre(Key{1, 0u}, Key{1, 1u}, Key{2, std::nullopt}));
  EXPECT_THAT(Keys(), ElementsAre(Key{3, std::nullopt}));
}

TEST_F(WorkerTableTest, DroppedReportRefreshesTheHeardTime) {
  Report(Unit(1), t0_);
  Drop(Dropped(1), t0_ + 10s);
  EXPECT_THAT(table_.EvictSilentSince(t0_ + 5s), IsEmpty());
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(WorkerTableTest, EvictedUnitComesBackWhenItReturns) {
  Report(Unit(1), t0_);
  table_.EvictSilentSince(t0_ + 1s);
  EXPECT_EQ(table_.size(), 0u);
  Report(Unit(1), t0_ + 2s);
  EXPECT_EQ(table_.size(), 1u);
}

TEST_F(WorkerTableTest, NewUnitsBeyondTheLimitAreRefused) {
  WorkerTable table(2);
  EXPECT_EQ(table.Record(std::vector{Unit(1), Unit(3)}, std::vector{Dropped(2), Dropped(4)}, t0_),
            2u);
  EXPECT_EQ(table.size(), 2u);
  // Units present are still updated at the limit.
  EXPECT_EQ(table.Record(std::vector{Unit(1, std::nullopt, 9)}, {}, t0_ + 1s), 0u);
  EXPECT_EQ(table.Units(t0_ + 1s, kMaxAge)[0].report->kv_active_blocks, 9u);
}

TEST_F(WorkerTableTest, ExpectedRepliesAreEveryUnitPresent) {
  Record({Unit(7, 0u), Unit(4)}, {Dropped(9)}, t0_);
  Report(Unit(7, 1u), t0_ + 5s);
  Report(Unit(4), t0_ + 5s);
  EXPECT_THAT(Keys(),
              ElementsAre(Key{4, std::nullopt}, Key{7, 0u}, Key{7, 1u}, Key{9, std::nullopt}));
  table_.EvictSilentSince(t0_ + 1s);
  EXPECT_THAT(Keys(), ElementsAre(Key{4, std::nullopt}, Key{7, 1u}));
}

}  // namespace
}  // namespace mk::fleet
