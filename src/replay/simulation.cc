#include "replay/simulation.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autoscaling/horizontal_controller.h"
#include "fleet/fleet_figures.h"
#include "fleet/unit.h"
#include "keda/metric_answer.h"

namespace mk::replay {
namespace {

using autoscaling::ScaledObjectSpec;
using autoscaling::TriggerSpec;

// The pods of the workload: when each becomes ready, oldest first.
class Pods {
 public:
  Pods(int32_t initial) : ready_at_(static_cast<size_t>(initial), 0.0) {}

  int32_t count() const { return static_cast<int32_t>(ready_at_.size()); }
  int32_t Ready(double now) const {
    return static_cast<int32_t>(
        std::count_if(ready_at_.begin(), ready_at_.end(), [&](double at) { return at <= now; }));
  }
  void ScaleTo(int32_t replicas, double now, double startup_delay) {
    while (count() < replicas) ready_at_.push_back(now + startup_delay);
    if (count() <= replicas) return;
    // A ReplicaSet deletes pods that are not ready first, then those ready the
    // shortest time: the latest ready_at goes first either way.
    std::sort(ready_at_.begin(), ready_at_.end());
    ready_at_.resize(static_cast<size_t>(replicas));
  }

 private:
  std::vector<double> ready_at_;
};

// The trace sample in effect at `time`: the last one at or before it.
const TraceSample& SampleAt(const Trace& trace, double time, size_t& cursor) {
  while (cursor + 1 < trace.samples.size() && trace.samples[cursor + 1].time <= time) ++cursor;
  return trace.samples[cursor];
}

// Every trigger's reading of the fleet as spread: this scaler's through its own
// figure and answer code, the others from their trace columns.
std::vector<TriggerReading> Read(const ScaledObjectSpec& object, const TraceSample& sample,
                                 const SpreadDemand& spread, const LoadModel& model) {
  std::optional<fleet::FleetFigures> figures;
  if (sample.demand) {
    std::vector<fleet::Unit> units;
    for (const dynamo::WorkerLoad& record : UnitRecords(spread, model)) {
      units.push_back(fleet::Unit::Reporting(record));
    }
    figures = fleet::Aggregate(units);
  }
  std::vector<TriggerReading> readings;
  for (const TriggerSpec& trigger : object.triggers) {
    TriggerReading reading;
    if (trigger.scaler) {
      if (figures) {
        absl::StatusOr<keda::MetricAnswer> answer = keda::AnswerFor(*trigger.scaler, *figures);
        if (answer.ok()) {
          reading.value = answer->value;
          reading.figure = answer->figure;
          reading.active = answer->active;
        }
      }
    } else {
      const auto column = sample.columns.find(trigger.name);
      if (column != sample.columns.end() && column->second && *column->second >= 0) {
        reading.value = *column->second;
        reading.figure = *column->second;
        reading.active = *column->second > trigger.activation_threshold;
      }
    }
    readings.push_back(reading);
  }
  return readings;
}

std::vector<autoscaling::TriggerAnswer> Answers(const std::vector<TriggerReading>& readings) {
  std::vector<autoscaling::TriggerAnswer> answers;
  for (const TriggerReading& reading : readings) answers.push_back({reading.value, reading.active});
  return answers;
}

// Compared in thousandths, as quantities reach the HPA: 4.2 over 6 pods is 0.7, not
// 0.7000000000000001 above a target of 0.7.
bool AboveTarget(const TriggerSpec& trigger, const TriggerReading& reading, int32_t replicas) {
  if (!reading.figure) return false;
  if (trigger.scaler) {
    return autoscaling::ToMilli(*reading.figure) > autoscaling::ToMilli(trigger.scaler->threshold);
  }
  const double per_replica = trigger.metric_type == keda::MetricType::kAverageValue
                                 ? *reading.figure / std::max(replicas, 1)
                                 : *reading.figure;
  return autoscaling::ToMilli(per_replica) > autoscaling::ToMilli(trigger.threshold);
}

std::vector<std::string> Warnings(const ScaledObjectSpec& object) {
  std::vector<std::string> warnings;
  bool other_trigger = false;
  for (size_t i = 0; i < object.triggers.size(); ++i) {
    const TriggerSpec& trigger = object.triggers[i];
    if (!trigger.scaler) {
      other_trigger = true;
      continue;
    }
    if (trigger.metric_type != trigger.scaler->metric_type) {
      const bool value = trigger.metric_type == keda::MetricType::kValue;
      const std::string type(keda::MetricTypeName(trigger.metric_type));
      warnings.push_back(
          absl::StrCat("trigger ", i, ": its metricType is ", type, " but its metadata's is ",
                       std::string(keda::MetricTypeName(trigger.scaler->metric_type)),
                       ": the scaler answers ", value ? "N x F" : "F", " and the HPA reads it as ",
                       value ? "one value" : "a total over the pods",
                       "; set metadata metricType: ", type, " too"));
    }
  }
  // A pod's load and usages stop at full (1, or 100 %): a threshold whose tolerance
  // band reaches that ceiling is one the HPA can never scale up past.
  const double up_tolerance =
      object.behavior ? autoscaling::ScaleUpRules(object.behavior->scale_up, 0.1).tolerance : 0.1;
  for (size_t i = 0; i < object.triggers.size(); ++i) {
    const TriggerSpec& trigger = object.triggers[i];
    if (!trigger.scaler) continue;
    std::optional<double> ceiling;
    switch (trigger.scaler->metric) {
      case fleet::FleetMetric::kLoadAvg:
        ceiling = 1;
        break;
      case fleet::FleetMetric::kKvBlocksUsagePercent:
      case fleet::FleetMetric::kRequestSlotsUsagePercent:
        ceiling = 100;
        break;
      default:
        break;
    }
    if (ceiling && trigger.scaler->threshold * (1 + up_tolerance) >= *ceiling) {
      warnings.push_back(absl::StrFormat(
          "trigger %d: %s is at most %g per pod, and the HPA scales up only above %g x %.2f: "
          "it never scales up on this trigger",
          i, fleet::MetricName(trigger.scaler->metric), *ceiling, trigger.scaler->threshold,
          1 + up_tolerance));
    }
  }
  if (object.keda.min_replica_count == 0 && !other_trigger) {
    warnings.push_back(
        "minReplicaCount 0 with only this scaler's triggers: at zero replicas no worker reports, "
        "the fleet reads idle and nothing wakes it; add a trigger on the frontend's queue");
  }
  return warnings;
}

}  // namespace

std::string_view ActorName(Actor actor) { return actor == Actor::kKeda ? "KEDA" : "HPA"; }

absl::StatusOr<ReplayResult> Replay(const Trace& trace, const ScaledObjectSpec& object,
                                    const ReplayOptions& options) {
  if (trace.samples.empty()) return absl::InvalidArgumentError("the trace has no samples");
  for (const TriggerSpec& trigger : object.triggers) {
    if (trigger.scaler) continue;
    const bool present =
        std::any_of(trace.samples.begin(), trace.samples.end(),
                    [&](const TraceSample& s) { return s.columns.contains(trigger.name); });
    if (!present) {
      return absl::InvalidArgumentError(absl::StrCat("ScaledObject ", object.name,
                                                     ": the trace has no column \"", trigger.name,
                                                     "\" for its ", trigger.type, " trigger"));
    }
  }
  const double span = trace.samples.back().time;
  if (!(span >= 0 && span <= kMaxReplaySeconds)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the trace spans %g s; replay covers at most %d s (31 days): cut the trace",
                        span, kMaxReplaySeconds));
  }
  for (const TraceSample& sample : trace.samples) {
    if (sample.demand && !(*sample.demand >= 0 && *sample.demand <= kMaxDemand)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the trace's demand %g at %g s is not between 0 and %g worker capacities",
                          *sample.demand, sample.time, kMaxDemand));
    }
  }
  if (options.hpa_sync_period_seconds <= 0) {
    return absl::InvalidArgumentError("the HPA sync period must be > 0 seconds");
  }
  ReplayResult result;
  result.name = object.name;
  result.warnings = Warnings(object);
  std::vector<autoscaling::TriggerTarget> targets;
  for (const TriggerSpec& trigger : object.triggers) targets.push_back(trigger.Target());
  autoscaling::KedaScalingLoop keda(object.keda, targets);
  autoscaling::HorizontalController hpa(keda.Hpa(object.behavior));
  Pods pods(options.initial_replicas.value_or(std::max(object.keda.min_replica_count, 1)));

  // The last sample marks the trace's end (each sample holds until the next): a
  // trace from 0 to 1800 is 1800 seconds, 0 to 1799. A lone sample is one second.
  const int64_t end = std::max<int64_t>(static_cast<int64_t>(std::ceil(span)), 1);
  size_t cursor = 0;
  for (int64_t t = 0; t < end; ++t) {
    const auto now = static_cast<double>(t);
    const TraceSample& sample = SampleAt(trace, now, cursor);
    // The readings as the pods are now; read again after each change of the count.
    SpreadDemand spread;
    std::vector<TriggerReading> readings;
    const auto observe = [&] {
      spread =
          Spread(sample.demand.value_or(0), static_cast<size_t>(pods.Ready(now)), options.load);
      readings = Read(object, sample, spread, options.load);
    };
    const auto scale = [&](int32_t to, Actor actor, std::string reason) {
      result.events.push_back({t, pods.count(), to, actor, std::move(reason)});
      pods.ScaleTo(to, now, options.startup_delay_seconds);
      observe();
    };
    observe();
    if (t % object.keda.polling_interval_seconds == 0) {
      const autoscaling::PollResult poll =
          keda.Poll(now, pods.count(), pods.Ready(now), Answers(readings));
      if (poll.replicas && *poll.replicas != pods.count())
        scale(*poll.replicas, Actor::kKeda, poll.reason);
    }
    if (t % options.hpa_sync_period_seconds == 0) {
      const std::vector<autoscaling::HpaMetric> metrics =
          keda.HpaMetrics(pods.count(), pods.Ready(now), Answers(readings));
      const autoscaling::HpaSync sync = hpa.Sync(now, pods.count(), pods.Ready(now), metrics);
      if (sync.rescaled) {
        // The HPA cannot tell a fallback value from a reading; the event should.
        scale(sync.replicas, Actor::kHpa,
              keda.in_fallback() ? sync.reason + ", a trigger in fallback" : sync.reason);
      }
    }
    result.seconds.push_back(Second{.time = t,
                                    .demand = sample.demand,
                                    .replicas = pods.count(),
                                    .ready = pods.Ready(now),
                                    .unit_load = spread.unit_load,
                                    .waiting = sample.demand ? spread.waiting : 0,
                                    .triggers = readings});
  }
  result.summary = Summarize(result.seconds, result.events, object);
  const auto unread = std::count_if(result.seconds.begin(), result.seconds.end(),
                                    [](const Second& second) { return !second.demand; });
  if (unread > 0) {
    result.warnings.push_back(absl::StrFormat(
        "the trace has no reading of the fleet for %d of its %d s: the scaler answered errors "
        "then, and no figure is above or below target",
        unread, result.seconds.size()));
  }
  return result;
}

