// The replica count Kubernetes' HPA and KEDA would choose for a trigger's
// answers, as KEDA's external-scaler docs describe the arithmetic. Used to
// explain decisions (query tool, status page), never to make them. Pure.
#ifndef METRICS_KEDA_KEDA_HPA_H_
#define METRICS_KEDA_KEDA_HPA_H_

#include <cstdint>
#include <optional>

#include "keda/trigger_config.h"

namespace mk::keda {

struct HpaInputs {
  double total = 0;   // the sum of GetMetrics values
  double target = 1;  // the metric spec's target (> 0)
  MetricType metric_type = MetricType::kAverageValue;
  int64_t current_replicas = 1;
  int64_t min_replicas = 0;  // KEDA's minReplicaCount
  int64_t max_replicas = 100;
  // The band around ratio 1 in which the count is kept: [1 - tolerance, 1 + tolerance],
  // the controller's default 0.1. Kubernetes 1.33+ lets an HPA's behavior set the
  // scale-up side apart (scaleUp.tolerance).
  double tolerance = 0.1;
  std::optional<double> scale_up_tolerance = std::nullopt;
  // For Value: the pods Running and Ready, which the HPA multiplies the ratio by;
  // current_replicas where none is given.
  std::optional<int64_t> ready_pods = std::nullopt;
};

// The HPA's desired count for current_replicas > 0, before clamping (kubernetes
// replica_calculator.go, external metrics): within the tolerance the current count
// is kept, else ceil(total / target) (AverageValue) or ceil(total / target x ready
// pods) (Value).
int64_t HpaDesiredReplicas(const HpaInputs& inputs);

// KEDA's end result: inactive with minReplicaCount 0 gives 0 (scale to zero);
// active at 0 replicas wakes to at least 1; otherwise the HPA's count, clamped to
// [max(min, 1), max].
int64_t KedaReplicas(const HpaInputs& inputs, bool active);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_HPA_H_
