#include "recording/snapshot_throttle.h"

#include <algorithm>

namespace mk::recording {

SnapshotThrottle::Offered SnapshotThrottle::Offer(uint64_t source,
                                                  const fleet::SnapshotPtr& snapshot,
                                                  Clock::time_point now) {
  Source& state = sources_[source];
  // Collectors deliver from more than one thread: an older version may come last.
  if (snapshot->version <= state.last_version) return Offered::kOld;
  state.last_version = snapshot->version;
  state.latest = snapshot;
  state.marked_unavailable = false;
  if (now < state.next_due) {
    const bool replaced = state.held != nullptr;
    state.held = snapshot;
    return replaced ? Offered::kReplaced : Offered::kHeld;
  }
  state.held.reset();
  state.next_due = now + settings_.interval;
  const uint64_t dropped_before = dropped_;
  Enqueue(snapshot);
  return dropped_ > dropped_before ? Offered::kDropped : Offered::kQueued;
}

void SnapshotThrottle::Forget(uint64_t source) {
  auto it = sources_.find(source);
  if (it == sources_.end()) return;
  if (it->second.held) Enqueue(it->second.held);
  sources_.erase(it);
}

void SnapshotThrottle::Enqueue(const fleet::SnapshotPtr& snapshot) {
  if (queue_.size() >= settings_.queue_capacity) {
    ++dropped_;
    return;
  }
  queue_.push_back(snapshot);
}

std::vector<RecordItem> SnapshotThrottle::Take(Clock::time_point now, bool everything) {
  std::vector<RecordItem> items;
  for (fleet::SnapshotPtr& snapshot : queue_) items.push_back({std::move(snapshot), {}, {}});
  queue_.clear();
  for (auto& [id, source] : sources_) {
    const bool stale = source.latest && !source.marked_unavailable && now >= StaleAt(source);
    if (source.held && (everything || stale || now >= source.next_due)) {
      items.push_back({std::move(source.held), {}, {}});
      source.held.reset();
      source.next_due = now + settings_.interval;
    }
    if (stale) {
      items.push_back({nullptr, source.latest->target, StaleAt(source)});
      source.marked_unavailable = true;
    }
  }
  return items;
}

std::optional<SnapshotThrottle::Clock::time_point> SnapshotThrottle::NextDue() const {
  std::optional<Clock::time_point> due;
  auto consider = [&due](Clock::time_point at) { due = due ? std::min(*due, at) : at; };
  for (const auto& [id, source] : sources_) {
    if (source.held) consider(source.next_due);
    if (source.latest && !source.marked_unavailable) consider(StaleAt(source));
  }
  return due;
}

}  // namespace mk::recording
