#include "autoscaling/scaled_object.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/decimal.h"

namespace mk::autoscaling {
namespace {

// Reads one document's fields, remembering where it is for error messages.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  absl::Status Error(const std::string& field, const std::string& rule) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", field, " ", rule));
  }

  // An integer field in [low, high]; when absent `fallback`, or an error without one
  // (a field the CRD requires).
  absl::StatusOr<int32_t> Int(const YAML::Node& node, const std::string& field,
                              std::optional<int32_t> fallback, int64_t low, int64_t high) const {
    if (!node || node.IsNull()) {
      if (fallback) return *fallback;
      return Error(field, "is required");
    }
    const std::optional<double> value =
        node.IsScalar() ? ParseDecimal(node.Scalar()) : std::nullopt;
    if (!value || *value < static_cast<double>(low) || *value > static_cast<double>(high) ||
        *value != std::floor(*value)) {
      return Error(field, absl::StrCat("must be an integer in [", low, ", ", high, "]"));
    }
    return static_cast<int32_t>(*value);
  }

  absl::StatusOr<std::optional<int32_t>> OptionalInt(const YAML::Node& node,
                                                     const std::string& field, int64_t low,
                                                     int64_t high) const {
    if (!node || node.IsNull()) return std::optional<int32_t>();
    absl::StatusOr<int32_t> value = Int(node, field, 0, low, high);
    if (!value.ok()) return value.status();
    return std::optional<int32_t>(*value);
  }

  absl::StatusOr<double> Decimal(const YAML::Node& node, const std::string& field,
                                 std::optional<double> fallback) const {
    if (!node || node.IsNull()) {
      if (fallback) return *fallback;
      return Error(field, "is required");
    }
    const std::optional<double> value =
        node.IsScalar() ? ParseDecimal(node.Scalar()) : std::nullopt;
    if (!value || *value < 0) return Error(field, "must be a decimal >= 0");
    return *value;
  }

  // One of the names `choices` lists, as its value; when absent `absent`, or an error
  // without one. `note` follows the list in the error.
  template <typename T>
  absl::StatusOr<T> OneOf(const YAML::Node& node, const std::string& field,
                          std::initializer_list<std::pair<std::string_view, T>> choices,
                          std::optional<T> absent, std::string_view note = "") const {
    if (!node || node.IsNull()) {
      if (absent) return *absent;
      return Error(field, "is required");
    }
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    std::string names;
    size_t at = 0;
    for (const auto& [name, value] : choices) {
      if (text == name) return value;
      if (at > 0) names += at + 1 == choices.size() ? " or " : ", ";
      names += name;
      ++at;
    }
    return Error(field, absl::StrCat("must be ", names, std::string(note)));
  }

  absl::StatusOr<ScalingRules> Rules(const YAML::Node& node, const std::string& field) const {
    ScalingRules rules;
    if (!node || node.IsNull()) return rules;
    if (!node.IsMap()) return Error(field, "must be a map");
    const std::string prefix(field);
    absl::StatusOr<std::optional<int32_t>> window = OptionalInt(
        node["stabilizationWindowSeconds"], prefix + ".stabilizationWindowSeconds", 0, 3600);
    if (!window.ok()) return window.status();
    rules.stabilization_window_seconds = *window;
    if (const YAML::Node select = node["selectPolicy"]; select && !select.IsNull()) {
      absl::StatusOr<SelectPolicy> policy =
          OneOf<SelectPolicy>(select, prefix + ".selectPolicy",
                              {{"Max", SelectPolicy::kMax},
                               {"Min", SelectPolicy::kMin},
                               {"Disabled", SelectPolicy::kDisabled}},
                              SelectPolicy::kMax);
      if (!policy.ok()) return policy.status();
      rules.select_policy = *policy;
    }
    if (const YAML::Node tolerance = node["tolerance"]; tolerance && !tolerance.IsNull()) {
      absl::StatusOr<double> value = Decimal(tolerance, prefix + ".tolerance", std::nullopt);
      if (!value.ok()) return value.status();
      rules.tolerance = *value;
    }
    if (const YAML::Node policies = node["policies"]; policies && !policies.IsNull()) {
      if (!policies.IsSequence() || policies.size() == 0) {
        return Error(prefix + ".policies", "must be a non-empty list");
      }
      std::vector<ScalingPolicy> list;
      for (size_t i = 0; i < policies.size(); ++i) {
        const std::string at = absl::StrCat(prefix, ".policies[", i, "]");
        const YAML::Node policy = policies[i];
        if (!policy.IsMap()) return Error(at, "must be a map");
        ScalingPolicy parsed;
        absl::StatusOr<PolicyType> type = OneOf<PolicyType>(
            policy["type"], at + ".type",
            {{"Pods", PolicyType::kPods}, {"Percent", PolicyType::kPercent}}, std::nullopt);
        if (!type.ok()) return type.status();
        absl::StatusOr<int32_t> value = Int(policy["value"], at + ".value", std::nullopt, 1,
                                            std::numeric_limits<int32_t>::max());
        if (!value.ok()) return value.status();
        absl::StatusOr<int32_t> period =
            Int(policy["periodSeconds"], at + ".periodSeconds", std::nullopt, 1, 1800);
        if (!period.ok()) return period.status();
        parsed.type = *type;
        parsed.value = *value;
        parsed.period_seconds = *period;
        list.push_back(parsed);
      }
      rules.policies = std::move(list);
    }
    return rules;
  }

