// Decodes ActiveLoad, the record Dynamo workers and routers publish on topic
// `kv_metrics` (Dynamo 0.9 on: MessagePack inside an EventEnvelope; its JSON
// predecessor of Dec 2025 - Jan 2026 is read by json_event_decoder.h into the same
// struct), and says who published it: the worker itself or a router.
//
// Pure functions; safe to call from any thread at once. Any input may be given: the
// unpack is bounded (msgpack_reader.h).
#ifndef METRICS_KEDA_DYNAMO_ACTIVE_LOAD_H_
#define METRICS_KEDA_DYNAMO_ACTIVE_LOAD_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "dynamo/decoded.h"
#include "dynamo/worker_load.h"

namespace mk::dynamo {

// Who published an ActiveLoad. A worker measures its own engine; a router (the
// frontend's KV router) publishes its predictions about a worker, which never
// change a unit's figures.
enum class ActiveLoadOrigin { kWorker, kRouter };
std::string_view ActiveLoadOriginName(ActiveLoadOrigin origin);  // "worker", "router"

// One ActiveLoad: named fields; absent optional fields and nil are both "none".
struct ActiveLoad {
  uint64_t worker_id = 0;  // the worker's instance id (etcd lease id, or Kubernetes' id)
  uint32_t dp_rank = 0;    // data-parallel rank; absent means 0
  std::optional<uint64_t> active_decode_blocks;   // router, or a worker before Apr 2026
  std::optional<uint64_t> active_prefill_tokens;  // router only: prefill tokens in flight
  std::optional<uint64_t> kv_used_blocks;         // worker only (Apr 2026 on): KV blocks in use
  std::optional<uint64_t> waiting_requests;       // worker only (newest): queued in the engine
  ActiveLoadOrigin origin = ActiveLoadOrigin::kWorker;  // set by ClassifyActiveLoad

  WorkerKey key() const { return WorkerKey{worker_id, dp_rank}; }

  friend bool operator==(const ActiveLoad&, const ActiveLoad&) = default;
};

// Who published `load`, by the rule of Dynamo's reference (section 3): a record with
// kv_used_blocks set comes from the worker; one with kv_used_blocks nil and
// active_prefill_tokens set comes from a router; one with both nil and
// active_decode_blocks set is a worker's record of the form used before April 2026
// (Dynamo's worker always publishes decode blocks or used blocks, never prefill
// tokens). A record with none of the three says nothing about load and has no
// origin: none (waiting_requests alone does not make a record; no publisher sends
// that). `origin` in `load` is not read.
std::optional<ActiveLoadOrigin> ClassifyActiveLoad(const ActiveLoad& load);

// Decodes an envelope's payload as an ActiveLoad (MessagePack map, named fields,
// unknown keys ignored) and classifies it. Every field is used by the figures or by
// the classification, so every bad field drops the record:
//   malformed_msgpack / oversized: see msgpack_reader.h;
//   wrong_type: not a map; a field of another type than above (a negative count, a
//     float, a string; nil for worker_id or dp_rank);
//   bad_worker_id: a negative worker_id;
//   out_of_range: dp_rank above 2^32 - 1;
//   missing_field: no worker_id, or no load figure (ClassifyActiveLoad gives none).
// A dropped record whose worker_id was read names its unit.
Decoded<ActiveLoad> DecodeActiveLoad(std::string_view payload);

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_ACTIVE_LOAD_H_
