// One immutable picture of a target's fleet, as a scrape round left it. Shared
// read-only between the collector, the gRPC service and observers. Versions are
// strictly increasing per target, so a reader that has seen one snapshot can
// tell an older one from a newer one, whatever order they reach it in.
#ifndef METRICS_KEDA_FLEET_SNAPSHOT_H_
#define METRICS_KEDA_FLEET_SNAPSHOT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "fleet/fleet_figures.h"
#include "fleet/target.h"
#include "fleet/unit.h"

namespace mk::fleet {

struct Snapshot {
  Target target;
  std::chrono::steady_clock::time_point taken;  // when the round that made it ended
  uint64_t version = 0;     // 1 for the target's first snapshot, then one more each
  uint64_t round = 0;       // the scrape round that made it
  std::vector<Unit> units;  // every present unit, ordered by key
  FleetFigures figures;     // of every source's records
  // Of one source's records alone, for the views triggers asked for
  // (Collector::WantSourceView); none while that source is not servable: no good
  // scrape, or no event source connection, within the staleness bound.
  std::optional<FleetFigures> stats_figures;
  std::optional<FleetFigures> events_figures;

  // The figures of `view`; null when this snapshot has none for it.
  const FleetFigures* FiguresFor(SourceView view) const {
    switch (view) {
      case SourceView::kStats:
        return stats_figures ? &*stats_figures : nullptr;
      case SourceView::kEvents:
        return events_figures ? &*events_figures : nullptr;
      case SourceView::kAll:
        break;
    }
    return &figures;
  }

  std::chrono::steady_clock::duration AgeAt(std::chrono::steady_clock::time_point now) const {
    return now - taken;
  }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_SNAPSHOT_H_
