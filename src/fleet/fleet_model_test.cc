#include "fleet/fleet_model.h"

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "fleet/fleet_figures.h"

namespace mk::fleet {
namespace {

using namespace std::chrono_literals;
using TimePoint = FleetModel::TimePoint;

constexpr auto kStaleness = 15s;
const TimePoint kStart = TimePoint{} + 1000s;

dynamo::ActiveLoad WorkerLoadEvent(uint64_t worker, uint64_t kv_used, uint32_t rank = 0) {
  dynamo::ActiveLoad load;
  load.worker_id = worker;
  load.dp_rank = rank;
  load.kv_used_blocks = kv_used;
  load.origin = dynamo::ActiveLoadOrigin::kWorker;
  return load;
}

Registration Card(uint64_t id, std::optional<uint64_t> kv_total = 1000, uint32_t ranks = 1) {
  Registration r;
  r.instance_id = id;
  r.total_kv_blocks = kv_total;
  r.max_num_seqs = 64;
  r.dp_size = ranks;
  return r;
}

class FleetModelTest : public ::testing::Test {
 protected:
  FleetModelTest() {
    model_.SetSubscribedSince(kStart);
    model_.SetEventsActive(true);
  }
  FleetFigures Figures(TimePoint now) {
    const std::vector<Unit> units = model_.Units(now);
    return Aggregate(units);
  }
  FleetModel model_{100, kStaleness};
};

TEST_F(FleetModelTest, ActiveLoadOverTheCardsCapacity) {
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart);
  EXPECT_EQ(model_.ApplyActiveLoad(WorkerLoadEvent(1, 500), kStart + 1s), EventOutcome::kApplied);
  EXPECT_EQ(model_.ApplyActiveLoad(WorkerLoadEvent(2, 100), kStart + 1s), EventOutcome::kApplied);
  const std::vector<Unit> units = model_.Units(kStart + 2s);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].source, FigureSource::kEvents);
  EXPECT_EQ(units[0].report->kv_total_blocks, 1000u);
  const FleetFigures figures = Aggregate(units);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kKvBlocksUsagePercent), 30);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kLoadAvg), 0.3);
}

TEST_F(FleetModelTest, EventRecordsDoNotAgeWhileTheSourceIsConnected) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 900), kStart + 1s);
  // Workers publish on change: an hour of silence is an unchanged load.
  EXPECT_DOUBLE_EQ(*Figures(kStart + 3600s).Value(FleetMetric::kLoadAvg), 0.9);
}

TEST_F(FleetModelTest, RouterRecordsNeverChangeFigures) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  dynamo::ActiveLoad router;
  router.worker_id = 1;
  router.active_prefill_tokens = 5000;
  router.active_decode_blocks = 990;
  router.origin = dynamo::ActiveLoadOrigin::kRouter;
  EXPECT_EQ(model_.ApplyActiveLoad(router, kStart + 2s), EventOutcome::kRouterRecord);
  EXPECT_DOUBLE_EQ(*Figures(kStart + 3s).Value(FleetMetric::kLoadAvg), 0.1);
}

TEST_F(FleetModelTest, UnitsRegisteredBeforeSubscribingSettleThenReadIdle) {
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart + 1s);
  FleetFigures figures = Figures(kStart + 2s);
  EXPECT_EQ(figures.units, 2u);
  EXPECT_EQ(figures.pending_units, 2u);
  EXPECT_EQ(figures.Value(FleetMetric::kLoadAvg).status().code(), absl::StatusCode::kUnavailable);
  // One speaks: F is over it alone, N still counts both.
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 800), kStart + 3s);
  figures = Figures(kStart + 4s);
  EXPECT_EQ(figures.pending_units, 1u);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kLoadAvg), 0.8);
  EXPECT_EQ(figures.UnitsDefining(FleetMetric::kLoadAvg), 1u);
  // After the settle period the silent one is taken as idle, and marked so.
  const std::vector<Unit> units = model_.Units(kStart + kStaleness);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[1].state, UnitState::kReporting);
  EXPECT_EQ(units[1].source, FigureSource::kAssumed);
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kLoadAvg), 0.4);
}

TEST_F(FleetModelTest, UnitRegisteredWhileSubscribedIsIdleAtOnce) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart + 1s);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 600), kStart + 2s);
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart + 3s);
  const FleetFigures figures = Figures(kStart + 4s);
  EXPECT_EQ(figures.pending_units, 0u);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kLoadAvg), 0.3);
}

TEST_F(FleetModelTest, DeregisteredUnitsLeaveAtOnceWithEveryRecord) {
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 600), kStart + 1s);
  model_.ApplyActiveLoad(WorkerLoadEvent(2, 200), kStart + 1s);
  model_.RecordScrape({}, std::vector{dynamo::UnreadableReport{{2, std::nullopt}}}, kStart + 1s);
  model_.SetRegistrations(std::vector{Card(1)}, kStart + 2s);
  const FleetFigures figures = Figures(kStart + 3s);
  EXPECT_EQ(figures.units, 1u);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kLoadAvg), 0.6);
}

