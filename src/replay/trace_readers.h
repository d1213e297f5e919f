// Load traces for replay (trace.h), read from the files people have: a `time,load`
// CSV, a per-unit CSV (the scaler's own recording, --record-file, or one written by
// hand), or the workers' gauges as Prometheus' query_range API answers them. Every
// reader gives the fleet's demand over time in worker capacities (1.0: one unit fully
// loaded), with times from 0; a moment the fleet could not be read has no demand
// (replay's scaler answers an error then, never idle), and nothing unknown is ever
// read as 0. Bad input is a clear error naming the file, the line or series and what
// is wrong; nothing in a file can crash the reader or make it hold more than its
// limits. Pure functions of their input; thread-safe.
//
// Each Read* reads files, gzip-compressed or plain (told by their magic bytes); each
// Parse* does the same on texts at hand, which it names "text 1", "text 2", ...
#ifndef METRICS_KEDA_REPLAY_TRACE_READERS_H_
#define METRICS_KEDA_REPLAY_TRACE_READERS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "recording/record_format.h"
#include "replay/load_model.h"
#include "replay/trace.h"

namespace mk::replay {

// Per file: beyond either the file is refused (RESOURCE_EXHAUSTED), and no more of it
// is read or held. The defaults are what the recorder's files stay within.
struct TraceLimits {
  uint64_t max_bytes = recording::kMaxFileBytes;  // its text, decompressed
  uint64_t max_rows = recording::kMaxFileRows;    // CSV rows, or Prometheus samples
};

// ---- time,load ----
// A header row naming `time` and `load`, then one row per moment. `time`: seconds
// (relative or since the Unix epoch) or RFC 3339 timestamps, one form throughout,
// strictly increasing. `load`: the fleet's demand in worker capacities, >= 0. Other
// named columns are other triggers' values (TraceSample::columns), any finite number.
// An empty or NaN cell is no value at that moment (an error then, never 0).
absl::StatusOr<Trace> ReadLoadCsv(const std::string& path, const TraceLimits& limits = {});
absl::StatusOr<Trace> ParseLoadCsv(std::string_view text, const TraceLimits& limits = {});

// ---- per unit ----
// Long format, one row per unit per moment: the recording format
// (recording/record_format.h) or any CSV with its `time` and `unit` columns and some
// of kv_used, kv_total, kv_usage, slots_used, slots_total, waiting,
// prefill_tokens_queued and load (the unit's figures as the scaler defines them);
// namespace/component/endpoint, state and units are read where present, other
// columns ignored. A moment's rows are together, moments in increasing time.
//
// Each moment's demand is replay::DemandOf over its units with a known load,
// extrapolated to all of them (N / known, as the scaler's N x F extrapolates its
// figures): units unreadable or pending, or whose figures define no load, are
// taken to be as loaded as the others. None when no unit is known, and when the
// fleet row says the fleet could not be read (state pending, unreadable or
// unavailable). A rotated set (path, path.1, ...) is read whole, in any order: the
// files' moments must not overlap.
struct UnitCsvOptions {
  // "namespace/component/endpoint": the target to read where the files hold several
  // (an error lists them when this is empty); empty with one target: that one.
  std::string target{};
  // Converts waiting requests of units without a slot total into demand.
  LoadModel model{};
  TraceLimits limits{};
};
absl::StatusOr<Trace> ReadUnitCsv(std::span<const std::string> paths,
                                  const UnitCsvOptions& options = {});
absl::StatusOr<Trace> ParseUnitCsv(std::span<const std::string_view> texts,
                                   const UnitCsvOptions& options = {});

// ---- Prometheus query_range ----
// One or several answers of /api/v1/query_range (one per query, e.g. one for
// dynamo_component_gpu_cache_usage_percent, one for vllm:num_requests_waiting),
// each {"status":"success","data":{"resultType":"matrix","result":[...]}}. Every
// series must be one of the worker gauges worker_gauges.h reads (its __name__
// says which: query the gauges themselves, not expressions over them). Series are
// one worker's by their `pod` label (with `namespace`), else `instance`, and one
// rank's by the gauge's rank label; each timestamp's samples of a worker are read
// as its /metrics page would be (dynamo::WorkerGaugesFromSamples: the same gauge
// precedence, value checks and rank rules), and its units converted as for a
// per-unit CSV. The queries must share their steps: samples are matched by
// timestamp. A NaN or otherwise bad value makes its unit unknown at that moment.
struct PrometheusRangeOptions {
  // The workers' request slots (max_num_seqs): given, the engines' running requests
  // are slot usage and waiting requests convert at that many per capacity; else slot
  // usage is undefined and waiting requests convert at LoadModel's default.
  std::optional<double> slots_per_unit{};
  // The model the workers serve: only its series are read (worker_gauges.h).
  std::optional<std::string> model{};
  TraceLimits limits{};
};
absl::StatusOr<Trace> ReadPrometheusRange(std::span<const std::string> paths,
                                          const PrometheusRangeOptions& options = {});
absl::StatusOr<Trace> ParsePrometheusRange(std::span<const std::string_view> texts,
                                           const PrometheusRangeOptions& options = {});

// ---- any of them ----
// Told apart by content: JSON is a query_range answer; a CSV whose header names
// `unit` is per unit; any other CSV is time,load (one file only).
struct TraceOptions {
  std::string target{};                    // per unit: UnitCsvOptions::target
  std::optional<double> slots_per_unit{};  // per unit: LoadModel; Prometheus: as above
  std::optional<std::string> model{};      // Prometheus
  TraceLimits limits{};
};
absl::StatusOr<Trace> ReadTrace(std::span<const std::string> paths,
                                const TraceOptions& options = {});

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_TRACE_READERS_H_
