// Reads a ForwardPassMetrics JSON object (the load report of Dynamo 0.1 - 0.5
// workers, flat or grouped under worker_stats/kv_stats) into a WorkerLoad, with the
// field readers of json_reader.h. Shared by the decoders of this
// directory that meet it: the `$SRV.STATS` reply (StatsDecoder, as an endpoint's
// `data`) and the Aug - Dec 2025 JSON LoadEvent on the event plane (as its `data`).
// Not a public interface of the library: callers are decoders in src/dynamo/.
//
// Rules, the same for both: a field the figures use (slots, blocks, waiting, the
// rank, and gpu_cache_usage_perc when there is no block capacity) of the wrong type,
// negative, fractional or too large makes the report unusable; a field the figures
// do not use (gpu_prefix_cache_hit_rate; gpu_cache_usage_perc beside a block
// capacity) never does: when bad it is left out and counted as ignored. Unknown
// fields are skipped. Pure functions; they only touch the simdjson values passed in.
#ifndef METRICS_KEDA_DYNAMO_FORWARD_PASS_JSON_H_
#define METRICS_KEDA_DYNAMO_FORWARD_PASS_JSON_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>

#include "dynamo/drop_reason.h"
#include "dynamo/json_reader.h"
#include "dynamo/worker_load.h"

namespace mk::dynamo::json {

// ForwardPassMetrics fields as found, before validation.
struct RawForwardPassMetrics {
  std::optional<uint64_t> active_slots, total_slots, kv_active, kv_total, waiting;
  std::optional<double> gpu_cache, hit_rate;
  std::optional<uint32_t> dp_rank;
  FieldError error;            // the first bad field the figures always use
  FieldError gpu_cache_error;  // used only without a block capacity
  FieldError hit_rate_error;   // never used

  void Fail(DropReason reason) { error.Fail(reason); }
};

// Reads `value` as a ForwardPassMetrics: false when it is null (there is no report);
// true otherwise, with what was found in `out` (anything but an object is a
// wrong_type failure). Both forms: flat fields at the top, or grouped under
// worker_stats and kv_stats, one level deep (a group inside a group is wrong_type,
// never followed, so no input can recurse without bound). Throws MalformedJson.
bool ReadForwardPassMetrics(od::value value, RawForwardPassMetrics& out);

// The validated unit of lease `lease`, or why it cannot be used (the first bad field;
// missing_field when slots or blocks are absent, or when kv_total_blocks is 0 and
// there is no gpu_cache_usage_perc). Bad fields the unit's figures do not use are
// left out of `out` and counted in `ignored`.
std::optional<DropReason> ValidateForwardPassMetrics(const RawForwardPassMetrics& raw,
                                                     uint64_t lease, WorkerLoad& out,
                                                     DropCounts& ignored);

}  // namespace mk::dynamo::json

#endif  // METRICS_KEDA_DYNAMO_FORWARD_PASS_JSON_H_
