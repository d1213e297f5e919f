// /status, /status/history and /: what the scaler sees and why it answered what it
// did. One model gathered from the live objects, rendered as JSON (for tools) or as
// HTML tables (for a person with a browser), and the last hour of each trigger's
// answers (keda::FigureHistory), as JSON and as the page's charts. Called by the
// HTTP server's worker threads; thread-safe; reads only.
#ifndef METRICS_KEDA_OBSERVABILITY_STATUS_PAGE_H_
#define METRICS_KEDA_OBSERVABILITY_STATUS_PAGE_H_

#include <optional>
#include <string>
#include <vector>

#include "fleet/collector.h"
#include "keda/figure_history.h"
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
  bool nats_used = false;  // whether a source reads NATS
  bool nats_connected = false;
  uint64_t nats_reconnects = 0;
  std::vector<SourceHealth> sources;
  size_t open_streams = 0;
  std::vector<TargetStatus> targets;
  std::vector<keda::TriggerRecord> triggers;
};

StatusModel GatherStatus(const ScalerState& state, const keda::TriggerLog& triggers);
std::string StatusJson(const StatusModel& model);
// The page: the model's tables and a chart per trigger of `history`.
std::string StatusHtml(const StatusModel& model, const keda::FigureHistoryView& history);
// /status/history: per trigger, columns of equal length (README, "/status").
std::string HistoryJson(const keda::FigureHistoryView& history);

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_STATUS_PAGE_H_
