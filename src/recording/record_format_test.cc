#include "recording/record_format.h"

#include <gtest/gtest.h>

#include "fleet/fleet_figures.h"

namespace mk::recording {
namespace {

const std::chrono::system_clock::time_point kAt{std::chrono::milliseconds(1767225600250)};

fleet::Snapshot MakeSnapshot(std::vector<fleet::Unit> units) {
  fleet::Snapshot snapshot;
  snapshot.target = {"dynamo", "backend", "generate"};
  snapshot.version = 7;
  snapshot.units = std::move(units);
  snapshot.figures = fleet::Aggregate(snapshot.units);
  return snapshot;
}

fleet::Unit Pending(uint64_t lease) {
  return {{lease, std::nullopt},
          fleet::UnitState::kPending,
          std::nullopt,
          std::nullopt,
          1,
          fleet::FigureSource::kNone,
          {}};
}

fleet::Unit Unreadable(uint64_t lease, size_t units = 1) {
  return {{lease, std::nullopt},
          fleet::UnitState::kUnreadable,
          std::nullopt,
          dynamo::DropReason::kNoData,
          units,
          fleet::FigureSource::kNone,
          {}};
}

TEST(RecordFormatTest, HeaderNamesEveryColumnInOrder) {
  EXPECT_EQ(HeaderRow(),
            "time,namespace,component,endpoint,unit,state,source,reason,kv_used,kv_total,"
            "kv_usage,slots_used,slots_total,waiting,prefill_tokens_queued,load,units,"
            "llm_load_avg,llm_kv_blocks_usage_percent,llm_request_slots_usage_percent,"
            "llm_requests_waiting,llm_prefill_tokens_queued\n");
  // The fleet figures' columns are their metric names.
  EXPECT_EQ(ColumnName(Column::kLoadAvg), fleet::MetricName(fleet::FleetMetric::kLoadAvg));
  EXPECT_EQ(ColumnName(Column::kPrefillTokensQueuedAvg),
            fleet::MetricName(fleet::FleetMetric::kPrefillTokensQueued));
}

TEST(RecordFormatTest, UnitsAreNamedByLeaseAndRank) {
  EXPECT_EQ(UnitName({0x694d988806b92e39, std::nullopt}), "694d988806b92e39");
  EXPECT_EQ(UnitName({0x694d988806b92e39, 3}), "694d988806b92e39:3");
}

TEST(RecordFormatTest, FleetRowFirstThenEachUnitWithEmptyCellsWhereUndefined) {
  dynamo::WorkerLoad blocks;
  blocks.key = {0xa1, 0};
  blocks.kv_active_blocks = 512;
  blocks.kv_total_blocks = 1024;
  blocks.request_active_slots = 16;
  blocks.request_total_slots = 64;
  blocks.num_requests_waiting = 3;
  blocks.prefill_tokens_queued = 2048;
  dynamo::WorkerLoad fraction;  // a worker page without a block total or slot total
  fraction.key = {0xb2, std::nullopt};
  fraction.gpu_cache_usage_perc = 0.25;
  fraction.num_requests_waiting.reset();
  fleet::Unit events = fleet::Unit::Reporting(fraction);
  events.source = fleet::FigureSource::kMetrics;
  std::string out;
  const size_t rows = AppendSnapshotRows(
      MakeSnapshot({fleet::Unit::Reporting(blocks), events, Pending(0xc3), Unreadable(0xd4)}), kAt,
      out);
  EXPECT_EQ(rows, 5u);
  // The fleet row names the unreadable unit's reason; counts without their capacity,
  // and figures never reported, are empty, not 0.
  EXPECT_EQ(out,
            "1767225600.250,dynamo,backend,generate,*,reporting,,no_data,,,,,,,,,4,0.375,50,25,3,"
            "2048\n"
            "1767225600.250,dynamo,backend,generate,a1:0,reporting,stats,,512,1024,0.5,16,64,3,"
            "2048,0.5,1,,,,,\n"
            "1767225600.250,dynamo,backend,generate,b2,reporting,metrics,,,,0.25,,,,,0.25,1,,,,,\n"
            "1767225600.250,dynamo,backend,generate,c3,pending,,,,,,,,,,,1,,,,,\n"
            "1767225600.250,dynamo,backend,generate,d4,unreadable,,no_data,,,,,,,,,1,,,,,\n");
}

TEST(RecordFormatTest, FleetStateSaysWhenItsFiguresCannotBeRead) {
  EXPECT_EQ(FleetState(MakeSnapshot({}).figures), "reporting");  // empty and idle
  EXPECT_EQ(FleetState(MakeSnapshot({Pending(1), Pending(2)}).figures), "pending");
  EXPECT_EQ(FleetState(MakeSnapshot({Pending(1), Unreadable(2)}).figures), "pending");
  EXPECT_EQ(FleetState(MakeSnapshot({Unreadable(1), Unreadable(2, 4)}).figures), "unreadable");
  fleet::FleetFigures refused = MakeSnapshot({}).figures;
  refused.units_refused = 3;
  EXPECT_EQ(FleetState(refused), "unreadable");

  // Undefined figures are empty cells: never a 0 for unknown.
  std::string out;
  AppendSnapshotRows(MakeSnapshot({Unreadable(1), Unreadable(2, 4)}), kAt, out);
  EXPECT_TRUE(out.starts_with(
      "1767225600.250,dynamo,backend,generate,*,unreadable,,no_data,,,,,,,,,5,,,,,\n"))
      << out;
}

TEST(RecordFormatTest, UnavailableIsOneFleetRow) {
  std::string out;
  EXPECT_EQ(AppendUnavailableRow({"dynamo", "backend", "generate"}, kAt, out), 1u);
  EXPECT_EQ(out, "1767225600.250,dynamo,backend,generate,*,unavailable,,,,,,,,,,,,,,,,\n");
}

}  // namespace
}  // namespace mk::recording
