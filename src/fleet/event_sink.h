// The seam between event transports (ZMQ, NATS) and the fleet: a transport decodes
// what it hears and hands each record to an EventSink with the scope it was
// published in; the sink decides which targets it concerns. A transport calls
// Flush after each batch of records it has read, so that every record of the batch
// becomes visible in one snapshot per target (coalescing).
//
// Implementations are thread-safe: transports call from their own threads.
#ifndef METRICS_KEDA_FLEET_EVENT_SINK_H_
#define METRICS_KEDA_FLEET_EVENT_SINK_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include "dynamo/active_load.h"
#include "dynamo/drop_reason.h"
#include "dynamo/event_envelope.h"
#include "dynamo/forward_pass_metrics.h"
#include "dynamo/json_event_decoder.h"
#include "dynamo/worker_load.h"

namespace mk::fleet {

// Where a record was published: a namespace, and the component and endpoint where
// the subject or the channel names them (empty where it does not). Plain names, not
// percent-encoded.
struct EventScope {
  std::string dynamo_namespace;
  std::string component;
  std::string endpoint;

  friend auto operator<=>(const EventScope&, const EventScope&) = default;
  friend bool operator==(const EventScope&, const EventScope&) = default;
};

// Which transport heard it, for the per-source counters.
enum class EventTransport { kZmq, kNats };

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnActiveLoad(const EventScope& scope, const dynamo::ActiveLoad& load) = 0;
  virtual void OnForwardPass(const EventScope& scope, const dynamo::ForwardPassMetrics& fpm) = 0;
  // A JSON LoadEvent's whole report (Aug - Dec 2025).
  virtual void OnLoadReport(const EventScope& scope, const dynamo::WorkerLoad& report) = 0;
  // A record dropped for `reason`; `worker_id` when the decoder read it.
  virtual void OnDrop(const EventScope& scope, std::optional<uint64_t> worker_id, uint32_t dp_rank,
                      dynamo::DropReason reason) = 0;
  // The event channel `worker_id`'s records came through has been down for longer
  // than the staleness bound (`down`), or is back.
  virtual void OnChannelDown(const EventScope& scope, uint64_t worker_id, bool down) = 0;
  // Whether some event channel of `scope` that no record has come through yet has
  // been down (never connected) for longer than the staleness bound: its workers are
  // unknown, so registered units never heard cannot be taken as idle.
  virtual void OnSilentChannelsDown(const EventScope& scope, bool down) = 0;
  // Makes what was handed over since the last Flush visible.
  virtual void Flush() = 0;
};

// Decodes an envelope's payload by its topic (kv_metrics: ActiveLoad;
// forward-pass-metrics: ForwardPassMetrics) and hands the record, or its drop, to
// `sink`; `worker` (if given) gets the worker id the record names, when it was read.
// Other topics are not the scaler's: false, nothing handed over.
bool DeliverEnvelope(const EventScope& scope, const dynamo::EventEnvelope& envelope,
                     EventSink& sink, std::optional<uint64_t>* worker = nullptr);

// Decodes a JSON kv_metrics body (Aug 2025 - Jan 2026, json_event_decoder.h) and
// hands the record, or its drop, to `sink`.
void DeliverJsonEvent(const EventScope& scope, std::string_view body,
                      dynamo::JsonEventDecoder& decoder, EventSink& sink);

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_EVENT_SINK_H_
