#include "fleet/fleet_figures.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "dynamo/worker_load.h"

namespace mk::fleet {
namespace {

constexpr double kEps = 1e-9;

dynamo::WorkerLoad Report(uint64_t lease, uint64_t kv_active, uint64_t kv_total,
                          uint64_t slots_active, uint64_t slots_total, uint64_t waiting = 0,
                          std::optional<double> gpu_cache = std::nullopt) {
  dynamo::WorkerLoad unit;
  unit.key.lease_id = lease;
  unit.kv_active_blocks = kv_active;
  unit.kv_total_blocks = kv_total;
  unit.request_active_slots = slots_active;
  unit.request_total_slots = slots_total;
  unit.num_requests_waiting = waiting;
  unit.gpu_cache_usage_perc = gpu_cache;
  return unit;
}

// The units of tests/data/stats/flat_v0.3.json and dp_ranks_zero_totals.json.
dynamo::WorkerLoad FlatV03() { return Report(1, 5120, 8192, 48, 64, 3, 0.625); }
dynamo::WorkerLoad ZeroTotals() { return Report(2, 0, 0, 10, 0, 7, 0.92); }
dynamo::WorkerLoad Rank1() { return Report(3, 100, 400, 2, 8, 0, 0.25); }

// ---- FiguresOf --------------------------------------------------------------

TEST(FiguresOfTest, RatiosOfBlocksAndSlots) {
  const UnitFigures figures = FiguresOf(FlatV03());
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 0.625);  // 5120 / 8192
  ASSERT_TRUE(figures.slot_usage.has_value());
  EXPECT_DOUBLE_EQ(*figures.slot_usage, 0.75);  // 48 / 64
  EXPECT_DOUBLE_EQ(*figures.load, 0.75);
  EXPECT_DOUBLE_EQ(*figures.waiting, 3);
}

TEST(FiguresOfTest, LoadIsTheTighterResource) {
  // Blocks tighter than slots.
  const UnitFigures figures = FiguresOf(Report(1, 90, 100, 1, 4));
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 0.9);
  EXPECT_DOUBLE_EQ(*figures.slot_usage, 0.25);
  EXPECT_DOUBLE_EQ(*figures.load, 0.9);
}

TEST(FiguresOfTest, KvFallsBackToGpuCacheUsageWhenNoBlockTotal) {
  const UnitFigures figures = FiguresOf(Report(1, 0, 0, 1, 10, 0, 0.92));
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 0.92);
  EXPECT_DOUBLE_EQ(*figures.load, 0.92);
}

TEST(FiguresOfTest, GpuCacheUsageIgnoredWhenBlockTotalKnown) {
  const UnitFigures figures = FiguresOf(Report(1, 10, 40, 0, 4, 0, 0.9));
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 0.25);
}

TEST(FiguresOfTest, SlotUsageUndefinedWhenNoSlotTotal) {
  const UnitFigures figures = FiguresOf(ZeroTotals());
  EXPECT_FALSE(figures.slot_usage.has_value());
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 0.92);
  // Ten active requests against no known capacity do not count as load.
  EXPECT_DOUBLE_EQ(*figures.load, 0.92);
  EXPECT_DOUBLE_EQ(*figures.waiting, 7);
}

TEST(FiguresOfTest, ClampsWhenActiveExceedsTotal) {
  const UnitFigures figures = FiguresOf(Report(1, 150, 100, 9, 8));
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 1.0);
  EXPECT_DOUBLE_EQ(*figures.slot_usage, 1.0);
  EXPECT_DOUBLE_EQ(*figures.load, 1.0);
}

TEST(FiguresOfTest, ClampsFallbackFraction) {
  EXPECT_DOUBLE_EQ(*FiguresOf(Report(1, 0, 0, 0, 0, 0, 1.5)).kv_usage, 1.0);
}

TEST(FiguresOfTest, IdleUnitIsZero) {
  const UnitFigures figures = FiguresOf(Report(1, 0, 1024, 0, 1024));
  EXPECT_DOUBLE_EQ(*figures.kv_usage, 0);
  EXPECT_DOUBLE_EQ(*figures.slot_usage, 0);
  EXPECT_DOUBLE_EQ(*figures.load, 0);
  EXPECT_DOUBLE_EQ(*figures.waiting, 0);
}

