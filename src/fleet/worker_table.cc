#include "fleet/worker_table.h"

namespace mk::fleet {

bool WorkerTable::Record(const dynamo::WorkerLoad& unit, TimePoint heard_at) {
  return units_.insert_or_assign(unit.key, Entry{unit, heard_at}).second;
}

std::vector<dynamo::WorkerKey> WorkerTable::EvictSilentSince(TimePoint oldest_kept) {
  std::vector<dynamo::WorkerKey> evicted;
  for (auto it = units_.begin(); it != units_.end();) {
    if (it->second.heard_at < oldest_kept) {
      evicted.push_back(it->first);
      it = units_.erase(it);
    } else {
      ++it;
    }
  }
  return evicted;
}

std::vector<dynamo::WorkerLoad> WorkerTable::Units() const {
  std::vector<dynamo::WorkerLoad> units;
  units.reserve(units_.size());
  for (const auto& [key, entry] : units_) units.push_back(entry.load);
  return units;
}

std::set<uint64_t> WorkerTable::Leases() const {
  std::set<uint64_t> leases;
  for (const auto& [key, entry] : units_) leases.insert(key.lease_id);
  return leases;
}

}  // namespace mk::fleet
