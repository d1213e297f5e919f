// What a trigger is answered, from a fleet's figures: the figure F of its metric,
// the value GetMetrics returns (N*F for AverageValue, F for Value) and whether the
// trigger is active (F > activationThreshold). Pure; thread-safe.
#ifndef METRICS_KEDA_KEDA_METRIC_ANSWER_H_
#define METRICS_KEDA_KEDA_METRIC_ANSWER_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "fleet/fleet_figures.h"
#include "fleet/snapshot.h"
#include "keda/trigger_config.h"

namespace mk::keda {

struct MetricAnswer {
  double figure = 0;  // F
  double value = 0;   // what GetMetrics returns
  bool active = false;
  size_t units = 0;             // N: present units, readable or not
  size_t figure_units = 0;      // the units F is computed over
  size_t reporting_units = 0;   // units with a readable report
  size_t unreadable_units = 0;  // present units left out of F: their reports are dropped
  std::optional<dynamo::DropReason> main_unreadable_reason;
};

// FAILED_PRECONDITION, naming the trigger's target, when the fleet cannot define
// the trigger's figure.
absl::StatusOr<MetricAnswer> AnswerFor(const TriggerConfig& config,
                                       const fleet::FleetFigures& figures);
// The same from the figures of the trigger's source view in `snapshot`; UNAVAILABLE,
// naming the target and the source, when the snapshot has none for it (that source
// is not servable now).
absl::StatusOr<MetricAnswer> AnswerFor(const TriggerConfig& config,
                                       const fleet::Snapshot& snapshot);

// ceil(x) as int64, saturating: KEDA's deprecated int fields must agree with the
// float ones without overflow.
int64_t CeilToInt64(double x);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_METRIC_ANSWER_H_
