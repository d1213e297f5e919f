// A KEDA ScaledObject (keda.sh/v1alpha1) read from the YAML users apply, as replay
// needs it: the operator's settings, the HPA behavior, and each trigger either this
// scaler's (type external or external-push, its metadata read by the scaler's own
// ParseTriggerMetadata) or another scaler's (prometheus, ...), whose value replay
// takes from the trace column named by the trigger's `name`. Errors name the
// document, the field and the rule. Pure; thread-safe.
#ifndef METRICS_KEDA_AUTOSCALING_SCALED_OBJECT_H_
#define METRICS_KEDA_AUTOSCALING_SCALED_OBJECT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "autoscaling/horizontal_controller.h"
#include "autoscaling/keda_scaling_loop.h"
#include "keda/trigger_config.h"

namespace mk::autoscaling {

struct TriggerSpec {
  std::string type;  // "external", "external-push", "prometheus", ...
  std::string name;  // the trigger's `name`; for other scalers, the trace column
  // The trigger's own `metricType`: how the HPA reads the metric. This scaler's
  // metadata `metricType` says what GetMetrics returns; users mirror the two.
  keda::MetricType metric_type = keda::MetricType::kAverageValue;
  std::optional<keda::TriggerConfig> scaler = std::nullopt;  // set for this scaler's triggers
  // Other scalers: metadata `threshold` and `activationThreshold`.
  double threshold = 0;
  double activation_threshold = 0;

  TriggerTarget Target() const;
};

struct ScaledObjectSpec {
  std::string name;  // metadata.name
  KedaSpec keda;
  std::optional<Behavior> behavior =
      std::nullopt;  // spec.advanced.horizontalPodAutoscalerConfig.behavior
  std::vector<TriggerSpec> triggers;
};

// Every ScaledObject in a (multi-document) YAML text; other kinds are skipped.
// INVALID_ARGUMENT for malformed YAML, values outside KEDA's and Kubernetes'
// validation, features replay does not model (scalingModifiers), or no ScaledObject.
absl::StatusOr<std::vector<ScaledObjectSpec>> ParseScaledObjects(
    std::string_view yaml, const keda::TriggerDefaults& defaults);

}  // namespace mk::autoscaling

#endif  // METRICS_KEDA_AUTOSCALING_SCALED_OBJECT_H_