 private:
  std::string where_;
};

absl::StatusOr<TriggerSpec> ParseTrigger(const Reader& reader, const YAML::Node& node, size_t index,
                                         const keda::TriggerDefaults& defaults) {
  const std::string at = absl::StrCat("spec.triggers[", index, "]");
  if (!node.IsMap()) return reader.Error(at, "must be a map");
  TriggerSpec trigger;
  trigger.type = node["type"] && node["type"].IsScalar() ? node["type"].Scalar() : "";
  if (trigger.type.empty()) return reader.Error(at + ".type", "is required");
  trigger.name = node["name"] && node["name"].IsScalar() ? node["name"].Scalar() : "";
  absl::StatusOr<keda::MetricType> type = reader.OneOf<keda::MetricType>(
      node["metricType"], at + ".metricType",
      {{keda::MetricTypeName(keda::MetricType::kAverageValue), keda::MetricType::kAverageValue},
       {keda::MetricTypeName(keda::MetricType::kValue), keda::MetricType::kValue}},
      keda::MetricType::kAverageValue, " (Utilization is for CPU and memory)");
  if (!type.ok()) return type.status();
  trigger.metric_type = *type;
  const YAML::Node metadata = node["metadata"];
  if (metadata && !metadata.IsNull() && !metadata.IsMap()) {
    return reader.Error(at + ".metadata", "must be a map of strings");
  }
  if (trigger.type == "external" || trigger.type == "external-push") {
    keda::Metadata map;
    if (metadata) {
      for (const auto& entry : metadata) {
        if (!entry.second.IsScalar()) {
          return reader.Error(absl::StrCat(at, ".metadata.", entry.first.Scalar()),
                              "must be a string");
        }
        map[entry.first.Scalar()] = entry.second.Scalar();
      }
    }
    absl::StatusOr<keda::TriggerConfig> config = keda::ParseTriggerMetadata(map, defaults);
    if (!config.ok()) return reader.Error(at + ".metadata", std::string(config.status().message()));
    trigger.scaler = *config;
    return trigger;
  }
  if (trigger.name.empty()) {
    return reader.Error(at + ".name",
                        absl::StrCat("is required for a ", trigger.type,
                                     " trigger: replay reads its value from the trace column of "
                                     "that name"));
  }
  const YAML::Node none;
  absl::StatusOr<double> threshold = reader.Decimal(metadata ? metadata["threshold"] : none,
                                                    at + ".metadata.threshold", std::nullopt);
  if (!threshold.ok()) return threshold.status();
  if (*threshold <= 0) return reader.Error(at + ".metadata.threshold", "must be > 0");
  absl::StatusOr<double> activation = reader.Decimal(
      metadata ? metadata["activationThreshold"] : none, at + ".metadata.activationThreshold", 0.0);
  if (!activation.ok()) return activation.status();
  trigger.threshold = *threshold;
  trigger.activation_threshold = *activation;
  return trigger;
}

