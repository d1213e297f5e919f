#include "fleet/pending_units.h"

namespace mk::fleet {

void PendingUnits::Heard(const dynamo::WorkerKey& key) {
  auto it = pending_.find(key);
  if (it == pending_.end() && !key.dp_rank) {
    // Rank-less keys order first among a worker's, so this finds its first pending rank.
    it = pending_.lower_bound(key);
    if (it != pending_.end() && it->first.lease_id != key.lease_id) it = pending_.end();
  }
  if (it != pending_.end() && --it->second == 0) pending_.erase(it);
}

}  // namespace mk::fleet
