// The trace readers of trace_readers.h, one text at a time: what the public
// functions feed files or texts into, so that a set of files is read one file at a
// time (each one's text is let go before the next is read) and a file read to tell
// its format is not read twice. Not a public interface. Not thread-safe (one per
// reading).
#ifndef METRICS_KEDA_REPLAY_TRACE_PARSERS_H_
#define METRICS_KEDA_REPLAY_TRACE_PARSERS_H_

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "dynamo/worker_load.h"
#include "recording/gzip.h"
#include "replay/load_model.h"
#include "replay/trace.h"
#include "replay/trace_readers.h"

namespace mk::replay {

// A time,load CSV (one text: such a trace is one file).
absl::StatusOr<Trace> LoadCsvTrace(const std::string& name, const recording::FileText& file,
                                   const TraceLimits& limits);

// The demand of a moment whose `units` units include `known`, the ones with a known
// load: DemandOf(known) extrapolated to all of them; with none known, 0 for an empty
// fleet and none otherwise.
std::optional<double> FleetDemand(std::span<const dynamo::WorkerLoad> known, double units,
                                  const LoadModel& model);

// Per-unit CSV texts, then the trace of the chosen target.
class UnitTraceBuilder {
 public:
  explicit UnitTraceBuilder(UnitCsvOptions options);
  ~UnitTraceBuilder();
  UnitTraceBuilder(UnitTraceBuilder&&) noexcept;
  UnitTraceBuilder& operator=(UnitTraceBuilder&&) noexcept;
  absl::Status Add(const std::string& name, const recording::FileText& file);
  absl::StatusOr<Trace> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// query_range answers, then the trace of their series.
class PrometheusTraceBuilder {
 public:
  explicit PrometheusTraceBuilder(PrometheusRangeOptions options);
  ~PrometheusTraceBuilder();
  PrometheusTraceBuilder(PrometheusTraceBuilder&&) noexcept;
  PrometheusTraceBuilder& operator=(PrometheusTraceBuilder&&) noexcept;
  absl::Status Add(const std::string& name, const recording::FileText& file);
  absl::StatusOr<Trace> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_TRACE_PARSERS_H_
