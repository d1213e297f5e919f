#include "keda/trigger_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "common/decimal.h"
#include "dynamo/service_name.h"

namespace mk::keda {
namespace {

// Every metadata key this scaler reads. Values are read through Find(Key), so a key
// read anywhere is in kKnownKeys and covered by the letter-case check.
enum class Key {
  kNamespace,
  kComponent,
  kEndpoint,
  kMetricName,
  kThreshold,
  kActivationThreshold,
  kMetricType,
  kSource,
  kKvTotalBlocks,
  kCount,
};
constexpr std::array<std::string_view, static_cast<size_t>(Key::kCount)> kKnownKeys = {
    "namespace",           "component",  "endpoint", "metricName",    "threshold",
    "activationThreshold", "metricType", "source",   "kvTotalBlocks",
};
static_assert(std::ranges::none_of(kKnownKeys, &std::string_view::empty),
              "every Key has its name in kKnownKeys");

std::string_view Name(Key key) { return kKnownKeys[static_cast<size_t>(key)]; }

const std::string* Find(const Metadata& metadata, Key key) {
  auto it = metadata.find(std::string(Name(key)));
  return it == metadata.end() ? nullptr : &it->second;
}

bool EqualIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A key that is not known but differs from a known one only in letter case is a
// typo that would silently leave the known key at its default.
absl::Status CheckKeyCase(const Metadata& metadata) {
  const std::string* typo = nullptr;  // the first in byte order, for a stable answer
  std::string_view meant;
  for (const auto& [key, value] : metadata) {
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) != kKnownKeys.end()) continue;
    for (const std::string_view known : kKnownKeys) {
      if (EqualIgnoringCase(key, known) && (typo == nullptr || key < *typo)) {
        typo = &key;
        meant = known;
      }
    }
  }
  if (typo == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "trigger metadata key \"{}\" is not known; did you mean \"{}\"? (keys are case-sensitive)",
      *typo, meant));
}

// KEDA hands the HPA the target as a quantity in thousandths: below 0.001 it is 0.
constexpr double kMinThreshold = 0.001;
constexpr std::string_view kThresholdRule =
    "must be a decimal number >= 0.001: KEDA rounds targets to 3 decimals, so a smaller one "
    "becomes 0";

absl::Status Invalid(std::string_view key, std::string_view value, std::string_view rule) {
  // Quote at most a screenful of a bad value.
  constexpr size_t kShown = 128;
  const std::string_view ellipsis = value.size() > kShown ? "..." : "";
  return absl::InvalidArgumentError(fmt::format("trigger metadata {}=\"{}{}\": {}", key,
                                                value.substr(0, kShown), ellipsis, rule));
}

absl::Status ReadName(const Metadata& metadata, Key key, std::string& out) {
  const std::string* value = Find(metadata, key);
  if (value == nullptr) return absl::OkStatus();
  if (!dynamo::IsSubjectSafeName(*value)) {
    return Invalid(Name(key), *value, "must be 1-128 characters of [A-Za-z0-9_-]");
  }
  out = *value;
  return absl::OkStatus();
}

}  // namespace

std::span<const std::string_view> KnownMetadataKeys() { return kKnownKeys; }

