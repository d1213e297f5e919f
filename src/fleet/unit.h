// A worker unit as the fleet model sees it at one moment: its identity, its state
// (design.md, "Membership, freshness and failure") and, while it reports, its
// newest readable report. Plain data, made by WorkerTable, read by the fleet
// figures, the service and the observability pages.
#ifndef METRICS_KEDA_FLEET_UNIT_H_
#define METRICS_KEDA_FLEET_UNIT_H_

#include <optional>
#include <string_view>

#include "dynamo/drop_reason.h"
#include "dynamo/worker_load.h"

namespace mk::fleet {

enum class UnitState {
  kReporting,   // a readable report within the staleness bound
  kUnreadable,  // heard within the staleness bound, but every report since was dropped
};
std::string_view UnitStateName(UnitState state);  // "reporting", "unreadable"

struct Unit {
  dynamo::WorkerKey key;
  UnitState state = UnitState::kReporting;
  std::optional<dynamo::WorkerLoad> report;       // set exactly when reporting
  std::optional<dynamo::DropReason> drop_reason;  // unreadable: why its reports are dropped
  // How many units this one stands for: more than 1 only for the unreadable
  // rank-less unit of a worker whose ranks reply without a rank (WorkerTable).
  size_t units = 1;

  // A reporting unit of `report`, as tests and benchmarks build fleets.
  static Unit Reporting(const dynamo::WorkerLoad& report) {
    return Unit{report.key, UnitState::kReporting, report, std::nullopt, 1};
  }
  friend bool operator==(const Unit&, const Unit&) = default;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_UNIT_H_
