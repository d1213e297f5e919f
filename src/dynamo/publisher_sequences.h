// Follows each event publisher's sequence numbers (EventEnvelope.sequence: per
// publisher, from 0) to count what the transport lost and which publishers
// restarted. Records are absolute, so a lost event only delays freshness; the counts
// say how much was lost. At most `max_publishers` are followed: past that the
// oldest-seen half is forgotten (a forgotten publisher's next event counts as its
// first), so a flood of made-up publisher ids cannot grow memory.
//
// Pure; not thread-safe (one per transport thread).
#ifndef METRICS_KEDA_DYNAMO_PUBLISHER_SEQUENCES_H_
#define METRICS_KEDA_DYNAMO_PUBLISHER_SEQUENCES_H_

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace mk::dynamo {

class PublisherSequences {
 public:
  explicit PublisherSequences(size_t max_publishers = 100000) : max_(max_publishers) {}

  // One event of `publisher` with `sequence`. A sequence above the next expected one
  // counts the missing ones as lost; one below it (0 after a run, or any going back)
  // is a restarted publisher.
  void Observe(uint64_t publisher, uint64_t sequence);

  uint64_t lost() const { return lost_; }
  uint64_t restarts() const { return restarts_; }
  size_t publishers() const { return next_.size(); }

 private:
  struct Next {
    uint64_t sequence = 0;
    uint64_t seen = 0;  // order of last sighting, for forgetting the oldest
  };
  const size_t max_;
  std::unordered_map<uint64_t, Next> next_;
  uint64_t clock_ = 0;
  uint64_t lost_ = 0;
  uint64_t restarts_ = 0;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_PUBLISHER_SEQUENCES_H_