// ---- Aggregate --------------------------------------------------------------

std::vector<Unit> Reporting(const std::vector<dynamo::WorkerLoad>& reports) {
  std::vector<Unit> units;
  for (const dynamo::WorkerLoad& report : reports) units.push_back(Unit::Reporting(report));
  return units;
}

Unit Unreadable(uint64_t lease, dynamo::DropReason reason) {
  return Unit{dynamo::WorkerKey{lease, std::nullopt}, UnitState::kUnreadable, std::nullopt, reason};
}

TEST(AggregateTest, FleetFormulas) {
  const std::vector<Unit> units = Reporting({FlatV03(), ZeroTotals(), Rank1()});
  const FleetFigures fleet = Aggregate(units);
  EXPECT_EQ(fleet.units, 3u);
  // Mean of the unit loads 0.75, 0.92 and 0.25.
  EXPECT_NEAR(*fleet.Value(FleetMetric::kLoadAvg), (0.75 + 0.92 + 0.25) / 3, kEps);
  // Blocks summed over the units with a block total (not ZeroTotals).
  EXPECT_NEAR(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 100.0 * (5120 + 100) / (8192 + 400),
              kEps);
  // Slots summed over the units with a slot total (not ZeroTotals).
  ASSERT_TRUE(fleet.Value(FleetMetric::kRequestSlotsUsagePercent).ok());
  EXPECT_NEAR(*fleet.Value(FleetMetric::kRequestSlotsUsagePercent), 100.0 * (48 + 2) / (64 + 8),
              kEps);
  EXPECT_NEAR(*fleet.Value(FleetMetric::kRequestsWaiting), (3 + 7 + 0) / 3.0, kEps);
}

TEST(AggregateTest, KvPercentWeighsUnitsByCapacity) {
  // Sum over sum, not the mean of ratios (which would be 50).
  const std::vector<Unit> units = Reporting({Report(1, 90, 100, 0, 1), Report(2, 100, 1000, 0, 1)});
  EXPECT_NEAR(*Aggregate(units).Value(FleetMetric::kKvBlocksUsagePercent), 100.0 * 190 / 1100,
              kEps);
}

TEST(AggregateTest, KvPercentIgnoresUnitsWithoutBlockTotalWhenOthersHaveOne) {
  const std::vector<Unit> units = Reporting({FlatV03(), ZeroTotals()});
  EXPECT_NEAR(*Aggregate(units).Value(FleetMetric::kKvBlocksUsagePercent), 62.5, kEps);
}

TEST(AggregateTest, KvPercentFallsBackToMeanUsageWhenNoUnitHasBlockTotal) {
  const std::vector<Unit> units = Reporting({ZeroTotals(), Report(4, 0, 0, 1, 2, 0, 0.5)});
  EXPECT_NEAR(*Aggregate(units).Value(FleetMetric::kKvBlocksUsagePercent), (92.0 + 50.0) / 2, kEps);
}

