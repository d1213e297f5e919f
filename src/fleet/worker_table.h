// The fleet's membership over time: the last report of every worker unit and when
// it was heard. A unit stays, with its last figures, until it has been silent for
// longer than the staleness bound. Not thread-safe; owned by one Collector.
#ifndef METRICS_KEDA_FLEET_WORKER_TABLE_H_
#define METRICS_KEDA_FLEET_WORKER_TABLE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "dynamo/worker_load.h"

namespace mk::fleet {

class WorkerTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Stores the unit's latest report; true when the unit was not present before.
  bool Record(const dynamo::WorkerLoad& unit, TimePoint heard_at);

  // Removes the units last heard before `oldest_kept`; returns their keys.
  std::vector<dynamo::WorkerKey> EvictSilentSince(TimePoint oldest_kept);

  // Every unit, ordered by key.
  std::vector<dynamo::WorkerLoad> Units() const;

  // The leases of the units present: the workers a scrape expects to hear from.
  std::set<uint64_t> Leases() const;

  size_t size() const { return units_.size(); }
  bool Contains(const dynamo::WorkerKey& key) const { return units_.contains(key); }

 private:
  struct Entry {
    dynamo::WorkerLoad load;
    TimePoint heard_at;
  };
  std::map<dynamo::WorkerKey, Entry> units_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_WORKER_TABLE_H_
