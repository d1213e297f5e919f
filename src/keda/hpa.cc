#include "keda/hpa.h"

#include <algorithm>
#include <cmath>

#include "keda/metric_answer.h"

namespace mk::keda {

int64_t HpaDesiredReplicas(const HpaInputs& inputs) {
  const double current = static_cast<double>(inputs.current_replicas);
  const double ratio = inputs.metric_type == MetricType::kAverageValue
                           ? inputs.total / (inputs.target * current)
                           : inputs.total / inputs.target;
  if (std::abs(1 - ratio) <= inputs.tolerance) return inputs.current_replicas;
  return inputs.metric_type == MetricType::kAverageValue ? CeilToInt64(inputs.total / inputs.target)
                                                         : CeilToInt64(ratio * current);
}

int64_t KedaReplicas(const HpaInputs& inputs, bool active) {
  if (!active && inputs.min_replicas == 0) return 0;
  const int64_t floor = std::max<int64_t>(inputs.min_replicas, 1);
  HpaInputs scaled = inputs;
  scaled.current_replicas = std::max<int64_t>(inputs.current_replicas, 1);
  return std::clamp(HpaDesiredReplicas(scaled), floor, std::max(floor, inputs.max_replicas));
}

}  // namespace mk::keda
