// What a simulated Dynamo worker publishes on the event plane (topics `kv_metrics` and
// `forward-pass-metrics`), byte for byte as Dynamo writes it: the MessagePack
// ActiveLoad and ForwardPassMetrics records, the MessagePack EventEnvelope around
// them, the four ZMQ frames around that, the NATS subjects, and the older JSON events
// of NATS subject `namespace.<ns>.kv_metrics` (Aug 2025 - Jan 2026). The layouts are
// those of the project's Dynamo reference (dynamo-worker-metrics.md, section 3) and its
// fixtures; the unit tests decode every builder's output with the scaler's own
// decoders (src/dynamo).
//
// Pure functions of their arguments: no I/O, no clock, no randomness. Safe to call
// from any thread.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_EVENT_PAYLOADS_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_EVENT_PAYLOADS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mock_worker/worker_payloads.h"

namespace mk::mock {

inline constexpr std::string_view kKvMetricsTopic = "kv_metrics";
inline constexpr std::string_view kForwardPassMetricsTopic = "forward-pass-metrics";

// Tokens per KV block in the model card the simulated workers register.
inline constexpr uint64_t kKvBlockSize = 16;
// Prompt tokens of one queued request in the simulated ForwardPassMetrics.
inline constexpr uint64_t kPromptTokensPerRequest = 512;

// One ActiveLoad record. Every field is written, nil when none, in Dynamo's order.
struct ActiveLoadFields {
  uint64_t worker_id = 0;
  uint32_t dp_rank = 0;
  std::optional<uint64_t> active_decode_blocks;
  std::optional<uint64_t> active_prefill_tokens;
  std::optional<uint64_t> kv_used_blocks;
  std::optional<uint64_t> waiting_requests;

  friend bool operator==(const ActiveLoadFields&, const ActiveLoadFields&) = default;
};

// What a worker of today publishes about one of its ranks: kv_used_blocks and
// waiting_requests from `figures` (kv_active_blocks, num_requests_waiting), the
// router's fields nil.
ActiveLoadFields WorkerActiveLoad(uint64_t worker_id, uint32_t dp_rank,
                                  const WorkerFigures& figures);

// What a worker published before April 2026 (and in the JSON form of Dec 2025 - Jan
// 2026): only active_decode_blocks, set to the blocks in use.
ActiveLoadFields LegacyWorkerActiveLoad(uint64_t worker_id, uint32_t dp_rank,
                                        const WorkerFigures& figures);

// A router's prediction about a worker's rank: decode blocks and prefill tokens set,
// kv_used_blocks and waiting_requests nil.
ActiveLoadFields RouterActiveLoad(uint64_t worker_id, uint32_t dp_rank, uint64_t decode_blocks,
                                  uint64_t prefill_tokens);

// MessagePack map(6) {worker_id, dp_rank, active_decode_blocks, active_prefill_tokens,
// kv_used_blocks, waiting_requests}, integers in their shortest form, none as nil.
std::string PackActiveLoad(const ActiveLoadFields& load);

// One request group of a ForwardPassMetrics record.
struct RequestGroupFields {
  uint64_t num_prefill_requests = 0;
  uint64_t sum_prefill_tokens = 0;
  double var_prefill_length = 0;
  uint64_t sum_prefill_kv_tokens = 0;  // written in scheduled_requests only
  uint64_t num_decode_requests = 0;
  uint64_t sum_decode_kv_tokens = 0;
  double var_decode_kv_tokens = 0;
};

// ForwardPassMetrics version 1 in Dynamo's schema.
struct ForwardPassFields {
  uint64_t worker_id = 0;  // written as a decimal string
  uint32_t dp_rank = 0;
  uint64_t counter_id = 0;
  double wall_time_s = 0;
  RequestGroupFields scheduled;
  RequestGroupFields queued;
};

// The record of a worker rank at `load` (clamped to [0, 1]) with `figures` of that
// load: scheduled decode requests round(load * slots), their KV tokens
// kv_active_blocks * kKvBlockSize, queued prefill requests num_requests_waiting with
// kPromptTokensPerRequest tokens each. An idle rank (nothing scheduled or queued) gets
// the all-zero record Dynamo sends as a heartbeat; a busy one a step of 25 ms.
ForwardPassFields WorkerForwardPass(uint64_t worker_id, uint32_t dp_rank, uint64_t counter_id,
                                    double load, const WorkerFigures& figures);

// MessagePack map(7) {version 1, worker_id (string), dp_rank, counter_id, wall_time,
// scheduled_requests map(7), queued_requests map(6)}; floats always float64.
std::string PackForwardPassMetrics(const ForwardPassFields& metrics);

struct EnvelopeFields {
  uint64_t publisher_id = 0;
  uint64_t sequence = 0;
  uint64_t published_at_ms = 0;  // since the Unix epoch
  std::string_view topic;        // the plain topic
  std::string_view payload;      // the MessagePack record
};

// MessagePack map(5) {publisher_id, sequence, published_at, topic, payload (bin)}: the
// body of a NATS event message and what follows the header in ZMQ frame 3.
std::string PackEventEnvelope(const EnvelopeFields& envelope);

// The four frames of a ZMQ event: `frame_topic` (the plain topic on a direct
// connection, the full subject through a broker), the publisher id and the sequence as
// 8 bytes big-endian, then version byte 1, the envelope's length as a big-endian u32
// and the envelope.
std::array<std::string, 4> ZmqEventFrames(std::string_view frame_topic,
                                          const EnvelopeFields& envelope);

// Where a subject or an event channel is scoped.
enum class EventScope { kNamespace, kComponent, kEndpoint };

// The NATS subject (or broker frame topic) of `topic`:
//   namespace.<ns>.<topic>                                   (kNamespace)
//   namespace.<ns>.component.<c>.<topic>                     (kComponent)
//   namespace.<ns>.component.<c>.endpoint.<ep>.<topic>       (kEndpoint)
// With `percent_encode` (Dynamo 1.4 on) the names are percent-encoded as Dynamo does
// (PercentEncodeSegment); before that they stand as given.
std::string EventSubject(EventScope scope, std::string_view dynamo_namespace,
                         std::string_view component, std::string_view endpoint,
                         std::string_view topic, bool percent_encode);
// The subject without its last token: what a NATS event channel registers as its
// `subject_prefix`.
std::string EventSubjectPrefix(EventScope scope, std::string_view dynamo_namespace,
                               std::string_view component, std::string_view endpoint,
                               bool percent_encode);

// The JSON ActiveLoad of Dec 2025 - Jan 2026: {"worker_id", "dp_rank",
// "active_decode_blocks", "active_prefill_tokens"}, none as null; kv_used_blocks and
// waiting_requests follow only when set (that generation had neither).
std::string JsonActiveLoad(const ActiveLoadFields& load);

// The JSON LoadEvent of Aug - Dec 2025: {"worker_id": <id>, "data": <ForwardPassMetrics
// in the nested worker_stats / kv_stats form, data_parallel_rank `dp_rank`>}.
std::string JsonLoadEvent(uint64_t worker_id, uint32_t dp_rank, const WorkerFigures& figures);

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_EVENT_PAYLOADS_H_
