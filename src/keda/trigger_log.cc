#include "keda/trigger_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <span>
#include <utility>

#include "keda/hpa.h"

namespace mk::keda {
namespace {

// The scaled object and the metadata sorted by name: protobuf maps iterate in no
// fixed order.
std::string Key(const std::string& scaled_object, const Metadata& metadata) {
  std::vector<const Metadata::value_type*> entries;
  entries.reserve(metadata.size());
  size_t length = scaled_object.size();
  for (const auto& entry : metadata) {
    entries.push_back(&entry);
    length += entry.first.size() + entry.second.size() + 2;
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  std::string key;
  key.reserve(length);
  key += scaled_object;
  for (const auto* entry : entries) {
    key += '\n';
    key += entry->first;
    key += '=';
    key += entry->second;
  }
  return key;
}

// What /status may show of a trigger's metadata. The scaler's own keys and KEDA's
// TLS switches are shown as they are; scalerAddress without anything before an
// '@'; every other value is hidden, since KEDA resolves `...FromEnv` keys and
// hands them over in clear, and /status needs no authentication.
std::map<std::string, std::string> Shown(const Metadata& metadata) {
  static constexpr std::string_view kKedaSwitches[] = {"enableTLS", "unsafeSsl"};
  const std::span<const std::string_view> known = KnownMetadataKeys();
  std::map<std::string, std::string> shown;
  for (const auto& [key, value] : metadata) {
    std::string& out = shown[key];
    if (std::ranges::find(known, key) != known.end() ||
        std::ranges::find(kKedaSwitches, key) != std::end(kKedaSwitches)) {
      out = value;
    } else if (key == "scalerAddress") {
      const size_t at = value.rfind('@');
      out = at == std::string::npos ? value : "***" + value.substr(at);
    } else {
      out = "***";
    }
  }
  return shown;
}

// "over 3 of 5 units; 2 unreadable: no_data; 1 without a capacity".
std::string Coverage(const MetricAnswer& answer) {
  std::string text = fmt::format("over {} of {} units", answer.figure_units, answer.units);
  if (answer.unreadable_units > 0) {
    text += fmt::format("; {} unreadable: {}", answer.unreadable_units,
                        answer.main_unreadable_reason
                            ? dynamo::DropReasonName(*answer.main_unreadable_reason)
                            : std::string_view("no readable report"));
  }
  if (answer.reporting_units > answer.figure_units) {
    text += fmt::format("; {} without a capacity", answer.reporting_units - answer.figure_units);
  }
  return text;
}

// The N present units stand for the current replicas: the scaler cannot see them.
int64_t CurrentReplicas(const MetricAnswer& answer) {
  return static_cast<int64_t>(std::max<size_t>(answer.units, 1));
}

std::string Explain(const TriggerConfig& config, const MetricAnswer& answer, int64_t desired) {
  std::string metric(fleet::MetricName(config.metric));
  if (config.source != fleet::SourceView::kAll) {
    metric += fmt::format(" ({} source alone)", fleet::SourceViewName(config.source));
  }
  const std::string value = config.metric_type == MetricType::kValue
                                ? fmt::format("value F = {:.4g} (Value)", answer.figure)
                                : fmt::format("value N x F = {} x {:.4g} = {:.4g} (AverageValue)",
                                              answer.units, answer.figure, answer.value);
  return fmt::format(
      "{} F = {:.4g} {}; {}; {} since F {} activationThreshold {:.4g}; HPA aims at {} "
      "replicas for threshold {:.4g} from {} current",
      metric, answer.figure, Coverage(answer), value, answer.active ? "active" : "inactive",
      answer.active ? ">" : "<=", config.activation_threshold, desired, config.threshold,
      CurrentReplicas(answer));
}

// The HPA's aim for an answer (its own rule, tolerance included).
int64_t DesiredReplicas(const TriggerConfig& config, const MetricAnswer& answer) {
  return HpaDesiredReplicas({.total = answer.value,
                             .target = config.threshold,
                             .metric_type = config.metric_type,
                             .current_replicas = CurrentReplicas(answer)});
}

}  // namespace

TriggerLog::TriggerLog(Clock clock) : clock_(std::move(clock)) {}

void TriggerLog::Record(const std::string& scaled_object, const Metadata& metadata, Rpc rpc,
                        const absl::StatusOr<TriggerConfig>& config, const absl::Status& status,
                        const std::optional<MetricAnswer>& answer) {
  const std::string key = Key(scaled_object, metadata);
  const auto now = clock_();
  std::optional<bool> flipped_from;
  {
    std::lock_guard lock(mutex_);
    auto it = triggers_.find(key);
    if (it == triggers_.end()) {
      if (triggers_.size() >= kMaxTriggers) {
        // Make room: the trigger heard of least recently goes.
        auto oldest = std::min_element(triggers_.begin(), triggers_.end(), [](auto& a, auto& b) {
          return a.second.record.last_seen < b.second.record.last_seen;
        });
        triggers_.erase(oldest);
      }
      std::erase_if(triggers_, [&](const auto& entry) {
        return now - entry.second.record.last_seen > kForgetAfter;
      });
      it = triggers_.emplace(key, Trigger{}).first;
      it->second.record.scaled_object = scaled_object;
      it->second.record.metadata = Shown(metadata);
      // The same metadata always parses the same way: set once.
      if (config.ok()) it->second.record.config = *config;
    }
    TriggerRecord& record = it->second.record;
    record.last_rpc = rpc;
    record.last_seen = now;
    record.last_status = config.ok() ? status : config.status();
    std::optional<FigureSample> sample;
    if (record.last_status.ok() && answer && config.ok()) {
      if (rpc == Rpc::kGetMetrics) record.value = answer->value;
      if (record.active && *record.active != answer->active) flipped_from = record.active;
      record.active = answer->active;
      record.workers = answer->units;
      record.desired_replicas = DesiredReplicas(*config, *answer);
      record.answer = answer;
      sample = FigureSample{.figure = answer->figure,
                            .units = answer->units,
                            .desired_replicas = *record.desired_replicas};
    }
    // GetMetricSpec reads no fleet, and invalid metadata has no chart.
    if (config.ok() && rpc != Rpc::kGetMetricSpec) it->second.history.Add(now, sample);
  }
  if (flipped_from) {
    spdlog::info("trigger {}: activation {} -> {}", scaled_object, *flipped_from, !*flipped_from);
  }
}

std::vector<TriggerRecord> TriggerLog::Recent() const {
  std::lock_guard lock(mutex_);
  std::vector<TriggerRecord> recent;
  for (const auto& [key, trigger] : triggers_) {
    TriggerRecord& copy = recent.emplace_back(trigger.record);
    if (!copy.last_status.ok()) {
      copy.reason = std::string(copy.last_status.message());
    } else if (copy.config && copy.answer && copy.desired_replicas) {
      copy.reason = Explain(*copy.config, *copy.answer, *copy.desired_replicas);
    }
  }
  std::sort(recent.begin(), recent.end(),
            [](const auto& a, const auto& b) { return a.last_seen > b.last_seen; });
  return recent;
}

FigureHistoryView TriggerLog::History() const {
  const auto now = clock_();
  FigureHistoryView view{.now = now, .series = {}};
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, trigger] : triggers_) {
      const std::optional<TriggerConfig>& config = trigger.record.config;
      if (!config) continue;
      std::vector<FigurePoint> points = trigger.history.Read(now);
      if (points.empty()) continue;
      view.series.push_back(
          {.label = {.scaled_object = trigger.record.scaled_object,
                     .metric = std::string(fleet::MetricName(config->metric)),
                     .target = config->target.ToString(),
                     .metric_type = std::string(MetricTypeName(config->metric_type)),
                     .threshold = config->threshold},
           .points = std::move(points)});
    }
  }
  // The trigger heard of most recently first.
  std::stable_sort(view.series.begin(), view.series.end(), [](const auto& a, const auto& b) {
    return a.points.back().slot > b.points.back().slot;
  });
  return view;
}

}  // namespace mk::keda
