// A model of Kubernetes' HorizontalPodAutoscaler controller for one HPA with external
// metrics, as KEDA builds it: what one sync decides from the metric values, the
// replica counts and the controller's own memory (recommendations, scale events).
// It follows kubernetes pkg/controller/podautoscaler (horizontal.go, replica_calculator.go)
// and the autoscaling/v2 defaults: tolerance, readiness for Value metrics, several
// metrics and failing ones, the old path without `behavior` (scale-down stabilization
// from the controller flag, scale-up at most max(2 x current, 4)) and the path with it
// (stabilization windows both ways, Pods and Percent policies over periodSeconds,
// selectPolicy Max, Min and Disabled). Time is seconds on the caller's clock. Pure;
// not thread-safe (one owner steps it).
#ifndef METRICS_KEDA_AUTOSCALING_HORIZONTAL_CONTROLLER_H_
#define METRICS_KEDA_AUTOSCALING_HORIZONTAL_CONTROLLER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "keda/trigger_config.h"

namespace mk::autoscaling {

enum class PolicyType { kPods, kPercent };
struct ScalingPolicy {
  PolicyType type = PolicyType::kPods;
  int32_t value = 0;            // pods, or percent of the count at the period's start
  int32_t period_seconds = 15;  // how far back the changes already made count
  friend bool operator==(const ScalingPolicy&, const ScalingPolicy&) = default;
};

enum class SelectPolicy { kMax, kMin, kDisabled };

// One direction of autoscaling/v2 HPAScalingRules; unset fields take the API defaults.
struct ScalingRules {
  std::optional<int32_t> stabilization_window_seconds = std::nullopt;
  std::optional<SelectPolicy> select_policy = std::nullopt;
  std::optional<std::vector<ScalingPolicy>> policies = std::nullopt;
  std::optional<double> tolerance = std::nullopt;  // Kubernetes 1.33+
};

struct Behavior {
  ScalingRules scale_up;
  ScalingRules scale_down;
};

// Rules with every default filled in (autoscaling/v2 GenerateHPAScale{Up,Down}Rules).
struct EffectiveRules {
  int32_t stabilization_window_seconds = 0;
  SelectPolicy select_policy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;
  double tolerance = 0.1;
};
// Scale-up: no window, the larger of 4 pods and 100 % per 15 s. Scale-down: the
// controller's downscale stabilization (300 s by default), 100 % per 15 s.
EffectiveRules ScaleUpRules(const ScalingRules& rules, double default_tolerance);
EffectiveRules ScaleDownRules(const ScalingRules& rules, int32_t default_window_seconds,
                              double default_tolerance);

struct HpaSpec {
  int32_t min_replicas = 1;  // KEDA sets max(minReplicaCount, 1)
  int32_t max_replicas = 100;
  std::optional<Behavior> behavior =
      std::nullopt;  // KEDA's advanced.horizontalPodAutoscalerConfig.behavior
  // The controller's flags: --horizontal-pod-autoscaler-tolerance and
  // --horizontal-pod-autoscaler-downscale-stabilization.
  double tolerance = 0.1;
  int32_t downscale_stabilization_seconds = 300;
};

// One metric of the HPA as one sync reads it, in thousandths as the external
// metrics API carries them (Quantity.MilliValue()).
struct HpaMetric {
  keda::MetricType type = keda::MetricType::kAverageValue;
  int64_t target_milli = 1000;
  std::optional<int64_t> value_milli =
      std::nullopt;  // the sum of the values; none: the metric failed
};

struct HpaSync {
  int32_t replicas = 0;  // the scale's spec.replicas after the sync
  bool rescaled = false;
  // The largest valid metric's proposal; none when scaling was disabled (0 replicas),
  // skipped (failing metrics) or the count was outside [min, max].
  std::optional<int32_t> recommendation = std::nullopt;
  std::string reason = {};  // why, in the controller's words where it has some
};

class HorizontalController {
 public:
  explicit HorizontalController(HpaSpec spec);

  // One sync at `now`: spec_replicas is the scale's spec.replicas (the pods exist at
  // once: status.replicas is taken to equal it), ready_pods those Running and Ready.
  HpaSync Sync(double now, int32_t spec_replicas, int32_t ready_pods,
               std::span<const HpaMetric> metrics);

  const HpaSpec& spec() const { return spec_; }

 private:
  struct Timestamped {
    double time;
    int32_t value;  // a recommendation, or a replica change
  };
  // The largest valid proposal, or none when the sync must not scale.
  std::optional<int32_t> ComputeReplicasForMetrics(int32_t spec_replicas, int32_t ready_pods,
                                                   std::span<const HpaMetric> metrics,
                                                   std::string& reason) const;
  int32_t NormalizeWithoutBehavior(double now, int32_t current, int32_t desired);
  int32_t NormalizeWithBehavior(double now, int32_t current, int32_t desired);
  void RecordRecommendation(double now, int32_t desired, double oldest_kept);
  static int32_t ChangeWithin(double now, int32_t period_seconds,
                              const std::vector<Timestamped>& events);
  void StoreScaleEvent(double now, int32_t before, int32_t after);

  HpaSpec spec_;
  EffectiveRules up_;
  EffectiveRules down_;
  std::vector<Timestamped> recommendations_;
  std::vector<Timestamped> scale_up_events_;
  std::vector<Timestamped> scale_down_events_;
};

// The thousandths an external metric value or target becomes: KEDA formats it with
// three decimals ("%.3f"); NaN, infinities and negatives become 0.
int64_t ToMilli(double value);

}  // namespace mk::autoscaling

#endif  // METRICS_KEDA_AUTOSCALING_HORIZONTAL_CONTROLLER_H_
