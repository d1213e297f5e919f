#include "dynamo/publisher_sequences.h"

#include <algorithm>
#include <vector>

namespace mk::dynamo {

void PublisherSequences::Observe(uint64_t publisher, uint64_t sequence) {
  ++clock_;
  auto it = next_.find(publisher);
  if (it == next_.end()) {
    if (next_.size() >= max_) {
      // Forget the half seen longest ago: O(n) once per max_/2 new publishers.
      std::vector<uint64_t> seen;
      seen.reserve(next_.size());
      for (const auto& [id, next] : next_) seen.push_back(next.seen);
      auto middle = seen.begin() + static_cast<std::ptrdiff_t>(seen.size() / 2);
      std::nth_element(seen.begin(), middle, seen.end());
      const uint64_t cut = *middle;
      std::erase_if(next_, [cut](const auto& entry) { return entry.second.seen < cut; });
    }
    next_[publisher] = Next{sequence + 1, clock_};
    return;
  }
  Next& next = it->second;
  if (sequence > next.sequence) {
    lost_ += sequence - next.sequence;
  } else if (sequence < next.sequence) {
    ++restarts_;
  }
  next = Next{sequence + 1, clock_};
}

}  // namespace mk::dynamo
