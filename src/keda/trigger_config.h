// The one place where a KEDA trigger's metadata becomes a typed, validated
// TriggerConfig. Every RPC of a trigger goes through ParseTriggerMetadata; a bad
// value is an INVALID_ARGUMENT naming the key, the value and the rule. Keys this
// scaler does not know (KEDA's scalerAddress, enableTLS, ...) are ignored, except
// one that differs from a known key only in letter case ("metricname"): that is a
// typo, refused with INVALID_ARGUMENT naming the key meant. Numbers are decimal
// (mk::ParseDecimal); a threshold is >= 0.001, as KEDA rounds targets to 3 decimals.
// Pure; thread-safe.
#ifndef METRICS_KEDA_KEDA_TRIGGER_CONFIG_H_
#define METRICS_KEDA_KEDA_TRIGGER_CONFIG_H_

#include <google/protobuf/map.h>

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fleet/fleet_figures.h"
#include "fleet/target.h"

namespace mk::keda {

enum class MetricType { kAverageValue, kValue };
// "AverageValue" or "Value", as metadata `metricType` names it.
std::string_view MetricTypeName(MetricType type);

// The process's --source, which a trigger's `source` must agree with.
enum class SourceChoice { kAuto, kStats, kEvents, kMetrics };

// What the command line sets for triggers that do not say otherwise.
struct TriggerDefaults {
  fleet::Target target;
  double threshold = 0.7;  // the load threshold; percent metrics use 100x
  // Keys and values together; more is RESOURCE_EXHAUSTED before any parsing.
  size_t max_metadata_bytes = 16 * 1024;
  SourceChoice source = SourceChoice::kAuto;
  // Under kAuto: whether the workers' /metrics pages are among the sources
  // (Kubernetes discovery), so that a trigger may read them alone.
  bool metrics_source = false;
};

struct TriggerConfig {
  fleet::Target target;
  fleet::FleetMetric metric = fleet::FleetMetric::kLoadAvg;
  double threshold = 0.7;
  double activation_threshold = 0;
  MetricType metric_type = MetricType::kAverageValue;
  // kvTotalBlocks: KV capacity per unit where neither discovery nor stats give one.
  std::optional<uint64_t> kv_total_blocks;
  // `source`: the records the trigger reads. One source alone only under --source
  // auto; when the process runs one source, every view is that one (kAll).
  fleet::SourceView source = fleet::SourceView::kAll;
};

using Metadata = google::protobuf::Map<std::string, std::string>;

// Every metadata key ParseTriggerMetadata reads ("namespace", ..., "kvTotalBlocks").
std::span<const std::string_view> KnownMetadataKeys();

absl::StatusOr<TriggerConfig> ParseTriggerMetadata(const Metadata& metadata,
                                                   const TriggerDefaults& defaults);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_TRIGGER_CONFIG_H_