TEST_F(FleetModelTest, NamespaceScopedRecordsOfOtherComponentsAreNotMembers) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  EXPECT_EQ(model_.ApplyActiveLoad(WorkerLoadEvent(7, 999), kStart + 1s), EventOutcome::kNotMember);
  // Nor does a record that names the target, once its worker has deregistered.
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  model_.SetRegistrations(std::vector<Registration>{}, kStart + 2s);
  EXPECT_EQ(model_.ApplyActiveLoad(WorkerLoadEvent(1, 999), kStart + 3s), EventOutcome::kNotMember);
  EXPECT_EQ(Figures(kStart + 4s).units, 0u);
}

TEST_F(FleetModelTest, WithoutDiscoveryUnitsAreHeardAndLeaveAfterSilence) {
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 10), kStart + 1s);
  EXPECT_EQ(Figures(kStart + 2s).units, 1u);
  model_.EvictSilent(kStart + 1s + kStaleness + 1s);
  EXPECT_EQ(Figures(kStart + 1s + kStaleness + 1s).units, 0u);
}

TEST_F(FleetModelTest, UsedBlocksWithoutCapacityDefineNoKvFigure) {
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 700), kStart + 1s);
  FleetFigures figures = Figures(kStart + 2s);
  // Never a 0 % standing for "no capacity known".
  EXPECT_EQ(figures.Value(FleetMetric::kKvBlocksUsagePercent).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(figures.Value(FleetMetric::kLoadAvg).status().code(),
            absl::StatusCode::kFailedPrecondition);
  model_.SetFallbackKvTotalBlocks(1000);
  figures = Figures(kStart + 2s);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kKvBlocksUsagePercent), 70);
}

TEST_F(FleetModelTest, ForwardPassMetricsGiveSlotsWaitingAndQueuedPrefillTokens) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  dynamo::ForwardPassMetrics fpm;
  fpm.worker_id = 1;
  fpm.scheduled.num_decode_requests = 30;
  fpm.scheduled.num_prefill_requests = 2;
  fpm.queued.num_prefill_requests = 5;
  fpm.queued.sum_prefill_tokens = 2560;
  EXPECT_EQ(model_.ApplyForwardPass(fpm, kStart + 1s), EventOutcome::kApplied);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  const FleetFigures figures = Figures(kStart + 2s);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kRequestSlotsUsagePercent), 50);  // 32 of 64
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kRequestsWaiting), 5);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kPrefillTokensQueued), 2560);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kLoadAvg), 0.5);  // slots tighter than KV
}

TEST_F(FleetModelTest, QueuedPrefillTokensUndefinedWithoutForwardPassMetrics) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  EXPECT_EQ(Figures(kStart + 2s).Value(FleetMetric::kPrefillTokensQueued).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Figures(kStart + 2s).Value(FleetMetric::kRequestsWaiting).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(FleetModelTest, StatsWithoutDataDoNotMakeEventUnitsUnreadable) {
  model_.SetRegistrations(std::vector{Card(1, 1000, 2)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 500, 0), kStart + 1s);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 300, 1), kStart + 1s);
  // Today's workers answer the scrape with data: null and no rank, once per rank.
  const std::vector<dynamo::UnreadableReport> nulls{{{1, std::nullopt}}, {{1, std::nullopt}}};
  model_.RecordScrape({}, nulls, kStart + 2s);
  const FleetFigures figures = Figures(kStart + 3s);
  EXPECT_EQ(figures.units, 2u);
  EXPECT_EQ(figures.unreadable_units, 0u);
  EXPECT_DOUBLE_EQ(*figures.Value(FleetMetric::kLoadAvg), 0.4);
}

TEST_F(FleetModelTest, NewestReadableRecordWinsAcrossSources) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  dynamo::WorkerLoad stats;
  stats.key = {1, std::nullopt};
  stats.kv_active_blocks = 900;
  stats.kv_total_blocks = 1000;
  model_.RecordScrape(std::vector{stats}, {}, kStart + 2s);
  EXPECT_DOUBLE_EQ(*Figures(kStart + 3s).Value(FleetMetric::kLoadAvg), 0.9);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 200), kStart + 4s);
  EXPECT_DOUBLE_EQ(*Figures(kStart + 5s).Value(FleetMetric::kLoadAvg), 0.2);
}

