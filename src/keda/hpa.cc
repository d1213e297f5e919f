#include "keda/hpa.h"

#include <algorithm>

#include "keda/metric_answer.h"

namespace mk::keda {

int64_t HpaDesiredReplicas(const HpaInputs& inputs) {
  const double current = static_cast<double>(inputs.current_replicas);
  const double ratio = inputs.metric_type == MetricType::kAverageValue
                           ? inputs.total / (inputs.target * current)
                           : inputs.total / inputs.target;
  const double up = inputs.scale_up_tolerance.value_or(inputs.tolerance);
  if (1 - inputs.tolerance <= ratio && ratio <= 1 + up) return inputs.current_replicas;
  if (inputs.metric_type == MetricType::kAverageValue) {
    return CeilToInt64(inputs.total / inputs.target);
  }
  return CeilToInt64(ratio *
                     static_cast<double>(inputs.ready_pods.value_or(inputs.current_replicas)));
}

int64_t KedaReplicas(const HpaInputs& inputs, bool active) {
  if (!active && inputs.min_replicas == 0) return 0;
  const int64_t floor = std::max<int64_t>(inputs.min_replicas, 1);
  HpaInputs scaled = inputs;
  scaled.current_replicas = std::max<int64_t>(inputs.current_replicas, 1);
  return std::clamp(HpaDesiredReplicas(scaled), floor, std::max(floor, inputs.max_replicas));
}

}  // namespace mk::keda
