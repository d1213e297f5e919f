// /status and /: what the scaler sees and why it answered what it did. One
// model gathered from the live objects, rendered as JSON (for tools) or as an
// HTML table (for a person with a browser). Thread-safe; reads only.
#ifndef METRICS_KEDA_OBSERVABILITY_STATUS_PAGE_H_
#define METRICS_KEDA_OBSERVABILITY_STATUS_PAGE_H_

#include <optional>
#include <string>
#include <vector>

#include "fleet/collector.h"
#include "keda/trigger_log.h"
#include "observability/exposition.h"

namespace mk::observability {

struct TargetStatus {
  fleet::Target target;
  std::optional<double> snapshot_age_seconds;  // none before the first good round
  std::string unavailable;                     // why no snapshot may be served; empty when one may
  fleet::SnapshotPtr snapshot;                 // the servable one, if any
  fleet::CollectorStats stats;
};

struct StatusModel {
  std::string version;
  bool nats_connected = false;
  uint64_t nats_reconnects = 0;
  std::vector<SourceHealth> sources;
  size_t open_streams = 0;
  std::vector<TargetStatus> targets;
  std::vector<keda::TriggerRecord> triggers;
};

StatusModel GatherStatus(const ScalerState& state, const keda::TriggerLog& triggers);
std::string StatusJson(const StatusModel& model);
std::string StatusHtml(const StatusModel& model);

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_STATUS_PAGE_H_