std::string_view MetricTypeName(MetricType type) {
  return type == MetricType::kValue ? "Value" : "AverageValue";
}

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
  if (absl::Status status = CheckKeyCase(metadata); !status.ok()) return status;
  TriggerConfig config;
  config.target = defaults.target;
  for (auto [key, out] : {std::pair{Key::kNamespace, &config.target.dynamo_namespace},
                          std::pair{Key::kComponent, &config.target.component},
                          std::pair{Key::kEndpoint, &config.target.endpoint}}) {
    if (absl::Status status = ReadName(metadata, key, *out); !status.ok()) return status;
  }

  if (const std::string* name = Find(metadata, Key::kMetricName)) {
    const std::optional<fleet::FleetMetric> metric = fleet::MetricNamed(*name);
    if (!metric) {
      return Invalid(Name(Key::kMetricName), *name,
                     "must be one of llm_load_avg, llm_kv_blocks_usage_percent, "
                     "llm_request_slots_usage_percent, llm_requests_waiting, "
                     "llm_prefill_tokens_queued");
    }
    config.metric = *metric;
  }

  if (const std::string* text = Find(metadata, Key::kThreshold)) {
    const std::optional<double> threshold = ParseDecimal(*text);
    if (!threshold || *threshold < kMinThreshold) {
      return Invalid(Name(Key::kThreshold), *text, kThresholdRule);
    }
    config.threshold = *threshold;
  } else if (config.metric == fleet::FleetMetric::kRequestsWaiting ||
             config.metric == fleet::FleetMetric::kPrefillTokensQueued) {
    return absl::InvalidArgumentError(fmt::format(
        "trigger metadata threshold is required for metricName {} ({} per worker unit); it {}",
        fleet::MetricName(config.metric),
        config.metric == fleet::FleetMetric::kRequestsWaiting ? "queued requests"
                                                              : "queued prefill tokens",
        kThresholdRule));
  } else if (config.metric == fleet::FleetMetric::kLoadAvg) {
    config.threshold = defaults.threshold;
  } else {
    config.threshold = 100 * defaults.threshold;
  }

  if (const std::string* text = Find(metadata, Key::kActivationThreshold)) {
    const std::optional<double> activation = ParseDecimal(*text);
    if (!activation || *activation < 0) {
      return Invalid(Name(Key::kActivationThreshold), *text, "must be a decimal number >= 0");
    }
    config.activation_threshold = *activation;
  }

  if (const std::string* type = Find(metadata, Key::kMetricType)) {
    if (*type == MetricTypeName(MetricType::kAverageValue)) {
      config.metric_type = MetricType::kAverageValue;
    } else if (*type == MetricTypeName(MetricType::kValue)) {
      config.metric_type = MetricType::kValue;
    } else {
      return Invalid(Name(Key::kMetricType), *type, "must be AverageValue or Value");
    }
  }

  if (const std::string* source = Find(metadata, Key::kSource)) {
    // Indexed by SourceChoice, and by the SourceView of one source alone.
    static constexpr std::string_view kNames[] = {"auto", "stats", "events", "metrics"};
    static constexpr fleet::SourceView kViews[] = {
        fleet::SourceView::kAll, fleet::SourceView::kStats, fleet::SourceView::kEvents,
        fleet::SourceView::kMetrics};
    const auto* named = std::find(std::begin(kNames), std::end(kNames), *source);
    if (named == std::end(kNames)) {
      return Invalid(Name(Key::kSource), *source, "must be auto, stats, events or metrics");
    }
    const std::string_view running = kNames[static_cast<size_t>(defaults.source)];
    if (*source != "auto" && defaults.source != SourceChoice::kAuto && *source != running) {
      return Invalid(
          Name(Key::kSource), *source,
          fmt::format("must be auto or {}: this scaler runs --source {}", running, running));
    }
    if (*source == "metrics" && defaults.source == SourceChoice::kAuto &&
        !defaults.metrics_source) {
      return Invalid(Name(Key::kSource), *source,
                     "the worker pods' /metrics are read with --discovery-backend kubernetes "
                     "only; must be auto, stats or events");
    }
    if (defaults.source == SourceChoice::kAuto) {
      config.source = kViews[static_cast<size_t>(named - std::begin(kNames))];
    }
  }

  if (const std::string* text = Find(metadata, Key::kKvTotalBlocks)) {
    // Digits only, no sign or exponent: a block count. 2^53 keeps it exact in a double.
    constexpr uint64_t kMaxBlocks = uint64_t{1} << 53;
    uint64_t blocks = 0;
    const bool digits =
        !text->empty() && text->size() <= 16 &&
        std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) blocks = std::stoull(*text);
    if (!digits || blocks == 0 || blocks > kMaxBlocks) {
      return Invalid(Name(Key::kKvTotalBlocks), *text,
                     "must be an integer number of KV blocks per worker unit, 1 to 2^53");
    }
    config.kv_total_blocks = blocks;
  }
  return config;
}

}  // namespace mk::keda
