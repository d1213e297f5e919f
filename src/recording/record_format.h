// The fleet recording's format: what `--record-file` writes and replay reads back
// (replay/csv_trace.h). CSV (RFC 4180, comma separated, no quoting needed: no cell
// holds a comma, a quote or a line break), one header row, then per recorded
// snapshot of a target one fleet row (unit `*`) followed by one row per present
// unit. Every figure is the scaler's own (fleet/fleet_figures.h): a cell is empty
// where the figure is undefined, never 0 for unknown.
//
//   time        unix seconds with milliseconds (when the snapshot was taken)
//   namespace, component, endpoint   the target
//   unit        the unit: lease id in lowercase hex, `:rank` for a data-parallel rank
//               (694d988806b92e39, 694d988806b92e39:1); `*` for the fleet row
//   state       unit rows: reporting, pending or unreadable (fleet/unit.h); fleet row:
//               reporting (its figures may be read), pending (settling: nothing known
//               yet), unreadable (every unit unreadable, or units refused over the
//               limit) or unavailable (no servable snapshot: the sources were down or
//               silent for longer than --max-staleness)
//   source      where a reporting unit's figures come from: stats, events, metrics,
//               assumed_idle; empty on the fleet row
//   reason      why a unit is unreadable (its drop reason), or the fleet's main one
//   kv_used, kv_total              KV blocks, where the unit has a block capacity
//   kv_usage    KV usage fraction 0..1
//   slots_used, slots_total        request slots, where the unit has a slot total
//   waiting, prefill_tokens_queued requests and prompt tokens queued
//   load        max(kv usage, slot usage), 0..1
//   units       how many units the row stands for: N on the fleet row, 1 on a unit
//               row (more for the rank-less unreadable unit of a data-parallel worker)
//   llm_load_avg, llm_kv_blocks_usage_percent, llm_request_slots_usage_percent,
//   llm_requests_waiting, llm_prefill_tokens_queued   the fleet figures F (fleet row)
//
// The fleet row comes first, so that a file cut short mid-snapshot (a killed
// process) still says how many units there were. Pure; thread-safe.
#ifndef METRICS_KEDA_RECORDING_RECORD_FORMAT_H_
#define METRICS_KEDA_RECORDING_RECORD_FORMAT_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dynamo/worker_load.h"
#include "fleet/fleet_figures.h"
#include "fleet/snapshot.h"
#include "fleet/target.h"

namespace mk::recording {

enum class Column {
  kTime,
  kNamespace,
  kComponent,
  kEndpoint,
  kUnit,
  kState,
  kSource,
  kReason,
  kKvUsed,
  kKvTotal,
  kKvUsage,
  kSlotsUsed,
  kSlotsTotal,
  kWaiting,
  kPrefillTokensQueued,
  kLoad,
  kUnits,
  kLoadAvg,
  kKvBlocksUsagePercent,
  kRequestSlotsUsagePercent,
  kRequestsWaiting,
  kPrefillTokensQueuedAvg,
};
inline constexpr size_t kColumnCount = 22;

// Header names, by Column. The fleet figures' columns are their metric names.
inline constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "time",
    "namespace",
    "component",
    "endpoint",
    "unit",
    "state",
    "source",
    "reason",
    "kv_used",
    "kv_total",
    "kv_usage",
    "slots_used",
    "slots_total",
    "waiting",
    "prefill_tokens_queued",
    "load",
    "units",
    "llm_load_avg",
    "llm_kv_blocks_usage_percent",
    "llm_request_slots_usage_percent",
    "llm_requests_waiting",
    "llm_prefill_tokens_queued",
};
inline constexpr std::string_view ColumnName(Column column) {
  return kColumnNames[static_cast<size_t>(column)];
}

inline constexpr std::string_view kFleetUnit = "*";
inline constexpr std::string_view kUnavailableState = "unavailable";

// The largest file replay reads (replay/trace_file.h): the recorder starts a new
// file before one grows past either, so that every file it leaves can be replayed.
inline constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;  // uncompressed
inline constexpr uint64_t kMaxFileRows = 10'000'000;

// The header row, with its line end.
std::string HeaderRow();

// "<lease hex>" or "<lease hex>:<rank>".
std::string UnitName(const dynamo::WorkerKey& key);

// The fleet row's state (see above) of a servable snapshot's figures.
std::string_view FleetState(const fleet::FleetFigures& figures);

// Appends the rows of `snapshot`, taken at wall-clock time `taken`: the fleet row,
// then one per unit. Returns how many rows.
size_t AppendSnapshotRows(const fleet::Snapshot& snapshot,
                          std::chrono::system_clock::time_point taken, std::string& out);

// Appends the fleet row of a target that has had no servable snapshot since `since`.
size_t AppendUnavailableRow(const fleet::Target& target,
                            std::chrono::system_clock::time_point since, std::string& out);

}  // namespace mk::recording

#endif  // METRICS_KEDA_RECORDING_RECORD_FORMAT_H_
