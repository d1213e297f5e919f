// Which snapshots the recorder writes, and when: at most one per watched collector
// per interval, and always the latest. A snapshot offered when its collector's
// interval has passed goes to a bounded queue at once (dropped and counted when the
// queue is full: the writer is stuck); one offered sooner is held, replacing the one
// held before, until the interval ends. A collector that offers nothing for longer
// than its staleness bound has no servable picture any more: that moment is marked
// once (after its held snapshot), so that a recording shows outages as outages and
// never as the last load standing.
//
// Pure logic with the time passed in; not thread-safe (the recorder locks it).
#ifndef METRICS_KEDA_RECORDING_SNAPSHOT_THROTTLE_H_
#define METRICS_KEDA_RECORDING_SNAPSHOT_THROTTLE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "fleet/snapshot.h"
#include "fleet/target.h"

namespace mk::recording {

struct ThrottleSettings {
  std::chrono::nanoseconds interval = std::chrono::seconds(1);
  // The collectors' --max-staleness: a snapshot older than this is not servable.
  std::chrono::nanoseconds stale_after = std::chrono::seconds(15);
  size_t queue_capacity = 64;  // snapshots waiting for the writer
};

// One thing to write: a snapshot, or (snapshot null) the moment `target` stopped
// having a servable one.
struct RecordItem {
  fleet::SnapshotPtr snapshot;
  fleet::Target target;
  std::chrono::steady_clock::time_point unavailable_since{};
};

class SnapshotThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SnapshotThrottle(ThrottleSettings settings) : settings_(settings) {}

  // kHeld: held where none was (Take has something due at the interval's end);
  // kReplaced: held in place of the one held before.
  enum class Offered { kQueued, kHeld, kReplaced, kDropped, kOld };
  // A snapshot of collector `source` at `now`. Versions only move forward: one not
  // newer than the last offered by the same source is ignored (kOld).
  Offered Offer(uint64_t source, const fleet::SnapshotPtr& snapshot, Clock::time_point now);
  // The collector is gone: its held snapshot is queued (if there is room) and
  // nothing more is marked for it.
  void Forget(uint64_t source);

  // What to write at `now`, oldest first per source: the queue, then the held
  // snapshots whose interval has ended (every one with `everything`), then the
  // sources that just went stale.
  std::vector<RecordItem> Take(Clock::time_point now, bool everything = false);
  // When Take has something to do next with no new offer; none: nothing until then.
  std::optional<Clock::time_point> NextDue() const;
  bool HasQueued() const { return !queue_.empty(); }

  uint64_t dropped() const { return dropped_; }

 private:
  struct Source {
    uint64_t last_version = 0;
    Clock::time_point next_due{};
    fleet::SnapshotPtr held;
    fleet::SnapshotPtr latest;  // the newest offered, for staleness
    bool marked_unavailable = false;
  };
  // Queues `snapshot` if there is room, else counts it dropped.
  void Enqueue(const fleet::SnapshotPtr& snapshot);
  Clock::time_point StaleAt(const Source& source) const {
    return source.latest->taken + settings_.stale_after;
  }

  const ThrottleSettings settings_;
  std::map<uint64_t, Source> sources_;
  std::deque<fleet::SnapshotPtr> queue_;
  uint64_t dropped_ = 0;
};

}  // namespace mk::recording

#endif  // METRICS_KEDA_RECORDING_SNAPSHOT_THROTTLE_H_
