// libFuzzer target: arbitrary bytes as a KEDA trigger's metadata, parsed by
// mk::keda::ParseTriggerMetadata as every RPC does.
//
// Input format: entries separated by '\n'; in each, the first '=' separates the key
// from the value (no '=': the whole entry is a key with an empty value). Values may
// hold any other byte, NUL included (protobuf strings may). A later entry of the same
// key replaces an earlier one. E.g. "metricName=llm_load_avg\nthreshold=0.7".
//
// Invariants: a rejection is INVALID_ARGUMENT with a short message; an accepted
// config has a finite threshold >= 0.001 (KEDA rounds targets to 3 decimals), a finite
// activation threshold >= 0, both written in decimal notation, subject-safe target
// names, no key that differs from a known key only in letter case, and takes each
// key's value (or the default) as documented.
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "dynamo/service_name.h"
#include "fleet/fleet_figures.h"
#include "fleet/target.h"
#include "fuzz_check.h"
#include "keda/trigger_config.h"

namespace {

using mk::keda::Metadata;

constexpr double kDefaultThreshold = 0.7;

Metadata MetadataOf(std::string_view input) {
  Metadata metadata;
  while (!input.empty()) {
    const size_t newline = input.find('\n');
    const std::string_view entry = input.substr(0, newline);
    input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
    const size_t equals = entry.find('=');
    const std::string key(entry.substr(0, equals));
    metadata[key] =
        equals == std::string_view::npos ? std::string() : std::string(entry.substr(equals + 1));
  }
  return metadata;
}

const std::string* Find(const Metadata& metadata, const std::string& key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

void CheckName(const Metadata& metadata, const char* key, const std::string& name,
               const std::string& fallback) {
  MK_FUZZ_CHECK(mk::dynamo::IsSubjectSafeName(name), "%s \"%s\" accepted", key, name.c_str());
  const std::string* given = Find(metadata, key);
  MK_FUZZ_CHECK(name == (given ? *given : fallback), "%s is \"%s\"", key, name.c_str());
}

// Only what decimal notation is made of: digits, sign, point, exponent.
bool IsDecimalText(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789+-.eE") == std::string::npos;
}

bool EqualIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Metadata metadata = MetadataOf(std::string_view(reinterpret_cast<const char*>(data), size));
  mk::keda::TriggerDefaults defaults;
  defaults.target = mk::fleet::Target{"dynamo", "llm-worker", "kv-router"};
  defaults.threshold = kDefaultThreshold;

  const absl::StatusOr<mk::keda::TriggerConfig> parsed =
      mk::keda::ParseTriggerMetadata(metadata, defaults);
  if (!parsed.ok()) {
    MK_FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument, "%s",
                  parsed.status().ToString().c_str());
    // A key, at most 128 bytes of the value, and the rule.
    MK_FUZZ_CHECK(!parsed.status().message().empty() && parsed.status().message().size() <= 512,
                  "message of %zu bytes", parsed.status().message().size());
    return 0;
  }
  const mk::keda::TriggerConfig& config = *parsed;
  MK_FUZZ_CHECK(std::isfinite(config.threshold) && config.threshold >= 0.001, "threshold %.17g",
                config.threshold);
  MK_FUZZ_CHECK(std::isfinite(config.activation_threshold) && config.activation_threshold >= 0,
                "activationThreshold %.17g", config.activation_threshold);
  for (const char* key : {"threshold", "activationThreshold"}) {
    const std::string* text = Find(metadata, key);
    MK_FUZZ_CHECK(text == nullptr || IsDecimalText(*text), "%s \"%s\" accepted", key,
                  text->c_str());
  }
  for (const auto& [key, value] : metadata) {
    for (const std::string_view known : mk::keda::KnownMetadataKeys()) {
      MK_FUZZ_CHECK(key == known || !EqualIgnoringCase(key, known), "key \"%s\" accepted",
                    key.c_str());
    }
  }
  CheckName(metadata, "namespace", config.target.dynamo_namespace,
            defaults.target.dynamo_namespace);
  CheckName(metadata, "component", config.target.component, defaults.target.component);
  CheckName(metadata, "endpoint", config.target.endpoint, defaults.target.endpoint);

  const std::string* metric_name = Find(metadata, "metricName");
  MK_FUZZ_CHECK(mk::fleet::MetricName(config.metric) ==
                    (metric_name ? std::string_view(*metric_name) : "llm_load_avg"),
                "metric %s", mk::fleet::MetricName(config.metric).data());
  if (Find(metadata, "threshold") == nullptr) {
    MK_FUZZ_CHECK(config.metric != mk::fleet::FleetMetric::kRequestsWaiting,
                  "llm_requests_waiting accepted without a threshold");
    const double expected = config.metric == mk::fleet::FleetMetric::kLoadAvg
                                ? kDefaultThreshold
                                : 100 * kDefaultThreshold;
    MK_FUZZ_CHECK(config.threshold == expected, "default threshold %.17g", config.threshold);
  }
  if (Find(metadata, "activationThreshold") == nullptr) {
    MK_FUZZ_CHECK(config.activation_threshold == 0, "default activation %.17g",
                  config.activation_threshold);
  }
  const std::string* metric_type = Find(metadata, "metricType");
  const bool value_type = metric_type != nullptr && *metric_type == "Value";
  MK_FUZZ_CHECK(value_type == (config.metric_type == mk::keda::MetricType::kValue),
                "metricType mismatch");
  return 0;
}
