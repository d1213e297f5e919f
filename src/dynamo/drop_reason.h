// Why a decoder did not use a reply, a report, an event or a worker's metrics page, and
// counts of such drops by reason. Shared by every decoder in this directory and by the
// sources and the fleet model that count what the decoders drop. Plain data; DropCounts
// is not synchronised (each owner guards its own).
#ifndef METRICS_KEDA_DYNAMO_DROP_REASON_H_
#define METRICS_KEDA_DYNAMO_DROP_REASON_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mk::dynamo {

// Why a reply, one endpoint report in it, or one event was not used. New reasons go
// at the end: the order is the index in DropCounts, and metrics list them in it.
enum class DropReason {
  kMalformedJson,        // not a JSON object, truncated, or trailing bytes
  kNoLoadEndpoint,       // a reply of the service without the monitored endpoint
  kNoData,               // no load report: the monitored endpoint's (or a LoadEvent's)
                         // `data` is null or absent; a metrics page without any of the
                         // load gauges (or a rank with a capacity but no load gauge)
  kBadWorkerId,          // a worker id that is no unsigned 64-bit integer: a subject's
                         // lease id not 1-16 hex digits, a negative id in a JSON event,
                         // a ForwardPassMetrics worker_id that is not a decimal number
  kMissingField,         // a required field is absent (or a record carries no load figure)
  kWrongType,            // a field of the wrong type, a negative or fractional count
  kOutOfRange,           // a number too large, or a fraction outside [0, 1]
  kOversized,            // larger than accepted: the message, or a MessagePack string,
                         // binary, map or array, or its nesting depth, beyond the limits
  kOverWorkerLimit,      // a new worker unit beyond the per-target limit
  kMalformedMsgpack,     // not one MessagePack value: truncated (a declared length
                         // beyond the bytes present), invalid, or trailing bytes
  kBadFrames,            // a ZMQ message not in Dynamo's four-frame form, or whose
                         // frames disagree with the envelope they carry
  kUnsupportedVersion,   // a ZMQ frame header or a ForwardPassMetrics version other
                         // than 1
  kUnknownKey,           // a discovery key of none of Dynamo's layouts, or malformed
                         // within one (a missing or empty segment, a bad %XX escape)
  kKeyMismatch,          // a discovery record whose value disagrees with its key: another
                         // record type, namespace, component, endpoint, topic, scope or id
  kChannelDown,          // not a record: the unit's event channel (its publisher's ZMQ
                         // connection) has been down for longer than the staleness bound
  kMalformedPrometheus,  // a metrics page not in the Prometheus text format 0.0.4
  kAmbiguousUnit,        // a metrics page whose gauge describes one rank in more than one
                         // series (two models, or the same series twice) with nothing
                         // to choose between them
};
inline constexpr size_t kDropReasonCount = 17;
static_assert(static_cast<size_t>(DropReason::kAmbiguousUnit) + 1 == kDropReasonCount);

// Every reason, in index order.
inline constexpr std::array<DropReason, kDropReasonCount> kAllDropReasons = {
    DropReason::kMalformedJson,       DropReason::kNoLoadEndpoint, DropReason::kNoData,
    DropReason::kBadWorkerId,         DropReason::kMissingField,   DropReason::kWrongType,
    DropReason::kOutOfRange,          DropReason::kOversized,      DropReason::kOverWorkerLimit,
    DropReason::kMalformedMsgpack,    DropReason::kBadFrames,      DropReason::kUnsupportedVersion,
    DropReason::kUnknownKey,          DropReason::kKeyMismatch,    DropReason::kChannelDown,
    DropReason::kMalformedPrometheus, DropReason::kAmbiguousUnit,
};

// The reasons a `$SRV.STATS` scrape can count (its reply decoder, the scraper and the
// collector); the event-plane reasons never occur there.
inline constexpr std::array<DropReason, 9> kStatsDropReasons = {
    DropReason::kMalformedJson, DropReason::kNoLoadEndpoint, DropReason::kNoData,
    DropReason::kBadWorkerId,   DropReason::kMissingField,   DropReason::kWrongType,
    DropReason::kOutOfRange,    DropReason::kOversized,      DropReason::kOverWorkerLimit,
};

// The reason's label in metrics and /status: lowercase words joined by `_`.
std::string_view DropReasonName(DropReason reason);

struct DropCounts {
  std::array<uint64_t, kDropReasonCount> by_reason{};
  void Add(DropReason reason, uint64_t n = 1) { by_reason[static_cast<size_t>(reason)] += n; }
  uint64_t Get(DropReason reason) const { return by_reason[static_cast<size_t>(reason)]; }
  uint64_t Total() const;
  void Merge(const DropCounts& other);
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_DROP_REASON_H_
