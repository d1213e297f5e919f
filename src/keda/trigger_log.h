// The recent triggers KEDA asked about and what each was last answered, with
// the reason, for /status. A trigger is one ScaledObject (namespace/name) with
// one metadata map. Logs a line when a trigger's activation flips. Bounded:
// triggers unheard of for an hour are forgotten, and at most kMaxTriggers kept.
// Keeps the last hour of each trigger's answers for the status page's charts
// (History()). Thread-safe. Record() is on the path of every RPC, so it only
// stores; the explanations are written when /status asks for them (Recent()).
#ifndef METRICS_KEDA_KEDA_TRIGGER_LOG_H_
#define METRICS_KEDA_KEDA_TRIGGER_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "keda/figure_history.h"
#include "keda/metric_answer.h"
#include "keda/rpc_counters.h"
#include "keda/trigger_config.h"

namespace mk::keda {

struct TriggerRecord {
  std::string scaled_object;  // namespace/name
  // The trigger's metadata as it may be shown: values of keys this scaler does
  // not read are hidden ("***"), scalerAddress without credentials.
  std::map<std::string, std::string> metadata;
  std::optional<TriggerConfig> config;  // none when the metadata was invalid
  Rpc last_rpc = Rpc::kGetMetrics;
  std::chrono::system_clock::time_point last_seen;
  absl::Status last_status;
  std::optional<double> value;  // last GetMetrics value
  std::optional<bool> active;   // last activation answered
  size_t workers = 0;           // N behind the last answer
  // What the HPA would aim for (HpaDesiredReplicas), taking the N present units as
  // the current replicas.
  std::optional<int64_t> desired_replicas;
  std::optional<MetricAnswer> answer;  // last answer, for `reason`
  std::string reason;                  // how the last answer came about; filled in by Recent()
};

class TriggerLog {
 public:
  static constexpr size_t kMaxTriggers = 1000;
  static constexpr std::chrono::hours kForgetAfter{1};

  using Clock = std::function<std::chrono::system_clock::time_point()>;
  // `clock`: the time of each record (tests set it).
  explicit TriggerLog(Clock clock = std::chrono::system_clock::now);

  // An RPC answered from `answer`, or failed with `status`.
  void Record(const std::string& scaled_object, const Metadata& metadata, Rpc rpc,
              const absl::StatusOr<TriggerConfig>& config, const absl::Status& status,
              const std::optional<MetricAnswer>& answer);

  std::vector<TriggerRecord> Recent() const;

  // The last hour of answers of each trigger with valid metadata: a point for each
  // RPC that read the fleet (every one but GetMetricSpec).
  FigureHistoryView History() const;

 private:
  const Clock clock_;
  // A trigger's record and its chart's points, found with one lookup per RPC.
  struct Trigger {
    TriggerRecord record;
    FigureHistory history;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Trigger> triggers_;  // by scaled object + metadata
};

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_TRIGGER_LOG_H_
