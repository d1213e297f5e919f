#include "fleet/worker_table.h"

namespace mk::fleet {

WorkerTable::Entry* WorkerTable::Find(const dynamo::WorkerKey& key, bool& added) {
  added = false;
  if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  if (entries_.size() >= max_units_) return nullptr;
  added = true;
  return &entries_[key];
}

WorkerTable::Recorded WorkerTable::RecordReport(const dynamo::WorkerLoad& report,
                                                TimePoint heard_at) {
  if (report.key.dp_rank) {
    auto rankless = entries_.find(dynamo::WorkerKey{report.key.lease_id, std::nullopt});
    if (rankless != entries_.end() && !rankless->second.report) entries_.erase(rankless);
  }
  bool added;
  Entry* entry = Find(report.key, added);
  if (entry == nullptr) return Recorded::kOverLimit;
  entry->report = report;
  entry->reported_at = heard_at;
  entry->heard_at = heard_at;
  return added ? Recorded::kAdded : Recorded::kUpdated;
}

WorkerTable::Recorded WorkerTable::RecordUnreadable(const dynamo::UnreadableReport& report,
                                                    TimePoint heard_at) {
  if (!report.key.dp_rank) {
    // Keys order rank-less first, so a worker's units start at its rank-less key.
    bool any = false;
    for (auto it = entries_.lower_bound(report.key);
         it != entries_.end() && it->first.lease_id == report.key.lease_id; ++it) {
      it->second.drop_reason = report.reason;
      it->second.heard_at = heard_at;
      any = true;
    }
    if (any) return Recorded::kUpdated;
  }
  bool added;
  Entry* entry = Find(report.key, added);
  if (entry == nullptr) return Recorded::kOverLimit;
  entry->drop_reason = report.reason;
  entry->heard_at = heard_at;
  return added ? Recorded::kAdded : Recorded::kUpdated;
}

std::vector<dynamo::WorkerKey> WorkerTable::EvictSilentSince(TimePoint oldest_kept) {
  std::vector<dynamo::WorkerKey> evicted;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.heard_at < oldest_kept) {
      evicted.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return evicted;
}

std::vector<Unit> WorkerTable::Units(TimePoint now, std::chrono::nanoseconds max_age) const {
  std::vector<Unit> units;
  units.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) {
    Unit& unit = units.emplace_back();
    unit.key = key;
    if (entry.report && now - entry.reported_at <= max_age) {
      unit.state = UnitState::kReporting;
      unit.report = entry.report;
    } else {
      unit.state = UnitState::kUnreadable;
      unit.drop_reason = entry.drop_reason;
    }
  }
  return units;
}

std::set<dynamo::WorkerKey> WorkerTable::Keys() const {
  std::set<dynamo::WorkerKey> keys;
  for (const auto& [key, entry] : entries_) keys.insert(keys.end(), key);
  return keys;
}

}  // namespace mk::fleet