absl::StatusOr<ScaledObjectSpec> ParseOne(const YAML::Node& document, size_t index,
                                          const keda::TriggerDefaults& defaults) {
  ScaledObjectSpec object;
  const YAML::Node metadata = document["metadata"];
  object.name = metadata && metadata["name"] && metadata["name"].IsScalar()
                    ? metadata["name"].Scalar()
                    : absl::StrCat("scaledobject-", index + 1);
  const Reader reader(absl::StrCat("ScaledObject ", object.name));
  const YAML::Node spec = document["spec"];
  if (!spec || !spec.IsMap()) return reader.Error("spec", "is required");
  constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  KedaSpec& keda = object.keda;
  absl::StatusOr<int32_t> value =
      reader.Int(spec["minReplicaCount"], "spec.minReplicaCount", 0, 0, kMaxInt32);
  if (!value.ok()) return value.status();
  keda.min_replica_count = *value;
  value = reader.Int(spec["maxReplicaCount"], "spec.maxReplicaCount", 100, 1, kMaxInt32);
  if (!value.ok()) return value.status();
  keda.max_replica_count = *value;
  if (keda.min_replica_count > keda.max_replica_count) {
    return reader.Error("spec.minReplicaCount", "must not exceed spec.maxReplicaCount");
  }
  absl::StatusOr<std::optional<int32_t>> idle =
      reader.OptionalInt(spec["idleReplicaCount"], "spec.idleReplicaCount", 0, kMaxInt32);
  if (!idle.ok()) return idle.status();
  keda.idle_replica_count = *idle;
  if (keda.idle_replica_count && *keda.idle_replica_count >= keda.min_replica_count) {
    return reader.Error("spec.idleReplicaCount", "must be less than spec.minReplicaCount");
  }
  value = reader.Int(spec["pollingInterval"], "spec.pollingInterval", 30, 1, kMaxInt32);
  if (!value.ok()) return value.status();
  keda.polling_interval_seconds = *value;
  value = reader.Int(spec["cooldownPeriod"], "spec.cooldownPeriod", 300, 0, kMaxInt32);
  if (!value.ok()) return value.status();
  keda.cooldown_period_seconds = *value;
  value = reader.Int(spec["initialCooldownPeriod"], "spec.initialCooldownPeriod", 0, 0, kMaxInt32);
  if (!value.ok()) return value.status();
  keda.initial_cooldown_period_seconds = *value;

  if (const YAML::Node fallback = spec["fallback"]; fallback && !fallback.IsNull()) {
    Fallback parsed;
    // KEDA's CRD requires both counts: a fallback without them is refused by the API.
    value = reader.Int(fallback["failureThreshold"], "spec.fallback.failureThreshold", std::nullopt,
                       0, kMaxInt32);
    if (!value.ok()) return value.status();
    parsed.failure_threshold = *value;
    value = reader.Int(fallback["replicas"], "spec.fallback.replicas", std::nullopt, 0, kMaxInt32);
    if (!value.ok()) return value.status();
    parsed.replicas = *value;
    absl::StatusOr<FallbackBehavior> behavior = reader.OneOf<FallbackBehavior>(
        fallback["behavior"], "spec.fallback.behavior",
        {{"static", FallbackBehavior::kStatic},
         {"currentReplicas", FallbackBehavior::kCurrentReplicas},
         {"currentReplicasIfHigher", FallbackBehavior::kCurrentReplicasIfHigher},
         {"currentReplicasIfLower", FallbackBehavior::kCurrentReplicasIfLower}},
        FallbackBehavior::kStatic);
    if (!behavior.ok()) return behavior.status();
    parsed.behavior = *behavior;
    keda.fallback = parsed;
  }

  if (const YAML::Node advanced = spec["advanced"]; advanced && advanced.IsMap()) {
    if (advanced["scalingModifiers"] && !advanced["scalingModifiers"].IsNull()) {
      return reader.Error("spec.advanced.scalingModifiers", "is not modelled by replay");
    }
    const YAML::Node config = advanced["horizontalPodAutoscalerConfig"];
    const YAML::Node behavior = config && config.IsMap() ? config["behavior"] : YAML::Node();
    if (behavior && !behavior.IsNull()) {
      absl::StatusOr<ScalingRules> up = reader.Rules(
          behavior["scaleUp"], "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp");
      if (!up.ok()) return up.status();
      absl::StatusOr<ScalingRules> down = reader.Rules(
          behavior["scaleDown"], "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown");
      if (!down.ok()) return down.status();
      object.behavior = Behavior{*up, *down};
    }
  }

  const YAML::Node triggers = spec["triggers"];
  if (!triggers || !triggers.IsSequence() || triggers.size() == 0) {
    return reader.Error("spec.triggers", "must list at least one trigger");
  }
  for (size_t i = 0; i < triggers.size(); ++i) {
    absl::StatusOr<TriggerSpec> trigger = ParseTrigger(reader, triggers[i], i, defaults);
    if (!trigger.ok()) return trigger.status();
    object.triggers.push_back(*std::move(trigger));
  }
  return object;
}

}  // namespace

TriggerTarget TriggerSpec::Target() const {
  return TriggerTarget{.type = metric_type, .target = scaler ? scaler->threshold : threshold};
}

absl::StatusOr<std::vector<ScaledObjectSpec>> ParseScaledObjects(
    std::string_view yaml, const keda::TriggerDefaults& defaults) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid YAML: ", e.what()));
  }
  std::vector<ScaledObjectSpec> objects;
  for (size_t i = 0; i < documents.size(); ++i) {
    const YAML::Node& document = documents[i];
    if (!document.IsMap()) continue;
    const YAML::Node kind = document["kind"];
    if (!kind || !kind.IsScalar() || kind.Scalar() != "ScaledObject") continue;
    absl::StatusOr<ScaledObjectSpec> object = ParseOne(document, i, defaults);
    if (!object.ok()) return object.status();
    objects.push_back(*std::move(object));
  }
  if (objects.empty())
    return absl::InvalidArgumentError("no ScaledObject (kind: ScaledObject) found");
  return objects;
}

}  // namespace mk::autoscaling
