// A model of KEDA's operator for one ScaledObject: the polling loop that activates
// a workload from zero and returns it to zero (or idleReplicaCount) after the
// cooldown, and the metrics it hands the HPA, with `fallback` once a trigger's
// consecutive failures pass failureThreshold. It follows kedacore/keda
// pkg/scaling/executor/scale_scaledobjects.go (RequestScale) and pkg/fallback
// (GetMetricsWithFallback): failures are counted per trigger, on every read by
// either loop, and reset by any success; a trigger in fallback counts as active;
// an error without fallback holds the count (never a scale to zero). Time is seconds
// on the caller's clock, the ScaledObject created at 0. Pure; not thread-safe.
#ifndef METRICS_KEDA_AUTOSCALING_KEDA_SCALING_LOOP_H_
#define METRICS_KEDA_AUTOSCALING_KEDA_SCALING_LOOP_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "autoscaling/horizontal_controller.h"

namespace mk::autoscaling {

enum class FallbackBehavior {
  kStatic,
  kCurrentReplicas,
  kCurrentReplicasIfHigher,
  kCurrentReplicasIfLower
};

struct Fallback {
  int32_t failure_threshold = 3;
  int32_t replicas = 0;
  FallbackBehavior behavior = FallbackBehavior::kStatic;
};

// The ScaledObject fields the operator reads (keda.sh/v1alpha1 defaults).
struct KedaSpec {
  int32_t min_replica_count = 0;
  int32_t max_replica_count = 100;
  std::optional<int32_t> idle_replica_count = std::nullopt;
  int32_t polling_interval_seconds = 30;
  int32_t cooldown_period_seconds = 300;
  int32_t initial_cooldown_period_seconds = 0;
  std::optional<Fallback> fallback = std::nullopt;
};

// How the HPA reads one trigger's metric: its type (the trigger's metricType) and
// target (what GetMetricSpec answered).
struct TriggerTarget {
  keda::MetricType type = keda::MetricType::kAverageValue;
  double target = 1;
};

// One trigger's answers at one moment: the GetMetrics value (summed) and IsActive;
// no value when the trigger fails.
struct TriggerAnswer {
  std::optional<double> value = std::nullopt;
  bool active = false;
};

struct PollResult {
  std::optional<int32_t> replicas =
      std::nullopt;     // the new spec.replicas, when the operator sets one
  bool active = false;  // some trigger active (or in fallback)
  bool error = false;   // some trigger failing, not in fallback
  std::string reason = {};
};

class KedaScalingLoop {
 public:
  KedaScalingLoop(KedaSpec spec, std::vector<TriggerTarget> targets);

  // The polling loop's turn at `now` (every pollingInterval). `answers` has one entry
  // per trigger, in the targets' order.
  PollResult Poll(double now, int32_t spec_replicas, int32_t ready_pods,
                  std::span<const TriggerAnswer> answers);

  // What the HPA's sync reads through KEDA's metrics server, one metric per trigger.
  std::vector<HpaMetric> HpaMetrics(int32_t spec_replicas, int32_t ready_pods,
                                    std::span<const TriggerAnswer> answers);

  // The HPA KEDA creates for this ScaledObject: minReplicas max(minReplicaCount, 1).
  HpaSpec Hpa(std::optional<Behavior> behavior) const;

  const KedaSpec& spec() const { return spec_; }
  std::optional<double> last_active_time() const { return last_active_; }
  // Some trigger's failures have passed failureThreshold.
  bool in_fallback() const;

 private:
  struct Read {
    std::optional<int64_t> value_milli = std::nullopt;  // none: the trigger fails
    bool fallback = false;
  };
  Read ReadWithFallback(size_t trigger, const TriggerAnswer& answer, int32_t spec_replicas,
                        int32_t ready_pods);

  KedaSpec spec_;
  std::vector<TriggerTarget> targets_;
  std::vector<int32_t> failures_;  // consecutive, per trigger
  std::optional<double> last_active_ = std::nullopt;
};

}  // namespace mk::autoscaling

#endif  // METRICS_KEDA_AUTOSCALING_KEDA_SCALING_LOOP_H_
