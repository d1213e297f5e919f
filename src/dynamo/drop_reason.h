// Why a decoder did not use a reply, a report or an event, and counts of such
// drops by reason. Shared by every decoder in this directory and by the sources and
// the fleet model that count what the decoders drop. Plain data; DropCounts is not
// synchronised (each owner guards its own).
#ifndef METRICS_KEDA_DYNAMO_DROP_REASON_H_
#define METRICS_KEDA_DYNAMO_DROP_REASON_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mk::dynamo {

// Why a reply, or one endpoint report in it, was not used.
enum class DropReason {
  kMalformedJson,    // not a JSON object, truncated, or trailing bytes
  kNoLoadEndpoint,   // a reply of the service without the monitored endpoint
  kNoData,           // the monitored endpoint carries no stats (`data` null/absent)
  kBadWorkerId,      // the subject's lease id is not 1-16 hex digits
  kMissingField,     // a required ForwardPassMetrics field is absent
  kWrongType,        // a field of the wrong JSON type, negative or fractional count
  kOutOfRange,       // a number too large, or a fraction outside [0, 1]
  kOversized,        // larger than the accepted message size
  kOverWorkerLimit,  // a new worker unit beyond the per-target limit
};
inline constexpr size_t kDropReasonCount = 9;

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
