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
#include <span>
#include <vector>

#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "fleet/unit.h"

namespace mk::fleet {

class WorkerTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `source`: what the reports are (the stats scrape's replies, or the workers'
  // /metrics pages), told with each reporting unit.
  explicit WorkerTable(size_t max_units = 20000, FigureSource source = FigureSource::kStats)
      : max_units_(max_units), source_(source) {}

  // One batch of replies heard at `heard_at` (a scrape round, or the part of it
  // heard so far): readable reports and dropped ones. Returns how many new units
  // were refused over the limit.
  //
  // A dropped report without a rank (`data: null` carries none) cannot say which
  // rank it is from, so a worker's rank-less reports of one batch make one entry,
  // its rank-less unit, standing for as many units as there were such reports: a
  // data-parallel worker whose ranks answer `data: null` counts one unit per
  // reply, whatever was heard from it before. A rank-less unit that never
  // reported goes as soon as a batch brings the worker's ranked reports and no
  // rank-less one.
  size_t Record(std::span<const dynamo::WorkerLoad> reports,
                std::span<const dynamo::UnreadableReport> unreadable, TimePoint heard_at);

  // Removes the units last heard before `oldest_kept`; returns their keys.
  std::vector<dynamo::WorkerKey> EvictSilentSince(TimePoint oldest_kept);

  // Removes every unit of the worker `lease_id` (its registration went).
  void EraseWorker(uint64_t lease_id);

  // Every unit at `now`, ordered by key: reporting while its newest readable report
  // is at most `max_age` old, else unreadable with the reason of its newest drop.
  std::vector<Unit> Units(TimePoint now, std::chrono::nanoseconds max_age) const;

  // The replies a scrape round expects: per unit key, how many (more than one for
  // a rank-less unit standing for several).
  std::map<dynamo::WorkerKey, size_t> ExpectedReplies() const;

  size_t size() const { return entries_.size(); }
  bool Contains(const dynamo::WorkerKey& key) const { return entries_.contains(key); }

 private:
  struct Entry {
    std::optional<dynamo::WorkerLoad> report;  // the newest readable one
    TimePoint reported_at{};
    std::optional<dynamo::DropReason> drop_reason;  // of the newest dropped one
    TimePoint heard_at{};
    size_t units = 1;  // >1 only for a rank-less unit standing for several replies
  };
  // The entry of `key`, created if there is room; null when over the limit.
  Entry* Find(const dynamo::WorkerKey& key);

  const size_t max_units_;
  const FigureSource source_;
  std::map<dynamo::WorkerKey, Entry> entries_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_WORKER_TABLE_H_
