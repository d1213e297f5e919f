// libFuzzer target: arbitrary bytes as an event-plane subject (NATS, or frame 0
// through a ZMQ broker), and as a stream of (publisher, sequence) pairs.
//
// Invariants: a subject that parses is printed back (EventSubjectText) into one that
// parses to the same parts; parsing is deterministic; the sequence follower never
// follows more publishers than its limit, and its counts only grow.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "dynamo/event_subject.h"
#include "dynamo/publisher_sequences.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::optional<mk::dynamo::EventSubject> subject = mk::dynamo::ParseEventSubject(input);
  MK_FUZZ_CHECK(subject == mk::dynamo::ParseEventSubject(input), "parsing twice differed");
  if (subject) {
    MK_FUZZ_CHECK(!subject->dynamo_namespace.empty() && !subject->topic.empty(),
                  "a parsed subject without namespace or topic");
    MK_FUZZ_CHECK(subject->endpoint.empty() || !subject->component.empty(),
                  "an endpoint without a component");
    const std::string printed = mk::dynamo::EventSubjectText(*subject);
    MK_FUZZ_CHECK(mk::dynamo::ParseEventSubject(printed) == subject,
                  "the printed subject does not parse back: %s", printed.c_str());
  }

  // Publisher, sequence: 2 + 2 bytes each, small values so that ids repeat.
  constexpr size_t kLimit = 8;
  mk::dynamo::PublisherSequences sequences(kLimit);
  uint64_t lost = 0, restarts = 0;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint64_t publisher = (data[i] << 8) | data[i + 1];
    const uint64_t sequence = (data[i + 2] << 8) | data[i + 3];
    sequences.Observe(publisher, sequence);
    MK_FUZZ_CHECK(sequences.publishers() <= kLimit, "%zu publishers followed",
                  sequences.publishers());
    MK_FUZZ_CHECK(sequences.lost() >= lost && sequences.restarts() >= restarts,
                  "a count went down");
    lost = sequences.lost();
    restarts = sequences.restarts();
  }
  return 0;
}
