// The fleet's membership over time: every worker unit heard, its newest readable
// report, and its newest dropped one. A unit is present from its first reply,
// readable or not, until it has been silent for longer than the staleness bound;
// while present it is reporting (a readable report within the bound) or
// unreadable (it answers, but nothing it said within the bound could be used:
// never absent, never idle). At most `max_units` units are kept, so a flood of
// fake workers cannot exhaust memory. Pure: times are passed in. Not
// thread-safe; owned by one Collector.
#ifndef METRICS_KEDA_FLEET_WORKER_TABLE_H_
#define METRICS_KEDA_FLEET_WORKER_TABLE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "fleet/unit.h"

namespace mk::fleet {

class WorkerTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  enum class Recorded {
    kUpdated,    // a unit already present
    kAdded,      // a new unit joined
    kOverLimit,  // a new unit beyond max_units: not recorded
  };

  explicit WorkerTable(size_t max_units = 20000) : max_units_(max_units) {}

  // A readable report: the unit's figures from now on. A ranked report also
  // retires the worker's rank-less entry if that never reported (a data-parallel
  // worker first heard through reports that carried no rank).
  Recorded RecordReport(const dynamo::WorkerLoad& report, TimePoint heard_at);

  // A dropped report. Without a rank (`data: null` carries none) it cannot be told
  // which rank it came from: if units of its worker are present, each is taken as
  // heard; else the worker's rank-less unit is.
  Recorded RecordUnreadable(const dynamo::UnreadableReport& report, TimePoint heard_at);

  // Removes the units last heard before `oldest_kept`; returns their keys.
  std::vector<dynamo::WorkerKey> EvictSilentSince(TimePoint oldest_kept);

  // Every unit at `now`, ordered by key: reporting while its newest readable report
  // is at most `max_age` old, else unreadable with the reason of its newest drop.
  std::vector<Unit> Units(TimePoint now, std::chrono::nanoseconds max_age) const;

  // The keys of the units present: whom a scrape round expects to hear from.
  std::set<dynamo::WorkerKey> Keys() const;

  size_t size() const { return entries_.size(); }
  bool Contains(const dynamo::WorkerKey& key) const { return entries_.contains(key); }

 private:
  struct Entry {
    std::optional<dynamo::WorkerLoad> report;  // the newest readable one
    TimePoint reported_at{};
    std::optional<dynamo::DropReason> drop_reason;  // of the newest dropped one
    TimePoint heard_at{};
  };
  // The entry of `key`, created if there is room; null when over the limit.
  Entry* Find(const dynamo::WorkerKey& key, bool& added);

  const size_t max_units_;
  std::map<dynamo::WorkerKey, Entry> entries_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_WORKER_TABLE_H_
