#include "fleet/worker_table.h"

#include <set>

namespace mk::fleet {

WorkerTable::Entry* WorkerTable::Find(const dynamo::WorkerKey& key) {
  if (auto it = entries_.find(key); it != entries_.end()) return &it->second;
  if (entries_.size() >= max_units_) return nullptr;
  return &entries_[key];
}

size_t WorkerTable::Record(std::span<const dynamo::WorkerLoad> reports,
                           std::span<const dynamo::UnreadableReport> unreadable,
                           TimePoint heard_at) {
  std::map<uint64_t, size_t> rankless;  // rank-less reports per worker in this batch
  std::set<uint64_t> ranked;            // workers with a ranked readable report
  for (const dynamo::WorkerLoad& report : reports) {
    if (report.key.dp_rank) {
      ranked.insert(report.key.lease_id);
    } else {
      ++rankless[report.key.lease_id];
    }
  }
  for (const dynamo::UnreadableReport& report : unreadable) {
    if (!report.key.dp_rank) ++rankless[report.key.lease_id];
  }

  size_t over_limit = 0;
  for (const dynamo::WorkerLoad& report : reports) {
    Entry* entry = Find(report.key);
    if (entry == nullptr) {
      ++over_limit;
      continue;
    }
    entry->report = report;
    entry->reported_at = heard_at;
    entry->heard_at = heard_at;
    entry->units = 1;  // a readable unit is itself: its figures are one unit's
  }
  for (const dynamo::UnreadableReport& report : unreadable) {
    Entry* entry = Find(report.key);
    if (entry == nullptr) {
      ++over_limit;
      continue;
    }
    entry->drop_reason = report.reason;
    entry->heard_at = heard_at;
    if (!report.key.dp_rank) entry->units = rankless[report.key.lease_id];
  }
  for (uint64_t lease : ranked) {
    if (rankless.contains(lease)) continue;
    auto it = entries_.find(dynamo::WorkerKey{lease, std::nullopt});
    if (it != entries_.end() && !it->second.report) entries_.erase(it);
  }
  return over_limit;
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

void WorkerTable::EraseWorker(uint64_t lease_id) {
  auto it = entries_.lower_bound(dynamo::WorkerKey{lease_id, std::nullopt});
  while (it != entries_.end() && it->first.lease_id == lease_id) it = entries_.erase(it);
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
      unit.source = source_;
      unit.updated_at = entry.reported_at;
    } else {
      unit.state = UnitState::kUnreadable;
      unit.drop_reason = entry.drop_reason;
      unit.units = entry.units;
      unit.updated_at = entry.heard_at;
    }
  }
  return units;
}

std::map<dynamo::WorkerKey, size_t> WorkerTable::ExpectedReplies() const {
  std::map<dynamo::WorkerKey, size_t> expected;
  for (const auto& [key, entry] : entries_) expected.emplace_hint(expected.end(), key, entry.units);
  return expected;
}

}  // namespace mk::fleet