TEST(AggregateTest, SlotPercentUndefinedWhenNoUnitHasSlotTotal) {
  const std::vector<Unit> units = Reporting({ZeroTotals(), Report(4, 10, 40, 3, 0)});
  const FleetFigures fleet = Aggregate(units);
  EXPECT_FALSE(fleet.Value(FleetMetric::kRequestSlotsUsagePercent).ok());
  const absl::StatusOr<double> slots = fleet.Value(FleetMetric::kRequestSlotsUsagePercent);
  EXPECT_EQ(slots.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(slots.status().message().empty());
  // The other figures stay defined.
  EXPECT_TRUE(fleet.Value(FleetMetric::kLoadAvg).ok());
  EXPECT_TRUE(fleet.Value(FleetMetric::kKvBlocksUsagePercent).ok());
  EXPECT_TRUE(fleet.Value(FleetMetric::kRequestsWaiting).ok());
  EXPECT_NEAR(*fleet.Value(FleetMetric::kLoadAvg), (0.92 + 0.25) / 2, kEps);
}

TEST(AggregateTest, EmptyFleetIsIdle) {
  const FleetFigures fleet = Aggregate({});
  EXPECT_EQ(fleet.units, 0u);
  EXPECT_EQ(*fleet.Value(FleetMetric::kLoadAvg), 0);
  EXPECT_EQ(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 0);
  ASSERT_TRUE(fleet.Value(FleetMetric::kRequestSlotsUsagePercent).ok());
  EXPECT_EQ(*fleet.Value(FleetMetric::kRequestSlotsUsagePercent), 0);
  EXPECT_EQ(*fleet.Value(FleetMetric::kRequestsWaiting), 0);
  for (FleetMetric metric : kAllFleetMetrics) {
    const absl::StatusOr<double> value = fleet.Value(metric);
    ASSERT_TRUE(value.ok()) << MetricName(metric) << ": " << value.status();
    EXPECT_EQ(*value, 0) << MetricName(metric);
  }
}

TEST(AggregateTest, SingleUnitFiguresAreItsOwn) {
  const std::vector<Unit> units = Reporting({FlatV03()});
  const FleetFigures fleet = Aggregate(units);
  EXPECT_EQ(fleet.units, 1u);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kLoadAvg), 0.75);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 62.5);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kRequestSlotsUsagePercent), 75);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kRequestsWaiting), 3);
}

TEST(AggregateTest, HugeCountsDoNotOverflowSums) {
  // Summed as uint64 these would wrap around 2^64.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  const std::vector<Unit> units =
      Reporting({Report(1, kHalf, kMax, kHalf, kMax), Report(2, kHalf, kMax, kHalf, kMax)});
  const FleetFigures fleet = Aggregate(units);
  EXPECT_NEAR(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 50, 1e-6);
  EXPECT_NEAR(*fleet.Value(FleetMetric::kRequestSlotsUsagePercent), 50, 1e-6);
  EXPECT_NEAR(*fleet.Value(FleetMetric::kLoadAvg), 0.5, 1e-9);
}

TEST(AggregateTest, SaturatedFleetIsExactlyOneHundredPercent) {
  // Found by the fuzzer: 100 * t / t rounds to 100.00000000000001 for this t.
  constexpr uint64_t kTotal = 18446372036854775807u;
  const std::vector<Unit> units = Reporting({Report(1, kTotal, kTotal, kTotal, kTotal)});
  const FleetFigures fleet = Aggregate(units);
  EXPECT_EQ(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 100);
  EXPECT_EQ(*fleet.Value(FleetMetric::kRequestSlotsUsagePercent), 100);
  EXPECT_EQ(*fleet.Value(FleetMetric::kLoadAvg), 1);
}

// Units answer, but their reports are dropped: they count in N, never in F.
TEST(AggregateTest, UnreadableUnitsCountInNButNotInF) {
  std::vector<Unit> units = Reporting({Report(1, 80, 100, 1, 10, 4), Report(2, 40, 100, 1, 10)});
  units.push_back(Unreadable(3, dynamo::DropReason::kNoData));
  const FleetFigures fleet = Aggregate(units);
  EXPECT_EQ(fleet.units, 3u);
  EXPECT_EQ(fleet.reporting_units, 2u);
  EXPECT_EQ(fleet.unreadable_units, 1u);
  EXPECT_EQ(fleet.main_unreadable_reason, dynamo::DropReason::kNoData);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kLoadAvg), 0.6);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 60);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kRequestsWaiting), 2);
  EXPECT_EQ(fleet.UnitsDefining(FleetMetric::kLoadAvg), 2u);
}

TEST(AggregateTest, AllUnreadableIsNeitherIdleNorZero) {
  const std::vector<Unit> units = {Unreadable(1, dynamo::DropReason::kNoData),
                                   Unreadable(2, dynamo::DropReason::kOutOfRange),
                                   Unreadable(3, dynamo::DropReason::kNoData)};
  const FleetFigures fleet = Aggregate(units);
  EXPECT_EQ(fleet.units, 3u);
  EXPECT_EQ(fleet.reporting_units, 0u);
  EXPECT_EQ(fleet.main_unreadable_reason, dynamo::DropReason::kNoData);
  for (FleetMetric metric : kAllFleetMetrics) {
    const absl::StatusOr<double> value = fleet.Value(metric);
    ASSERT_EQ(value.status().code(), absl::StatusCode::kFailedPrecondition) << MetricName(metric);
    EXPECT_NE(value.status().message().find("all 3 present worker units are unreadable"),
              std::string::npos)
        << value.status();
    EXPECT_NE(value.status().message().find("no_data"), std::string::npos) << value.status();
  }
}

