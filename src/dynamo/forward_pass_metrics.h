// Decodes ForwardPassMetrics version 1, the per-scheduler-step record a worker
// publishes on topic `forward-pass-metrics` when started with
// --enable-forward-pass-metrics (MessagePack inside an EventEnvelope, component
// scope). Two producers write it: Dynamo's own instrumented scheduler, and vLLM
// natively (relayed unchanged), whose form adds `timing_scope`; both are read by the
// same code, by key name. An idle worker sends an all-zero record about every second.
//
// Pure function; safe to call from any thread at once. Any input may be given: the
// unpack is bounded (msgpack_reader.h).
#ifndef METRICS_KEDA_DYNAMO_FORWARD_PASS_METRICS_H_
#define METRICS_KEDA_DYNAMO_FORWARD_PASS_METRICS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dynamo/decoded.h"
#include "dynamo/worker_load.h"

namespace mk::dynamo {

inline constexpr uint64_t kForwardPassMetricsVersion = 1;

// One group of requests in a scheduler step (`queued_requests`, and the base of
// `scheduled_requests`). Counts and token sums are exact; a field the record leaves
// out is 0, as in the producers' schema. The variances (floats, tokens squared) are
// used by no figure: none when absent or bad.
struct RequestMetrics {
  uint64_t num_prefill_requests = 0;
  uint64_t sum_prefill_tokens = 0;  // prompt tokens of those requests (to compute)
  std::optional<double> var_prefill_length;
  uint64_t num_decode_requests = 0;
  uint64_t sum_decode_kv_tokens = 0;  // tokens in the KV cache of those requests
  std::optional<double> var_decode_kv_tokens;

  friend bool operator==(const RequestMetrics&, const RequestMetrics&) = default;
};
using QueuedRequestMetrics = RequestMetrics;

// `scheduled_requests`: the requests the step ran.
struct ScheduledRequestMetrics : RequestMetrics {
  uint64_t sum_prefill_kv_tokens = 0;  // prefix tokens the prefills read from the KV cache

  friend bool operator==(const ScheduledRequestMetrics&, const ScheduledRequestMetrics&) = default;
};

struct ForwardPassMetrics {
  // `worker_id`, a decimal string on the wire: the worker's instance id.
  uint64_t worker_id = 0;
  uint32_t dp_rank = 0;  // absent means 0
  // Fields no figure uses: none when absent or bad (and then counted as ignored).
  std::optional<uint64_t> counter_id;       // the step's number, per worker and rank
  std::optional<double> wall_time_s;        // the step's duration in seconds, >= 0
  std::optional<std::string> timing_scope;  // vLLM's form only, e.g. "execute_model_cuda"
  ScheduledRequestMetrics scheduled;
  QueuedRequestMetrics queued;

  WorkerKey key() const { return WorkerKey{worker_id, dp_rank}; }

  friend bool operator==(const ForwardPassMetrics&, const ForwardPassMetrics&) = default;
};

// Decodes an envelope's payload as ForwardPassMetrics (MessagePack map; unknown keys
// ignored at both levels). Strict only for what a load figure would use:
//   malformed_msgpack / oversized: see msgpack_reader.h;
//   missing_field: no `version` or no `worker_id`;
//   unsupported_version: a version other than 1 (the version is checked before any
//     other field: another version's fields may mean other things);
//   bad_worker_id: worker_id not a string of 1-20 decimal digits below 2^64;
//   wrong_type: not a map; version, worker_id, dp_rank, a request count or token sum
//     of the wrong type (negative, a float, nil); a request group that is not a map;
//   out_of_range: dp_rank above 2^32 - 1.
// A bad variance, wall_time (not a finite number >= 0), counter_id or timing_scope
// never drops the record: it is left out and counted in `ignored` (wrong_type or
// out_of_range). A dropped record whose worker_id was read names its unit.
Decoded<ForwardPassMetrics> DecodeForwardPassMetrics(std::string_view payload);

// The worker id of a ForwardPassMetrics: 1-20 decimal digits, nothing else, below 2^64.
std::optional<uint64_t> ParseDecimalWorkerId(std::string_view text);

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_FORWARD_PASS_METRICS_H_