TEST_F(FleetModelTest, ASourceViewReadsThatSourceAlone) {
  // Worker 1 is today's: registered, publishing events, answering scrapes with
  // data: null. Worker 2 is an older one heard by scrapes alone.
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 600), kStart + 1s);
  dynamo::WorkerLoad old_worker;
  old_worker.key = {2, std::nullopt};
  old_worker.kv_active_blocks = 200;
  old_worker.kv_total_blocks = 1000;
  model_.RecordScrape(std::vector{old_worker},
                      std::vector{dynamo::UnreadableReport{{1, std::nullopt}}}, kStart + 2s);
  const TimePoint now = kStart + 3s;
  EXPECT_DOUBLE_EQ(*Aggregate(model_.Units(now)).Value(FleetMetric::kLoadAvg), 0.4);

  const std::vector<Unit> events = model_.Units(now, SourceView::kEvents);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].source, FigureSource::kEvents);
  EXPECT_DOUBLE_EQ(*Aggregate(events).Value(FleetMetric::kLoadAvg), 0.6);

  // Scrapes alone: today's worker answers without load data, so it is unreadable
  // there, not hidden and not idle.
  const std::vector<Unit> stats = model_.Units(now, SourceView::kStats);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].state, UnitState::kUnreadable);
  EXPECT_EQ(stats[0].drop_reason, dynamo::DropReason::kNoData);
  const FleetFigures stats_figures = Aggregate(stats);
  EXPECT_EQ(stats_figures.units, 2u);
  EXPECT_DOUBLE_EQ(*stats_figures.Value(FleetMetric::kLoadAvg), 0.2);
}

TEST_F(FleetModelTest, AStatsViewIgnoresNewerEventRecords) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  dynamo::WorkerLoad report;
  report.key = {1, std::nullopt};
  report.kv_active_blocks = 700;
  report.kv_total_blocks = 1000;
  model_.RecordScrape(std::vector{report}, {}, kStart + 1s);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 2s);
  EXPECT_DOUBLE_EQ(*Figures(kStart + 3s).Value(FleetMetric::kLoadAvg), 0.1);
  const std::vector<Unit> stats = model_.Units(kStart + 3s, SourceView::kStats);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].source, FigureSource::kStats);
  EXPECT_DOUBLE_EQ(*Aggregate(stats).Value(FleetMetric::kLoadAvg), 0.7);
}

dynamo::WorkerLoad Page(uint64_t worker, uint64_t kv_used, uint64_t kv_total = 1000,
                        std::optional<uint32_t> rank = 0) {
  dynamo::WorkerLoad page;
  page.key = {worker, rank};
  page.kv_active_blocks = kv_used;
  page.kv_total_blocks = kv_total;
  return page;
}

TEST_F(FleetModelTest, AWorkersOwnPageSettlesItAtOnce) {
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart + 1s);
  // Both registered before the sources listened: pending, until one's page is read.
  model_.RecordWorkerPages(std::vector{Page(1, 300)}, {}, kStart + 2s);
  const std::vector<Unit> units = model_.Units(kStart + 3s);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].key, (dynamo::WorkerKey{1, std::nullopt}));  // rank 0: the rank-less unit
  EXPECT_EQ(units[0].source, FigureSource::kMetrics);
  EXPECT_EQ(units[1].state, UnitState::kPending);
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kLoadAvg), 0.3);
}

TEST_F(FleetModelTest, PagesKeepAUnitReadableBehindADownChannel) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  model_.SetChannelDown(1, true);
  model_.RecordWorkerPages(std::vector{Page(1, 800)}, {}, kStart + 20s);
  const std::vector<Unit> units = model_.Units(kStart + 21s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].source, FigureSource::kMetrics);
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kLoadAvg), 0.8);
  // A newer event wins again once its channel is back.
  model_.SetChannelDown(1, false);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 200), kStart + 22s);
  EXPECT_DOUBLE_EQ(*Figures(kStart + 23s).Value(FleetMetric::kLoadAvg), 0.2);
  // The metrics view reads the page alone.
  EXPECT_DOUBLE_EQ(
      *Aggregate(model_.Units(kStart + 23s, SourceView::kMetrics)).Value(FleetMetric::kLoadAvg),
      0.8);
}

TEST_F(FleetModelTest, APageGivesEventsTheCapacityTheCardLacks) {
  model_.SetRegistrations(std::vector{Card(1, std::nullopt)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 500), kStart + 1s);
  // No capacity anywhere yet: KV usage is undefined, not a made-up percentage.
  EXPECT_EQ(Figures(kStart + 2s).Value(FleetMetric::kKvBlocksUsagePercent).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The worker's page says 1000 blocks (and an older usage): the newer event's 500
  // used blocks are read against it.
  model_.RecordWorkerPages(std::vector{Page(1, 100, 1000)}, {}, kStart + 1s);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 500), kStart + 3s);
  const std::vector<Unit> units = model_.Units(kStart + 4s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].source, FigureSource::kEvents);
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kKvBlocksUsagePercent), 50);
}