Summary Summarize(const std::vector<Second>& seconds, const std::vector<ScaleEvent>& events,
                  const ScaledObjectSpec& object) {
  Summary summary;
  std::vector<double> waiting;
  for (const Second& second : seconds) {
    summary.replica_hours += second.replicas / 3600.0;
    summary.max_replicas = std::max(summary.max_replicas, second.replicas);
    waiting.push_back(second.waiting);
    bool above = second.ready == 0 && second.waiting > 0;
    for (size_t i = 0; i < second.triggers.size() && i < object.triggers.size(); ++i) {
      above = above || AboveTarget(object.triggers[i], second.triggers[i], second.replicas);
    }
    if (above) ++summary.seconds_above_target;
  }
  summary.duration_seconds = static_cast<int64_t>(seconds.size());
  if (!waiting.empty()) {
    std::sort(waiting.begin(), waiting.end());
    summary.worst_waiting = waiting.back();
    // Nearest rank: the smallest value with at least 95 % of the seconds at or below it.
    const auto rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(waiting.size())));
    summary.p95_waiting = waiting[std::max<size_t>(rank, 1) - 1];
  }
  int previous_direction = 0;
  int64_t flaps = 0;
  for (const ScaleEvent& event : events) {
    const int direction = event.to > event.from ? 1 : -1;
    (direction > 0 ? summary.scale_ups : summary.scale_downs) += 1;
    if (previous_direction != 0 && direction != previous_direction) ++flaps;
    previous_direction = direction;
  }
  const double hours = static_cast<double>(summary.duration_seconds) / 3600.0;
  summary.flaps_per_hour = hours > 0 ? static_cast<double>(flaps) / hours : 0;
  return summary;
}

}  // namespace mk::replay
