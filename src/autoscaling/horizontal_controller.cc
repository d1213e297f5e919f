#include "autoscaling/horizontal_controller.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "keda/hpa.h"

namespace mk::autoscaling {
namespace {

EffectiveRules Fill(const ScalingRules& rules, EffectiveRules defaults) {
  if (rules.stabilization_window_seconds) {
    defaults.stabilization_window_seconds = *rules.stabilization_window_seconds;
  }
  if (rules.select_policy) defaults.select_policy = *rules.select_policy;
  if (rules.policies) defaults.policies = *rules.policies;
  if (rules.tolerance) defaults.tolerance = *rules.tolerance;
  return defaults;
}

}  // namespace

EffectiveRules ScaleUpRules(const ScalingRules& rules, double default_tolerance) {
  return Fill(rules, EffectiveRules{
                         .stabilization_window_seconds = 0,
                         .select_policy = SelectPolicy::kMax,
                         .policies = {{PolicyType::kPods, 4, 15}, {PolicyType::kPercent, 100, 15}},
                         .tolerance = default_tolerance});
}

EffectiveRules ScaleDownRules(const ScalingRules& rules, int32_t default_window_seconds,
                              double default_tolerance) {
  return Fill(rules, EffectiveRules{.stabilization_window_seconds = default_window_seconds,
                                    .select_policy = SelectPolicy::kMax,
                                    .policies = {{PolicyType::kPercent, 100, 15}},
                                    .tolerance = default_tolerance});
}

int64_t ToMilli(double value) {
  if (!std::isfinite(value) || value <= 0) return 0;
  // Past this the thousandths no longer fit an int64; the API saturates as well.
  constexpr double kLargest = 9.2e15;
  if (value >= kLargest) return std::numeric_limits<int64_t>::max();
  char text[64];
  std::snprintf(text, sizeof(text), "%.3f", value);
  int64_t milli = 0;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c != '.') milli = milli * 10 + (*c - '0');
  }
  return milli;
}

HorizontalController::HorizontalController(HpaSpec spec)
    : spec_(std::move(spec)),
      up_(ScaleUpRules(spec_.behavior ? spec_.behavior->scale_up : ScalingRules{},
                       spec_.tolerance)),
      down_(ScaleDownRules(spec_.behavior ? spec_.behavior->scale_down : ScalingRules{},
                           spec_.downscale_stabilization_seconds, spec_.tolerance)) {}

HpaSync HorizontalController::Sync(double now, int32_t spec_replicas, int32_t ready_pods,
                                   std::span<const HpaMetric> metrics) {
  // recordInitialRecommendation: the count found at the first sync is remembered,
  // so a scale-down right after the HPA appears is stabilized too.
  if (recommendations_.empty()) recommendations_.push_back({now, spec_replicas});
  const int32_t current = spec_replicas;
  HpaSync sync{.replicas = current};
  int32_t desired = current;
  if (current == 0 && spec_.min_replicas != 0) {
    sync.reason = "scaling is disabled since the replica count of the target is zero";
    return sync;
  }
  if (current > spec_.max_replicas) {
    desired = spec_.max_replicas;
    sync.reason = "current number of replicas above Spec.MaxReplicas";
  } else if (current < spec_.min_replicas) {
    desired = spec_.min_replicas;
    sync.reason = "current number of replicas below Spec.MinReplicas";
  } else {
    const std::optional<int32_t> proposal =
        ComputeReplicasForMetrics(spec_replicas, ready_pods, metrics, sync.reason);
    if (!proposal) return sync;
    sync.recommendation = *proposal;
    desired = std::max(*proposal, 0);
    desired = spec_.behavior ? NormalizeWithBehavior(now, current, desired)
                             : NormalizeWithoutBehavior(now, current, desired);
    if (desired > current) sync.reason = "metric above target";
    if (desired < current) sync.reason = "all metrics below target";
    if (desired == current && sync.reason.empty()) sync.reason = "within tolerance or held";
  }
  sync.replicas = desired;
  sync.rescaled = desired != current;
  if (sync.rescaled) StoreScaleEvent(now, current, desired);
  return sync;
}

std::optional<int32_t> HorizontalController::ComputeReplicasForMetrics(
    int32_t spec_replicas, int32_t ready_pods, std::span<const HpaMetric> metrics,
    std::string& reason) const {
  int32_t replicas = 0;
  size_t invalid = 0;
  for (const HpaMetric& metric : metrics) {
    if (!metric.value_milli || metric.target_milli <= 0) {
      ++invalid;
      continue;
    }
    keda::HpaInputs inputs{
        .total = static_cast<double>(*metric.value_milli),
        .target = static_cast<double>(metric.target_milli),
        .metric_type = metric.type,
        .current_replicas = spec_replicas,
        .tolerance = spec_.behavior ? down_.tolerance : spec_.tolerance,
        .scale_up_tolerance = spec_.behavior ? std::optional(up_.tolerance) : std::nullopt,
        .ready_pods = ready_pods};
    const int64_t proposal =
        std::min<int64_t>(keda::HpaDesiredReplicas(inputs), std::numeric_limits<int32_t>::max());
    if (replicas == 0 || proposal > replicas) replicas = static_cast<int32_t>(proposal);
  }
  // horizontal.go: with every metric failing, or some failing while the others
  // would scale down, the sync does nothing; failing metrics never block a scale-up.
  if (invalid >= metrics.size() || (invalid > 0 && replicas < spec_replicas)) {
    reason = metrics.empty() ? "no metrics" : "failed to get metrics: not scaling";
    return std::nullopt;
  }
  return replicas;
}

