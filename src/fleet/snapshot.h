// One immutable picture of a target's fleet, as a scrape round left it. Shared
// read-only between the collector, the gRPC service and observers. Versions are
// strictly increasing per target, so a reader that has seen one snapshot can
// tell an older one from a newer one, whatever order they reach it in.
#ifndef METRICS_KEDA_FLEET_SNAPSHOT_H_
#define METRICS_KEDA_FLEET_SNAPSHOT_H_

#include <array>
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
  // Of one source's records alone (index: SourceView), for the views triggers asked
  // for (Collector::WantSourceView); none while that source is not servable: nothing
  // heard from it, or no connection to it, within the staleness bound.
  std::array<std::optional<FleetFigures>, kSourceViewCount> source_figures{};

  // The figures of `view`; null when this snapshot has none for it.
  const FleetFigures* FiguresFor(SourceView view) const {
    if (view == SourceView::kAll) return &figures;
    const std::optional<FleetFigures>& of_source = source_figures[static_cast<size_t>(view)];
    return of_source ? &*of_source : nullptr;
  }

  std::chrono::steady_clock::duration AgeAt(std::chrono::steady_clock::time_point now) const {
    return now - taken;
  }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_SNAPSHOT_H_
