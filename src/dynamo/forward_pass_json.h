// Reads a ForwardPassMetrics JSON object (the load report of Dynamo 0.1 - 0.5
// workers, flat or grouped under worker_stats/kv_stats) into a WorkerLoad, and the
// simdjson on-demand field readers it is built from. Shared by the decoders of this
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
#include "dynamo/worker_load.h"

namespace mk::dynamo::json {

namespace od = simdjson::ondemand;

// Thrown by the readers below when the JSON text itself is broken (the document
// cannot be read on): the caller drops the whole message as malformed_json.
// Value errors (a wrong type, a number out of range) are never thrown: they are
// recorded in a FieldError and only make the report they belong to unusable.
struct MalformedJson {};

// Where a bad field's reason goes: the report's first error, or a slot of its own
// for a field that only some reports use.
struct FieldError {
  std::optional<DropReason> reason;
  void Fail(DropReason why) {
    if (!reason) reason = why;
  }
};

// Calls `visit(key, value)` for each field of `object`, in order; throws
// MalformedJson when the text cannot be read on. `value` must be read or skipped
// before the next field: simdjson's on-demand values are read in place.
template <typename Visit>
void ForEachField(od::object object, Visit&& visit) {
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      throw MalformedJson{};
    }
    visit(key, field.value());
  }
}

// The value's JSON type; throws MalformedJson when the text cannot say.
od::json_type TypeOf(od::value& value);

// A count: null leaves `out` empty; a non-negative integer < 2^64 sets it; anything
// else fails `error` (wrong_type: a string, a negative or fractional number;
// out_of_range: an integer >= 2^64).
void ReadCount(od::value value, std::optional<uint64_t>& out, FieldError& error);

// A signed 64-bit or unsigned 64-bit integer, as the worker ids of the JSON events:
// wrong_type unless an integer; out_of_range when below -2^63 or above 2^64 - 1.
// Negative values are returned as such; the caller decides what they mean.
struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;  // when negative, -value (fits: 2^63 at most)
};
std::optional<Integer> ReadInteger(od::value value, FieldError& error);

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
