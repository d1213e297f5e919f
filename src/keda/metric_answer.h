// What a trigger is answered, from a fleet's figures: the figure F of its metric,
// the value GetMetrics returns (N*F for AverageValue, F for Value) and whether the
// trigger is active (F > activationThreshold). Pure; thread-safe.
#ifndef METRICS_KEDA_KEDA_METRIC_ANSWER_H_
#define METRICS_KEDA_KEDA_METRIC_ANSWER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "fleet/fleet_figures.h"
#include "keda/trigger_config.h"

namespace mk::keda {

struct MetricAnswer {
  double figure = 0;  // F
  double value = 0;   // what GetMetrics returns
  bool active = false;
};

// FAILED_PRECONDITION when the fleet cannot define the trigger's figure.
absl::StatusOr<MetricAnswer> AnswerFor(const TriggerConfig& config,
                                       const fleet::FleetFigures& figures);

// ceil(x) as int64, saturating: KEDA's deprecated int fields must agree with the
// float ones without overflow.
int64_t CeilToInt64(double x);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_METRIC_ANSWER_H_
