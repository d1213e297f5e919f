#include "recording/record_format.h"

#include <charconv>
#include <cstdio>
#include <optional>

#include "dynamo/drop_reason.h"

namespace mk::recording {
namespace {

// One row's cells, empty until set, joined in column order.
class Row {
 public:
  void Set(Column column, std::string_view text) { cells_[Index(column)] = text; }
  void Set(Column column, uint64_t count) { cells_[Index(column)] = std::to_string(count); }
  // The shortest text that reads back as the same double.
  void Set(Column column, double value) {
    char text[32];
    const auto [end, error] = std::to_chars(text, text + sizeof text, value);
    cells_[Index(column)].assign(text, error == std::errc() ? end : text);
  }
  void Set(Column column, const std::optional<double>& value) {
    if (value) Set(column, *value);
  }

  void AppendTo(std::string& out) const {
    for (size_t i = 0; i < kColumnCount; ++i) {
      if (i > 0) out += ',';
      out += cells_[i];
    }
    out += '\n';
  }

 private:
  static size_t Index(Column column) { return static_cast<size_t>(column); }
  std::array<std::string, kColumnCount> cells_;
};

std::string WallTime(std::chrono::system_clock::time_point at) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return text;
}

Row TargetRow(const fleet::Target& target, const std::string& time) {
  Row row;
  row.Set(Column::kTime, time);
  row.Set(Column::kNamespace, target.dynamo_namespace);
  row.Set(Column::kComponent, target.component);
  row.Set(Column::kEndpoint, target.endpoint);
  return row;
}

constexpr std::array<std::pair<Column, fleet::FleetMetric>, fleet::kFleetMetricCount>
    kFigureColumns = {{
        {Column::kLoadAvg, fleet::FleetMetric::kLoadAvg},
        {Column::kKvBlocksUsagePercent, fleet::FleetMetric::kKvBlocksUsagePercent},
        {Column::kRequestSlotsUsagePercent, fleet::FleetMetric::kRequestSlotsUsagePercent},
        {Column::kRequestsWaiting, fleet::FleetMetric::kRequestsWaiting},
        {Column::kPrefillTokensQueuedAvg, fleet::FleetMetric::kPrefillTokensQueued},
    }};

void SetUnitFigures(Row& row, const dynamo::WorkerLoad& report) {
  // Counts go with their capacity: without one, a 0 may stand for "not reported".
  if (report.kv_total_blocks > 0) {
    row.Set(Column::kKvUsed, report.kv_active_blocks);
    row.Set(Column::kKvTotal, report.kv_total_blocks);
  }
  if (report.request_total_slots > 0) {
    row.Set(Column::kSlotsUsed, report.request_active_slots);
    row.Set(Column::kSlotsTotal, report.request_total_slots);
  }
  if (report.num_requests_waiting) row.Set(Column::kWaiting, *report.num_requests_waiting);
  if (report.prefill_tokens_queued) {
    row.Set(Column::kPrefillTokensQueued, *report.prefill_tokens_queued);
  }
  const fleet::UnitFigures figures = fleet::FiguresOf(report);
  row.Set(Column::kKvUsage, figures.kv_usage);
  row.Set(Column::kLoad, figures.load);
}

}  // namespace

std::string HeaderRow() {
  std::string header;
  for (size_t i = 0; i < kColumnCount; ++i) {
    if (i > 0) header += ',';
    header += kColumnNames[i];
  }
  header += '\n';
  return header;
}

std::string UnitName(const dynamo::WorkerKey& key) {
  std::string name = dynamo::LeaseHex(key.lease_id);
  if (key.dp_rank) name += ":" + std::to_string(*key.dp_rank);
  return name;
}

std::string_view FleetState(const fleet::FleetFigures& figures) {
  // The same conditions as FleetFigures::Value, which answers none of the figures
  // in these cases.
  if (figures.units_refused > 0) return fleet::UnitStateName(fleet::UnitState::kUnreadable);
  if (figures.units > 0 && figures.reporting_units == 0) {
    return fleet::UnitStateName(figures.pending_units > 0 ? fleet::UnitState::kPending
                                                          : fleet::UnitState::kUnreadable);
  }
  return fleet::UnitStateName(fleet::UnitState::kReporting);
}

size_t AppendSnapshotRows(const fleet::Snapshot& snapshot,
                          std::chrono::system_clock::time_point taken, std::string& out) {
  const std::string time = WallTime(taken);
  const fleet::FleetFigures& figures = snapshot.figures;
  Row fleet_row = TargetRow(snapshot.target, time);
  fleet_row.Set(Column::kUnit, kFleetUnit);
  fleet_row.Set(Column::kState, FleetState(figures));
  if (figures.units_refused > 0) {
    fleet_row.Set(Column::kReason, dynamo::DropReasonName(dynamo::DropReason::kOverWorkerLimit));
  } else if (figures.main_unreadable_reason) {
    fleet_row.Set(Column::kReason, dynamo::DropReasonName(*figures.main_unreadable_reason));
  }
  fleet_row.Set(Column::kUnits, static_cast<uint64_t>(figures.units));
  for (const auto& [column, metric] : kFigureColumns) {
    if (absl::StatusOr<double> value = figures.Value(metric); value.ok()) {
      fleet_row.Set(column, *value);
    }
  }
  fleet_row.AppendTo(out);

  for (const fleet::Unit& unit : snapshot.units) {
    Row row = TargetRow(snapshot.target, time);
    row.Set(Column::kUnit, UnitName(unit.key));
    row.Set(Column::kState, fleet::UnitStateName(unit.state));
    if (unit.report) {
      row.Set(Column::kSource, fleet::FigureSourceName(unit.source));
      SetUnitFigures(row, *unit.report);
    }
    if (unit.drop_reason) row.Set(Column::kReason, dynamo::DropReasonName(*unit.drop_reason));
    row.Set(Column::kUnits, static_cast<uint64_t>(unit.units));
    row.AppendTo(out);
  }
  return snapshot.units.size() + 1;
}

size_t AppendUnavailableRow(const fleet::Target& target,
                            std::chrono::system_clock::time_point since, std::string& out) {
  Row row = TargetRow(target, WallTime(since));
  row.Set(Column::kUnit, kFleetUnit);
  row.Set(Column::kState, kUnavailableState);
  row.AppendTo(out);
  return 1;
}

}  // namespace mk::recording
