// Replays a load trace through one ScaledObject: every second of the trace the
// demand is spread over the ready pods (load_model.h), the scaler's own figure and
// answer code (fleet::Aggregate, keda::AnswerFor) answers each trigger, KEDA's
// polling loop runs every pollingInterval and the HPA syncs every 15 s
// (autoscaling/), both from time 0, KEDA first when both fall on the same second.
// Pods exist as soon as the scale says so and are ready start-up delay later; a
// scale-down removes pods that are not ready first, then the most recently ready
// (as a ReplicaSet does). Pure; thread-safe (each call is independent).
#ifndef METRICS_KEDA_REPLAY_SIMULATION_H_
#define METRICS_KEDA_REPLAY_SIMULATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "autoscaling/scaled_object.h"
#include "replay/load_model.h"
#include "replay/trace.h"

namespace mk::replay {

struct ReplayOptions {
  // Seconds from a pod's creation until it serves and registers (model load,
  // engine warm-up): minutes for a large model.
  double startup_delay_seconds = 0;
  // The replicas when the trace starts, all ready; max(minReplicaCount, 1) if unset.
  std::optional<int32_t> initial_replicas = std::nullopt;
  int32_t hpa_sync_period_seconds = 15;  // kube-controller-manager's default
  LoadModel load = {};
};

// Who changed the replica count.
enum class Actor { kKeda, kHpa };
std::string_view ActorName(Actor actor);  // "KEDA", "HPA"

struct ScaleEvent {
  int64_t time = 0;  // seconds since the trace's start
  int32_t from = 0;
  int32_t to = 0;
  Actor actor = Actor::kHpa;
  std::string reason;
};

// One trigger's reading at one second.
struct TriggerReading {
  std::optional<double> value =
      std::nullopt;  // what the HPA is handed before fallback; none: failed
  std::optional<double> figure =
      std::nullopt;  // this scaler's F; other triggers: the column's value
  bool active = false;
};

// The state after each second's decisions.
struct Second {
  int64_t time = 0;
  std::optional<double> demand = std::nullopt;  // none: the trace has no reading then
  int32_t replicas = 0;                         // the scale's spec.replicas
  int32_t ready = 0;
  double unit_load = 0;                  // each ready pod's load
  double waiting = 0;                    // requests queued
  std::vector<TriggerReading> triggers;  // in the ScaledObject's order
};

struct Summary {
  double replica_hours = 0;  // the integral of spec.replicas (pods are billed while starting)
  // Seconds in which some trigger read above its target (this scaler's F above its
  // threshold; another trigger's value per replica, or value, above its target), or
  // requests waited with no pod ready.
  int64_t seconds_above_target = 0;
  double worst_waiting = 0;
  double p95_waiting = 0;
  int64_t scale_ups = 0;
  int64_t scale_downs = 0;
  double flaps_per_hour = 0;  // changes of scaling direction per hour
  int32_t max_replicas = 0;
  int64_t duration_seconds = 0;

  // seconds_above_target as a percentage of the duration.
  double above_target_percent() const {
    return duration_seconds > 0 ? 100.0 * static_cast<double>(seconds_above_target) /
                                      static_cast<double>(duration_seconds)
                                : 0;
  }
};

struct ReplayResult {
  std::string name;  // the ScaledObject's
  std::vector<Second> seconds;
  std::vector<ScaleEvent> events;
  Summary summary;
  std::vector<std::string> warnings;  // settings that make the replay say less than it seems
};

// The longest trace replayed, in seconds: a second of replay holds ~150 bytes per
// setting, so a month is some 400 MB, and a longer what-if is better cut.
inline constexpr int32_t kMaxReplaySeconds = 31 * 86400;
// The largest demand, in worker capacities: beyond, a trace is not a fleet's.
inline constexpr double kMaxDemand = 1e6;

// INVALID_ARGUMENT for an empty trace, one longer than kMaxReplaySeconds, a demand
// beyond [0, kMaxDemand], or a trigger whose column the trace lacks.
absl::StatusOr<ReplayResult> Replay(const Trace& trace,
                                    const autoscaling::ScaledObjectSpec& scaled_object,
                                    const ReplayOptions& options);

// The summary figures of a replayed timeline.
Summary Summarize(const std::vector<Second>& seconds, const std::vector<ScaleEvent>& events,
                  const autoscaling::ScaledObjectSpec& scaled_object);

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_SIMULATION_H_
