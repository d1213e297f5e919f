// A sweep over a few settings of one ScaledObject: every combination is replayed
// and the cheapest (fewest replica-hours) whose time above target and waiting
// requests stay within the user's limits is the answer. Pure; thread-safe.
#ifndef METRICS_KEDA_REPLAY_SWEEP_H_
#define METRICS_KEDA_REPLAY_SWEEP_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "autoscaling/scaled_object.h"
#include "replay/simulation.h"
#include "replay/trace.h"

namespace mk::replay {

// One setting and the values to try. Settings: threshold and activationThreshold
// (of the first trigger), pollingInterval, cooldownPeriod, minReplicaCount,
// maxReplicaCount, scaleUpStabilizationWindowSeconds,
// scaleDownStabilizationWindowSeconds.
struct SweepAxis {
  std::string setting;
  std::vector<double> values;
};

// "setting=v1,v2,..." or "setting=from:to:step" (to included), at most
// kMaxAxisValues values; INVALID_ARGUMENT naming what is wrong.
inline constexpr size_t kMaxAxisValues = 1000;
absl::StatusOr<SweepAxis> ParseSweepAxis(std::string_view text);

// `object` with `setting` set to `value`; INVALID_ARGUMENT for an unknown setting or
// a value the ScaledObject would not accept.
absl::StatusOr<autoscaling::ScaledObjectSpec> WithSetting(
    const autoscaling::ScaledObjectSpec& object, const std::string& setting, double value);

struct SweepLimits {
  std::optional<double> max_above_target_percent = std::nullopt;  // of the trace's duration
  std::optional<double> max_p95_waiting = std::nullopt;           // requests
  std::optional<double> max_worst_waiting = std::nullopt;         // requests
};

struct SweepRow {
  std::string label;  // "threshold=0.6 cooldownPeriod=120"
  Summary summary;
  bool within_limits = false;
};

// Every combination, cheapest first. At most kMaxSweepRuns combinations.
inline constexpr size_t kMaxSweepRuns = 10000;
absl::StatusOr<std::vector<SweepRow>> Sweep(const Trace& trace,
                                            const autoscaling::ScaledObjectSpec& base,
                                            std::span<const SweepAxis> axes,
                                            const ReplayOptions& options,
                                            const SweepLimits& limits);

// The table of rows, the answer first named (or a line saying none meets the limits).
std::string SweepReport(std::span<const SweepRow> rows, size_t max_rows);

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_SWEEP_H_