TEST(AggregateTest, UnitsDefiningEachFigure) {
  // Unit 2 has no block total, unit 3 no slot total, unit 4 is unreadable.
  std::vector<Unit> units = Reporting(
      {Report(1, 10, 100, 1, 10), Report(2, 0, 0, 1, 10, 0, 0.5), Report(3, 10, 100, 1, 0)});
  units.push_back(Unreadable(4, dynamo::DropReason::kWrongType));
  const FleetFigures fleet = Aggregate(units);
  EXPECT_EQ(fleet.units, 4u);
  EXPECT_EQ(fleet.UnitsDefining(FleetMetric::kLoadAvg), 3u);
  EXPECT_EQ(fleet.UnitsDefining(FleetMetric::kRequestsWaiting), 3u);
  EXPECT_EQ(fleet.UnitsDefining(FleetMetric::kKvBlocksUsagePercent), 2u);
  EXPECT_EQ(fleet.UnitsDefining(FleetMetric::kRequestSlotsUsagePercent), 2u);
}

TEST(AggregateTest, KvFigureOverEveryReportingUnitWhenNoneHasBlockTotal) {
  const FleetFigures fleet =
      Aggregate(Reporting({Report(1, 0, 0, 1, 10, 0, 0.5), Report(2, 0, 0, 1, 10, 0, 0.3)}));
  EXPECT_EQ(fleet.UnitsDefining(FleetMetric::kKvBlocksUsagePercent), 2u);
  EXPECT_DOUBLE_EQ(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 40);
}

TEST(FleetFiguresValueTest, SelectsTheFigureOfEachMetric) {
  FleetFigures fleet;
  fleet.units = 2;
  fleet.reporting_units = 2;
  fleet.figure = {0.1, 20, 30, 4, 500};
  EXPECT_EQ(*fleet.Value(FleetMetric::kPrefillTokensQueued), 500);
  EXPECT_EQ(*fleet.Value(FleetMetric::kLoadAvg), 0.1);
  EXPECT_EQ(*fleet.Value(FleetMetric::kKvBlocksUsagePercent), 20);
  EXPECT_EQ(*fleet.Value(FleetMetric::kRequestSlotsUsagePercent), 30);
  EXPECT_EQ(*fleet.Value(FleetMetric::kRequestsWaiting), 4);
}

// ---- Metric names -----------------------------------------------------------

TEST(MetricNameTest, NamesOfTheDesign) {
  EXPECT_EQ(MetricName(FleetMetric::kLoadAvg), "llm_load_avg");
  EXPECT_EQ(MetricName(FleetMetric::kKvBlocksUsagePercent), "llm_kv_blocks_usage_percent");
  EXPECT_EQ(MetricName(FleetMetric::kRequestSlotsUsagePercent), "llm_request_slots_usage_percent");
  EXPECT_EQ(MetricName(FleetMetric::kRequestsWaiting), "llm_requests_waiting");
  EXPECT_EQ(MetricName(FleetMetric::kPrefillTokensQueued), "llm_prefill_tokens_queued");
}

TEST(MetricNameTest, RoundTrips) {
  for (FleetMetric metric : kAllFleetMetrics) {
    EXPECT_EQ(MetricNamed(MetricName(metric)), metric) << MetricName(metric);
  }
}

TEST(MetricNameTest, UnknownNamesAreNone) {
  EXPECT_EQ(MetricNamed(""), std::nullopt);
  EXPECT_EQ(MetricNamed("llm_load"), std::nullopt);
  EXPECT_EQ(MetricNamed("LLM_LOAD_AVG"), std::nullopt);
  EXPECT_EQ(MetricNamed("llm_load_avg "), std::nullopt);
  EXPECT_EQ(MetricNamed("s0-llm_load_avg"), std::nullopt);
}

}  // namespace
}  // namespace mk::fleet
