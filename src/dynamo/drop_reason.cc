#include "dynamo/drop_reason.h"

namespace mk::dynamo {

std::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kMalformedJson:
      return "malformed_json";
    case DropReason::kNoLoadEndpoint:
      return "no_load_endpoint";
    case DropReason::kNoData:
      return "no_data";
    case DropReason::kBadWorkerId:
      return "bad_worker_id";
    case DropReason::kMissingField:
      return "missing_field";
    case DropReason::kWrongType:
      return "wrong_type";
    case DropReason::kOutOfRange:
      return "out_of_range";
    case DropReason::kOversized:
      return "oversized";
    case DropReason::kOverWorkerLimit:
      return "over_worker_limit";
    case DropReason::kMalformedMsgpack:
      return "malformed_msgpack";
    case DropReason::kBadFrames:
      return "bad_frames";
    case DropReason::kUnsupportedVersion:
      return "unsupported_version";
    case DropReason::kUnknownKey:
      return "unknown_key";
    case DropReason::kKeyMismatch:
      return "key_mismatch";
    case DropReason::kChannelDown:
      return "channel_down";
    case DropReason::kMalformedPrometheus:
      return "malformed_prometheus";
    case DropReason::kAmbiguousUnit:
      return "ambiguous_unit";
  }
  return "unknown";
}

uint64_t DropCounts::Total() const {
  uint64_t total = 0;
  for (uint64_t n : by_reason) total += n;
  return total;
}

void DropCounts::Merge(const DropCounts& other) {
  for (size_t i = 0; i < kDropReasonCount; ++i) by_reason[i] += other.by_reason[i];
}

}  // namespace mk::dynamo
