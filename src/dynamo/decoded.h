// The answer of the single-record decoders of this directory (event envelopes, ZMQ
// messages, ActiveLoad, ForwardPassMetrics, the JSON events): the record, or why it
// was dropped. Plain data.
#ifndef METRICS_KEDA_DYNAMO_DECODED_H_
#define METRICS_KEDA_DYNAMO_DECODED_H_

#include <optional>
#include <string_view>
#include <utility>

#include "dynamo/drop_reason.h"
#include "dynamo/worker_load.h"

namespace mk::dynamo {

// The first bad field of a record: what to count and say. Later problems are not
// kept, so a record is dropped for the first thing wrong with it.
struct FieldProblem {
  std::optional<DropReason> reason;
  std::string_view detail;
  void Set(DropReason why, std::string_view what) {
    if (reason) return;
    reason = why;
    detail = what;
  }
};

template <typename Record>
struct Decoded {
  // The validated record; empty when it was dropped.
  std::optional<Record> record;
  // Why it was dropped (meaningful only when `record` is empty).
  DropReason reason = DropReason::kMalformedMsgpack;
  // What exactly was wrong, for logs and /status: a static text (never owns
  // memory), e.g. "frame 3 holds fewer bytes than its header declares". Empty when
  // the record was kept.
  std::string_view detail;
  // A dropped record about one worker unit: that unit, when the record's worker id
  // could be read (its rank when that could be read too, else none). Lets the fleet
  // model mark a unit unreadable rather than absent.
  std::optional<WorkerKey> unit;
  // Fields no figure uses, left out of a kept record because they were bad, counted
  // by what was wrong with them (wrong_type, out_of_range).
  DropCounts ignored;

  bool ok() const { return record.has_value(); }

  static Decoded Keep(Record value) {
    Decoded decoded;
    decoded.record = std::move(value);
    return decoded;
  }
  static Decoded Drop(DropReason why, std::string_view what,
                      std::optional<WorkerKey> about = std::nullopt) {
    Decoded decoded;
    decoded.reason = why;
    decoded.detail = what;
    decoded.unit = about;
    return decoded;
  }
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_DECODED_H_
