// A worker unit as the fleet model sees it at one moment: its identity, its state
// (design.md, "Membership, freshness and failure") and, while it reports, its
// newest readable report. Plain data, made by WorkerTable, read by the fleet
// figures, the service and the observability pages.
#ifndef METRICS_KEDA_FLEET_UNIT_H_
#define METRICS_KEDA_FLEET_UNIT_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "dynamo/drop_reason.h"
#include "dynamo/worker_load.h"

namespace mk::fleet {

enum class UnitState {
  kReporting,   // known figures: a readable record within its freshness rule, or idle
  kUnreadable,  // heard within the staleness bound, but every report since was dropped
  kPending,     // present (registered), nothing heard yet: figures unknown (settling)
};
std::string_view UnitStateName(UnitState state);  // "reporting", "unreadable", "pending"

// Where a reporting unit's figures come from.
enum class FigureSource {
  kNone,     // not reporting
  kStats,    // a $SRV.STATS reply
  kEvents,   // event-plane records (ActiveLoad, ForwardPassMetrics, JSON events)
  kMetrics,  // the worker pod's own /metrics page
  kAssumed,  // nothing heard: registered while subscribed, or settled; taken as idle
};
// "-", "stats", "events", "metrics", "assumed_idle"
std::string_view FigureSourceName(FigureSource source);

// Which sources' records a picture of the fleet is made of: every source (what a
// trigger reads by default), or one alone (trigger metadata `source` under --source
// auto).
enum class SourceView { kAll, kStats, kEvents, kMetrics };
inline constexpr size_t kSourceViewCount = 4;
std::string_view SourceViewName(SourceView view);  // "auto", "stats", "events", "metrics"

struct Unit {
  dynamo::WorkerKey key;
  UnitState state = UnitState::kReporting;
  std::optional<dynamo::WorkerLoad> report;       // set exactly when reporting
  std::optional<dynamo::DropReason> drop_reason;  // unreadable: why its reports are dropped
  // How many units this one stands for: more than 1 only for the unreadable
  // rank-less unit of a worker whose ranks reply without a rank (WorkerTable).
  size_t units = 1;
  FigureSource source = FigureSource::kNone;
  // When the record its figures come from was heard (reporting), or when it was last
  // heard (unreadable); registration time for pending and assumed idle units.
  std::chrono::steady_clock::time_point updated_at{};

  // A reporting unit of `report`, as tests and benchmarks build fleets.
  static Unit Reporting(const dynamo::WorkerLoad& report) {
    return Unit{report.key, UnitState::kReporting, report, std::nullopt,
                1,          FigureSource::kStats,  {}};
  }
  friend bool operator==(const Unit&, const Unit&) = default;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_UNIT_H_
