// libFuzzer target: arbitrary bytes as one JSON message on NATS
// namespace.<ns>.kv_metrics (Aug 2025 - Jan 2026), decoded as a NATS event source
// would, with one decoder kept across inputs as the source keeps it.
//
// Invariants: nothing crashes; every answer is dropped-or-valid with a reason the
// decoder documents; decoding is deterministic although the decoder reuses its
// buffers; a kept LoadEvent's fractions are in [0, 1]; a kept ActiveLoad's origin is
// the rule's and it has a load figure; a negative worker id never names a unit.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "dynamo/json_event_decoder.h"
#include "event_checks.h"
#include "fuzz_check.h"

namespace {

using mk::dynamo::ActiveLoad;
using mk::dynamo::DropReason;
using mk::dynamo::JsonKvMetricsEvent;
using mk::dynamo::WorkerLoad;

bool Fraction(const std::optional<double>& value) {
  return !value || (std::isfinite(*value) && *value >= 0 && *value <= 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mk::dynamo::JsonEventDecoder decoder;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  const mk::dynamo::Decoded<JsonKvMetricsEvent> decoded = decoder.Decode(json);
  mk::fuzz::CheckShape(
      decoded, "JSON event",
      {DropReason::kMalformedJson, DropReason::kMissingField, DropReason::kBadWorkerId,
       DropReason::kWrongType, DropReason::kOutOfRange, DropReason::kNoData});
  MK_FUZZ_CHECK(mk::fuzz::Same(decoded, decoder.Decode(json)),
                "decoding a JSON event twice differed");
  if (!decoded.ok()) {
    if (decoded.reason == DropReason::kBadWorkerId ||
        decoded.reason == DropReason::kMalformedJson) {
      MK_FUZZ_CHECK(!decoded.unit.has_value(), "%s names a unit", mk::fuzz::Name(decoded.reason));
    }
    return 0;
  }
  if (const WorkerLoad* load = std::get_if<WorkerLoad>(&*decoded.record)) {
    MK_FUZZ_CHECK(Fraction(load->gpu_cache_usage_perc) && Fraction(load->gpu_prefix_cache_hit_rate),
                  "a LoadEvent fraction outside [0, 1]");
    MK_FUZZ_CHECK(load->kv_total_blocks > 0 || load->gpu_cache_usage_perc,
                  "a LoadEvent kept without any KV figure");
  } else {
    const ActiveLoad& active = std::get<ActiveLoad>(*decoded.record);
    MK_FUZZ_CHECK(mk::dynamo::ClassifyActiveLoad(active) == active.origin,
                  "ActiveLoad kept with an origin against the rule");
    MK_FUZZ_CHECK(
        active.kv_used_blocks || active.active_prefill_tokens || active.active_decode_blocks,
        "ActiveLoad kept without a load figure");
    MK_FUZZ_CHECK(decoded.ignored.Total() == 0, "ActiveLoad kept with ignored fields");
  }
  return 0;
}
