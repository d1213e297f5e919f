// A load trace as replay reads it, whatever file it came from (a time,load CSV, a
// per-unit CSV, the scaler's own recording, a Prometheus query_range answer): the
// fleet's demand over time, and the values of triggers that are not this scaler's.
// Plain data.
#ifndef METRICS_KEDA_REPLAY_TRACE_H_
#define METRICS_KEDA_REPLAY_TRACE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mk::replay {

// One moment of a trace, in effect from `time` until the next sample's.
struct TraceSample {
  double time = 0;  // seconds since the trace's first sample
  // The fleet's demand in worker capacities: 1.0 is one unit fully loaded (its KV
  // cache or its request slots full). None where the fleet could not be read then:
  // replay's scaler answers an error (never idle) for those moments.
  std::optional<double> demand;
  // Other triggers' metric values by column name (a Prometheus query's result, ...);
  // none where the column is empty: that trigger fails then.
  std::map<std::string, std::optional<double>, std::less<>> columns;
};

struct Trace {
  std::vector<TraceSample> samples;  // times strictly ascending, the first 0
  // Per-unit traces carry each unit's request slots: waiting requests then convert
  // to demand at that many requests per worker capacity.
  std::optional<double> slots_per_unit = std::nullopt;
  // What the reader let pass but a user should know (a file cut short, read up to
  // its last whole row).
  std::vector<std::string> warnings{};
};

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_TRACE_H_
