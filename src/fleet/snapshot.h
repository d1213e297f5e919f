// One immutable picture of a target's fleet, as a scrape round left it. Shared
// read-only between the collector, the gRPC service and observers.
#ifndef METRICS_KEDA_FLEET_SNAPSHOT_H_
#define METRICS_KEDA_FLEET_SNAPSHOT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dynamo/worker_load.h"
#include "fleet/fleet_figures.h"
#include "fleet/target.h"

namespace mk::fleet {

struct Snapshot {
  Target target;
  std::chrono::steady_clock::time_point taken;  // when the round that made it ended
  uint64_t round = 0;
  std::vector<dynamo::WorkerLoad> units;  // ordered by key
  FleetFigures figures;

  std::chrono::steady_clock::duration AgeAt(std::chrono::steady_clock::time_point now) const {
    return now - taken;
  }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_SNAPSHOT_H_
