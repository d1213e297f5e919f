#include "fleet/pending_units.h"

namespace mk::fleet {

void PendingUnits::Heard(const dynamo::WorkerKey& key) {
  if (pending_.erase(key) > 0 || key.dp_rank) return;
  // Rank-less keys order first among a worker's, so this finds its first pending rank.
  auto it = pending_.lower_bound(key);
  if (it != pending_.end() && it->lease_id == key.lease_id) pending_.erase(it);
}

}  // namespace mk::fleet
