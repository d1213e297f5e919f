// The replica count Kubernetes' HPA and KEDA would choose for a trigger's
// answers, as KEDA's external-scaler docs describe the arithmetic. Used to
// explain decisions (query tool, status page), never to make them. Pure.
#ifndef METRICS_KEDA_KEDA_HPA_H_
#define METRICS_KEDA_KEDA_HPA_H_

#include <cstdint>

#include "keda/trigger_config.h"

namespace mk::keda {

struct HpaInputs {
  double total = 0;   // the sum of GetMetrics values
  double target = 1;  // the metric spec's target (> 0)
  MetricType metric_type = MetricType::kAverageValue;
  int64_t current_replicas = 1;
  int64_t min_replicas = 0;  // KEDA's minReplicaCount
  int64_t max_replicas = 100;
  double tolerance = 0.1;
};

// The HPA's desired count for current_replicas > 0, before clamping: within the
// tolerance the current count is kept, else ceil(total / target) (AverageValue)
// or ceil(total / target * current) (Value).
int64_t HpaDesiredReplicas(const HpaInputs& inputs);

// KEDA's end result: inactive with minReplicaCount 0 gives 0 (scale to zero);
// active at 0 replicas wakes to at least 1; otherwise the HPA's count, clamped to
// [max(min, 1), max].
int64_t KedaReplicas(const HpaInputs& inputs, bool active);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_HPA_H_