TEST_F(FleetModelTest, WithPulledSourcesAloneASilentRegisteredUnitIsNeverIdle) {
  FleetModel pulled(100, kStaleness);  // no event source: scrapes and pages only
  pulled.SetSubscribedSince(kStart);
  pulled.SetRegistrations(std::vector{Card(1), Card(2)}, kStart);
  pulled.RecordWorkerPages(std::vector{Page(1, 900)}, {}, kStart + 100s);
  // Worker 2 has answered nothing, long past the settle period: unknown, not idle.
  const std::vector<Unit> units = pulled.Units(kStart + 101s);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[1].state, UnitState::kPending);
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kLoadAvg), 0.9);
}

TEST_F(FleetModelTest, PagesOfWorkersNotRegisteredDoNotCount) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.RecordWorkerPages(std::vector{Page(1, 100), Page(9, 900)}, {}, kStart + 1s);
  EXPECT_EQ(model_.Units(kStart + 2s).size(), 1u);
}

TEST_F(FleetModelTest, DroppedEventsMakeAnUnheardUnitUnreadable) {
  model_.SetRegistrations(std::vector{Card(1)}, kStart);
  model_.RecordEventDrop(1, 0, dynamo::DropReason::kWrongType, kStart + 1s);
  const std::vector<Unit> units = model_.Units(kStart + 2s);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].state, UnitState::kUnreadable);
  EXPECT_EQ(units[0].drop_reason, dynamo::DropReason::kWrongType);
  EXPECT_EQ(Aggregate(units).Value(FleetMetric::kLoadAvg).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(FleetModelTest, AUnitWhoseChannelIsDownIsUnreadableNotItsLastLoad) {
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 100), kStart + 1s);
  model_.ApplyActiveLoad(WorkerLoadEvent(2, 900), kStart + 1s);
  EXPECT_TRUE(model_.SetChannelDown(1, true));
  EXPECT_FALSE(model_.SetChannelDown(1, true));
  std::vector<Unit> units = model_.Units(kStart + 30s);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].state, UnitState::kUnreadable);
  EXPECT_EQ(units[0].drop_reason, dynamo::DropReason::kChannelDown);
  // F over the unit still heard; N counts both.
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kLoadAvg), 0.9);
  // Back: its last record stands again; a new record clears it as well.
  EXPECT_TRUE(model_.SetChannelDown(1, false));
  EXPECT_DOUBLE_EQ(*Figures(kStart + 31s).Value(FleetMetric::kLoadAvg), 0.5);
  model_.SetChannelDown(2, true);
  model_.ApplyActiveLoad(WorkerLoadEvent(2, 300), kStart + 32s);
  EXPECT_DOUBLE_EQ(*Figures(kStart + 33s).Value(FleetMetric::kLoadAvg), 0.2);
}

TEST_F(FleetModelTest, UnheardUnitsBehindADownChannelAreNotTakenAsIdle) {
  model_.SetRegistrations(std::vector{Card(1), Card(2)}, kStart);
  model_.ApplyActiveLoad(WorkerLoadEvent(1, 500), kStart + 1s);
  EXPECT_TRUE(model_.SetSilentChannelsDown(true));
  const std::vector<Unit> units = model_.Units(kStart + kStaleness + 1s);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[1].state, UnitState::kUnreadable);
  EXPECT_EQ(units[1].drop_reason, dynamo::DropReason::kChannelDown);
  EXPECT_DOUBLE_EQ(*Aggregate(units).Value(FleetMetric::kLoadAvg), 0.5);
  EXPECT_TRUE(model_.SetSilentChannelsDown(false));
  EXPECT_DOUBLE_EQ(*Figures(kStart + kStaleness + 1s).Value(FleetMetric::kLoadAvg), 0.25);
}

TEST_F(FleetModelTest, ScrapesExpectEveryRegisteredUnit) {
  model_.SetRegistrations(std::vector{Card(1), Card(2, 1000, 2)}, kStart);
  const auto expected = model_.ExpectedReplies();
  EXPECT_EQ(expected.size(), 3u);
  EXPECT_TRUE(expected.contains(dynamo::WorkerKey{2, 1}));
}

TEST_F(FleetModelTest, EventUnitsAreBounded) {
  FleetModel small(2, kStaleness);
  EXPECT_EQ(small.ApplyActiveLoad(WorkerLoadEvent(1, 1), kStart), EventOutcome::kApplied);
  EXPECT_EQ(small.ApplyActiveLoad(WorkerLoadEvent(2, 1), kStart), EventOutcome::kApplied);
  EXPECT_EQ(small.ApplyActiveLoad(WorkerLoadEvent(3, 1), kStart), EventOutcome::kOverLimit);
  EXPECT_EQ(small.ApplyActiveLoad(WorkerLoadEvent(1, 2), kStart), EventOutcome::kApplied);
}

}  // namespace
}  // namespace mk::fleet
