#include "fleet/event_sink.h"

#include <variant>

#include "dynamo/event_subject.h"

namespace mk::fleet {
namespace {

template <typename Record>
std::optional<uint64_t> WorkerNamed(const dynamo::Decoded<Record>& decoded) {
  if (decoded.ok()) return decoded.record->worker_id;
  if (decoded.unit) return decoded.unit->lease_id;
  return std::nullopt;
}

template <typename Record>
void Drop(const EventScope& scope, const dynamo::Decoded<Record>& decoded, EventSink& sink) {
  sink.OnDrop(scope, decoded.unit ? std::optional(decoded.unit->lease_id) : std::nullopt,
              decoded.unit ? decoded.unit->dp_rank.value_or(0) : 0, decoded.reason);
}

}  // namespace

bool DeliverEnvelope(const EventScope& scope, const dynamo::EventEnvelope& envelope,
                     EventSink& sink, std::optional<uint64_t>* worker) {
  if (envelope.topic == dynamo::kKvMetricsTopic) {
    const dynamo::Decoded<dynamo::ActiveLoad> load = dynamo::DecodeActiveLoad(envelope.payload);
    load.ok() ? sink.OnActiveLoad(scope, *load.record) : Drop(scope, load, sink);
    if (worker != nullptr) *worker = WorkerNamed(load);
    return true;
  }
  if (envelope.topic == dynamo::kForwardPassMetricsTopic) {
    const dynamo::Decoded<dynamo::ForwardPassMetrics> fpm =
        dynamo::DecodeForwardPassMetrics(envelope.payload);
    fpm.ok() ? sink.OnForwardPass(scope, *fpm.record) : Drop(scope, fpm, sink);
    if (worker != nullptr) *worker = WorkerNamed(fpm);
    return true;
  }
  return false;
}

void DeliverJsonEvent(const EventScope& scope, std::string_view body,
                      dynamo::JsonEventDecoder& decoder, EventSink& sink) {
  const dynamo::Decoded<dynamo::JsonKvMetricsEvent> event = decoder.Decode(body);
  if (!event.ok()) {
    Drop(scope, event, sink);
    return;
  }
  if (const auto* report = std::get_if<dynamo::WorkerLoad>(&*event.record)) {
    sink.OnLoadReport(scope, *report);
  } else {
    sink.OnActiveLoad(scope, std::get<dynamo::ActiveLoad>(*event.record));
  }
}

}  // namespace mk::fleet
