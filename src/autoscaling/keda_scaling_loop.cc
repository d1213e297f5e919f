#include "autoscaling/keda_scaling_loop.h"

#include <algorithm>

namespace mk::autoscaling {

KedaScalingLoop::KedaScalingLoop(KedaSpec spec, std::vector<TriggerTarget> targets)
    : spec_(std::move(spec)), targets_(std::move(targets)), failures_(targets_.size(), 0) {}

HpaSpec KedaScalingLoop::Hpa(std::optional<Behavior> behavior) const {
  return HpaSpec{.min_replicas = std::max(spec_.min_replica_count, 1),
                 .max_replicas = spec_.max_replica_count,
                 .behavior = std::move(behavior)};
}

bool KedaScalingLoop::in_fallback() const {
  if (!spec_.fallback) return false;
  return std::any_of(failures_.begin(), failures_.end(), [&](int32_t failures) {
    return failures > spec_.fallback->failure_threshold;
  });
}

KedaScalingLoop::Read KedaScalingLoop::ReadWithFallback(size_t trigger, const TriggerAnswer& answer,
                                                        int32_t spec_replicas, int32_t ready_pods) {
  if (answer.value) {
    failures_[trigger] = 0;
    return Read{.value_milli = ToMilli(*answer.value)};
  }
  if (!spec_.fallback) return Read{};
  const Fallback& fallback = *spec_.fallback;
  if (++failures_[trigger] <= fallback.failure_threshold) return Read{};
  double replicas = fallback.replicas;
  switch (fallback.behavior) {
    case FallbackBehavior::kStatic:
      break;
    case FallbackBehavior::kCurrentReplicas:
      replicas = spec_replicas;
      break;
    case FallbackBehavior::kCurrentReplicasIfHigher:
      replicas = std::max(spec_replicas, fallback.replicas);
      break;
    case FallbackBehavior::kCurrentReplicasIfLower:
      replicas = std::min(spec_replicas, fallback.replicas);
      break;
  }
  const TriggerTarget& target = targets_[trigger];
  if (target.type == keda::MetricType::kValue) {
    // The HPA multiplies a Value ratio by the ready pods; with none, KEDA gives up.
    if (ready_pods == 0) return Read{};
    replicas /= ready_pods;
  }
  // doFallback: NewMilliQuantity(int64(target x 1000 x replicas)).
  const double target_milli = static_cast<double>(ToMilli(target.target));
  return Read{.value_milli = static_cast<int64_t>(target_milli * replicas), .fallback = true};
}

PollResult KedaScalingLoop::Poll(double now, int32_t spec_replicas, int32_t ready_pods,
                                 std::span<const TriggerAnswer> answers) {
  PollResult result;
  for (size_t i = 0; i < answers.size() && i < targets_.size(); ++i) {
    const Read read = ReadWithFallback(i, answers[i], spec_replicas, ready_pods);
    if (!read.value_milli) {
      result.error = true;
    } else if (read.fallback || answers[i].active) {
      result.active = true;
    }
  }
  const int32_t min = spec_.min_replica_count;
  const int32_t current = spec_replicas;
  if (result.active) {
    if ((spec_.idle_replica_count && current < min) || current == 0) {
      result.replicas = std::max(min, 1);
      result.reason = "activated";
      last_active_ = now;
    } else if (result.error) {
      result.reason = "active, some triggers failing";  // PartialTriggerError: not refreshed
    } else {
      last_active_ = now;
    }
    return result;
  }
  if (result.error) {
    result.reason = spec_.fallback ? "triggers failing, fallback pending" : "triggers failing";
    if (!spec_.fallback || spec_.fallback->replicas != 0) return result;
  }
  if ((spec_.idle_replica_count && current > *spec_.idle_replica_count) ||
      (current > 0 && min == 0)) {
    const bool cooled = last_active_ ? *last_active_ + spec_.cooldown_period_seconds < now
                                     : spec_.initial_cooldown_period_seconds < now;
    if (cooled) {
      result.replicas = spec_.idle_replica_count.value_or(min);
      result.reason = "deactivated after cooldown";
    } else {
      result.reason = "cooling down";
    }
  } else if (!spec_.idle_replica_count && current < min) {
    result.replicas = min;
    result.reason = "below minReplicaCount";
  }
  return result;
}

std::vector<HpaMetric> KedaScalingLoop::HpaMetrics(int32_t spec_replicas, int32_t ready_pods,
                                                   std::span<const TriggerAnswer> answers) {
  std::vector<HpaMetric> metrics;
  for (size_t i = 0; i < answers.size() && i < targets_.size(); ++i) {
    metrics.push_back(HpaMetric{
        .type = targets_[i].type,
        .target_milli = ToMilli(targets_[i].target),
        .value_milli = ReadWithFallback(i, answers[i], spec_replicas, ready_pods).value_milli});
  }
  return metrics;
}

}  // namespace mk::autoscaling
