#include "keda/trigger_config.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "absl/status/status.h"
#include "dynamo/service_name.h"

namespace mk::keda {
namespace {

const std::string* Find(const Metadata& metadata, const std::string& key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

absl::Status Invalid(std::string_view key, std::string_view value, std::string_view rule) {
  // Quote at most a screenful of a bad value.
  constexpr size_t kShown = 128;
  const std::string_view ellipsis = value.size() > kShown ? "..." : "";
  return absl::InvalidArgumentError(fmt::format("trigger metadata {}=\"{}{}\": {}", key,
                                                value.substr(0, kShown), ellipsis, rule));
}

// The whole string as a finite number, or nothing ("0.7", "1e-3"; not "0.7x", "nan").
std::optional<double> ParseFinite(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

absl::Status ReadName(const Metadata& metadata, const std::string& key, std::string& out) {
  const std::string* value = Find(metadata, key);
  if (value == nullptr) return absl::OkStatus();
  if (!dynamo::IsSubjectSafeName(*value)) {
    return Invalid(key, *value, "must be 1-128 characters of [A-Za-z0-9_-]");
  }
  out = *value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TriggerConfig> ParseTriggerMetadata(const Metadata& metadata,
                                                   const TriggerDefaults& defaults) {
  size_t bytes = 0;
  for (const auto& [key, value] : metadata) bytes += key.size() + value.size();
  if (bytes > defaults.max_metadata_bytes) {
    return absl::ResourceExhaustedError(
        fmt::format("trigger metadata of {} bytes exceeds the limit of {} bytes "
                    "(--max-metadata-bytes)",
                    bytes, defaults.max_metadata_bytes));
  }
  TriggerConfig config;
  config.target = defaults.target;
  for (auto [key, out] : {std::pair{"namespace", &config.target.dynamo_namespace},
                          std::pair{"component", &config.target.component},
                          std::pair{"endpoint", &config.target.endpoint}}) {
    if (absl::Status status = ReadName(metadata, key, *out); !status.ok()) return status;
  }

  if (const std::string* name = Find(metadata, "metricName")) {
    const std::optional<fleet::FleetMetric> metric = fleet::MetricNamed(*name);
    if (!metric) {
      return Invalid("metricName", *name,
                     "must be one of llm_load_avg, llm_kv_blocks_usage_percent, "
                     "llm_request_slots_usage_percent, llm_requests_waiting");
    }
    config.metric = *metric;
  }

  if (const std::string* text = Find(metadata, "threshold")) {
    const std::optional<double> threshold = ParseFinite(*text);
    if (!threshold || *threshold <= 0) {
      return Invalid("threshold", *text, "must be a finite number > 0");
    }
    config.threshold = *threshold;
  } else if (config.metric == fleet::FleetMetric::kRequestsWaiting) {
    return absl::InvalidArgumentError(
        "trigger metadata threshold is required for metricName llm_requests_waiting (a finite "
        "number > 0: queued requests per worker)");
  } else if (config.metric == fleet::FleetMetric::kLoadAvg) {
    config.threshold = defaults.threshold;
  } else {
    config.threshold = 100 * defaults.threshold;
  }

  if (const std::string* text = Find(metadata, "activationThreshold")) {
    const std::optional<double> activation = ParseFinite(*text);
    if (!activation || *activation < 0) {
      return Invalid("activationThreshold", *text, "must be a finite number >= 0");
    }
    config.activation_threshold = *activation;
  }

  if (const std::string* type = Find(metadata, "metricType")) {
    if (*type == "AverageValue") {
      config.metric_type = MetricType::kAverageValue;
    } else if (*type == "Value") {
      config.metric_type = MetricType::kValue;
    } else {
      return Invalid("metricType", *type, "must be AverageValue or Value");
    }
  }
  return config;
}

}  // namespace mk::keda
