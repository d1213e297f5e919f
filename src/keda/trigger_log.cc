#include "keda/trigger_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace mk::keda {
namespace {

std::string Key(const std::string& scaled_object,
                const std::map<std::string, std::string>& metadata) {
  std::string key = scaled_object;
  for (const auto& [name, value] : metadata) {
    key += '\n';
    key += name;
    key += '=';
    key += value;
  }
  return key;
}

std::string Explain(const TriggerConfig& config, const MetricAnswer& answer, size_t workers,
                    int64_t desired) {
  const std::string_view metric = fleet::MetricName(config.metric);
  const std::string value = config.metric_type == MetricType::kValue
                                ? fmt::format("value F = {:.4g} (Value)", answer.figure)
                                : fmt::format("value N x F = {} x {:.4g} = {:.4g} (AverageValue)",
                                              workers, answer.figure, answer.value);
  return fmt::format(
      "{} F = {:.4g} over {} worker units; {}; {} since F {} activationThreshold "
      "{:.4g}; HPA aims at {} replicas for threshold {:.4g}",
      metric, answer.figure, workers, value, answer.active ? "active" : "inactive",
      answer.active ? ">" : "<=", config.activation_threshold, desired, config.threshold);
}

}  // namespace

int64_t DesiredReplicas(const TriggerConfig& config, double value, size_t workers) {
  const double ratio = value / config.threshold;
  return config.metric_type == MetricType::kValue
             ? CeilToInt64(ratio * static_cast<double>(workers))
             : CeilToInt64(ratio);
}

void TriggerLog::Record(const std::string& scaled_object, const Metadata& metadata, Rpc rpc,
                        const absl::StatusOr<TriggerConfig>& config, const absl::Status& status,
                        const std::optional<MetricAnswer>& answer, size_t workers) {
  std::map<std::string, std::string> sorted(metadata.begin(), metadata.end());
  const std::string key = Key(scaled_object, sorted);
  const auto now = std::chrono::system_clock::now();
  std::optional<bool> flipped_from;
  {
    std::lock_guard lock(mutex_);
    auto it = records_.find(key);
    if (it == records_.end()) {
      if (records_.size() >= kMaxTriggers) {
        // Make room: the trigger heard of least recently goes.
        auto oldest = std::min_element(records_.begin(), records_.end(), [](auto& a, auto& b) {
          return a.second.last_seen < b.second.last_seen;
        });
        records_.erase(oldest);
      }
      std::erase_if(records_,
                    [&](const auto& entry) { return now - entry.second.last_seen > kForgetAfter; });
      it = records_.emplace(key, TriggerRecord{}).first;
      it->second.scaled_object = scaled_object;
      it->second.metadata = std::move(sorted);
    }
    TriggerRecord& record = it->second;
    record.config = config.ok() ? std::optional(*config) : std::nullopt;
    record.last_rpc = rpc;
    record.last_seen = now;
    record.last_status = config.ok() ? status : config.status();
    if (!record.last_status.ok()) {
      record.reason = std::string(record.last_status.message());
    } else if (answer && config.ok()) {
      if (rpc == Rpc::kGetMetrics) record.value = answer->value;
      if (record.active && *record.active != answer->active) flipped_from = record.active;
      record.active = answer->active;
      record.workers = workers;
      record.desired_replicas = DesiredReplicas(*config, answer->value, workers);
      record.reason = Explain(*config, *answer, workers, *record.desired_replicas);
    }
  }
  if (flipped_from) {
    spdlog::info("trigger {}: activation {} -> {}", scaled_object, *flipped_from, !*flipped_from);
  }
}

std::vector<TriggerRecord> TriggerLog::Recent() const {
  std::lock_guard lock(mutex_);
  std::vector<TriggerRecord> recent;
  for (const auto& [key, record] : records_) recent.push_back(record);
  std::sort(recent.begin(), recent.end(),
            [](const auto& a, const auto& b) { return a.last_seen > b.last_seen; });
  return recent;
}

}  // namespace mk::keda
