#include "keda/trigger_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

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
  const std::string key = Key(scaled_object, metadata);
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
      it->second.metadata = std::map<std::string, std::string>(metadata.begin(), metadata.end());
      // The same metadata always parses the same way: set once.
      if (config.ok()) it->second.config = *config;
    }
    TriggerRecord& record = it->second;
    record.last_rpc = rpc;
    record.last_seen = now;
    record.last_status = config.ok() ? status : config.status();
    if (record.last_status.ok() && answer && config.ok()) {
      if (rpc == Rpc::kGetMetrics) record.value = answer->value;
      if (record.active && *record.active != answer->active) flipped_from = record.active;
      record.active = answer->active;
      record.workers = workers;
      record.desired_replicas = DesiredReplicas(*config, answer->value, workers);
      record.answer = answer;
    }
  }
  if (flipped_from) {
    spdlog::info("trigger {}: activation {} -> {}", scaled_object, *flipped_from, !*flipped_from);
  }
}

std::vector<TriggerRecord> TriggerLog::Recent() const {
  std::lock_guard lock(mutex_);
  std::vector<TriggerRecord> recent;
  for (const auto& [key, record] : records_) {
    TriggerRecord& copy = recent.emplace_back(record);
    if (!copy.last_status.ok()) {
      copy.reason = std::string(copy.last_status.message());
    } else if (copy.config && copy.answer && copy.desired_replicas) {
      copy.reason = Explain(*copy.config, *copy.answer, copy.workers, *copy.desired_replicas);
    }
  }
  std::sort(recent.begin(), recent.end(),
            [](const auto& a, const auto& b) { return a.last_seen > b.last_seen; });
  return recent;
}

}  // namespace mk::keda