void HorizontalController::RecordRecommendation(double now, int32_t desired, double oldest_kept) {
  std::erase_if(recommendations_, [&](const Timestamped& rec) { return rec.time < oldest_kept; });
  recommendations_.push_back({now, desired});
}

int32_t HorizontalController::NormalizeWithoutBehavior(double now, int32_t current,
                                                       int32_t desired) {
  // stabilizeRecommendation: the highest recommendation not older than the window.
  const double cutoff = now - spec_.downscale_stabilization_seconds;
  int32_t stabilized = desired;
  for (const Timestamped& rec : recommendations_) {
    if (rec.time >= cutoff) stabilized = std::max(stabilized, rec.value);
  }
  RecordRecommendation(now, desired, cutoff);
  // convertDesiredReplicasWithRules: a scale-up step of at most max(2 x current, 4).
  const int32_t scale_up_limit = std::max(2 * current, 4);
  const int32_t maximum = std::min(spec_.max_replicas, scale_up_limit);
  return std::clamp(stabilized, spec_.min_replicas, std::max(spec_.min_replicas, maximum));
}

int32_t HorizontalController::ChangeWithin(double now, int32_t period_seconds,
                                           const std::vector<Timestamped>& events) {
  int32_t change = 0;
  for (const Timestamped& event : events) {
    if (event.time > now - period_seconds) change += event.value;
  }
  return change;
}

int32_t HorizontalController::NormalizeWithBehavior(double now, int32_t current, int32_t desired) {
  // stabilizeRecommendationWithBehaviors: the lowest recommendation of the scale-up
  // window and the highest of the scale-down window bound the count.
  const double up_cutoff = now - up_.stabilization_window_seconds;
  const double down_cutoff = now - down_.stabilization_window_seconds;
  int32_t up_recommendation = desired;
  int32_t down_recommendation = desired;
  for (const Timestamped& rec : recommendations_) {
    if (rec.time > up_cutoff) up_recommendation = std::min(up_recommendation, rec.value);
    if (rec.time > down_cutoff) down_recommendation = std::max(down_recommendation, rec.value);
  }
  int32_t recommendation = current;
  if (recommendation < up_recommendation) recommendation = up_recommendation;
  if (recommendation > down_recommendation) recommendation = down_recommendation;
  RecordRecommendation(now, desired, std::min(up_cutoff, down_cutoff));

  // convertDesiredReplicasWithBehaviorRate: each policy allows a change relative to
  // the count at the start of its period; selectPolicy picks among them.
  const auto limit = [&](const EffectiveRules& rules, bool up) {
    if (rules.select_policy == SelectPolicy::kDisabled) return current;
    const bool take_max = (rules.select_policy == SelectPolicy::kMax) == up;
    int64_t result =
        take_max ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max();
    for (const ScalingPolicy& policy : rules.policies) {
      const int64_t period_start = int64_t{current} -
                                   ChangeWithin(now, policy.period_seconds, scale_up_events_) +
                                   ChangeWithin(now, policy.period_seconds, scale_down_events_);
      const double fraction = static_cast<double>(policy.value) / 100;
      int64_t proposed = 0;
      if (policy.type == PolicyType::kPods) {
        proposed = up ? period_start + policy.value : period_start - policy.value;
      } else if (up) {
        proposed =
            static_cast<int64_t>(std::ceil(static_cast<double>(period_start) * (1 + fraction)));
      } else {
        proposed = static_cast<int64_t>(static_cast<double>(period_start) * (1 - fraction));
      }
      result = take_max ? std::max(result, proposed) : std::min(result, proposed);
    }
    return static_cast<int32_t>(std::clamp<int64_t>(result, std::numeric_limits<int32_t>::min(),
                                                    std::numeric_limits<int32_t>::max()));
  };
  if (recommendation > current) {
    const int32_t maximum = std::min(spec_.max_replicas, std::max(limit(up_, true), current));
    return std::min(recommendation, maximum);
  }
  if (recommendation < current) {
    const int32_t minimum = std::max(spec_.min_replicas, std::min(limit(down_, false), current));
    return std::max(recommendation, minimum);
  }
  return recommendation;
}

void HorizontalController::StoreScaleEvent(double now, int32_t before, int32_t after) {
  if (!spec_.behavior) return;  // only the behavior path reads them
  const bool up = after > before;
  std::vector<Timestamped>& events = up ? scale_up_events_ : scale_down_events_;
  int32_t longest = 0;
  for (const ScalingPolicy& policy : (up ? up_ : down_).policies) {
    longest = std::max(longest, policy.period_seconds);
  }
  std::erase_if(events, [&](const Timestamped& event) { return event.time <= now - longest; });
  events.push_back({now, up ? after - before : before - after});
}

}  // namespace mk::autoscaling
