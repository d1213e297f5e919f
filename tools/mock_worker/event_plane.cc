#include "mock_worker/event_plane.h"

#include <algorithm>
#include <utility>

namespace mk::mock {
namespace {

constexpr uint64_t kMaxRouterPrefillTokens = 8192;

struct FormName {
  EventForm form;
  std::string_view name;
};
constexpr FormName kFormNames[] = {
    {EventForm::kNone, "none"},
    {EventForm::kZmq, "zmq"},
    {EventForm::kZmqBroker, "zmq-broker"},
    {EventForm::kNats, "nats"},
    {EventForm::kNatsNamespace, "nats-namespace"},
    {EventForm::kJsonActiveLoad, "json-active-load"},
    {EventForm::kJsonLoadEvent, "json-load-event"},
};

}  // namespace

std::string_view EventFormName(EventForm form) {
  for (const FormName& entry : kFormNames) {
    if (entry.form == form) return entry.name;
  }
  return "none";
}

std::optional<EventForm> ParseEventForm(std::string_view name) {
  for (const FormName& entry : kFormNames) {
    if (entry.name == name) return entry.form;
  }
  return std::nullopt;
}

bool IsZmqForm(EventForm form) { return form == EventForm::kZmq || form == EventForm::kZmqBroker; }

bool IsEnvelopeForm(EventForm form) {
  return IsZmqForm(form) || form == EventForm::kNats || form == EventForm::kNatsNamespace;
}

EventPlane::EventPlane(EventPlaneSettings settings, std::vector<EventWorker> workers,
                       uint64_t router_publisher_id, uint64_t seed)
    : settings_(std::move(settings)),
      workers_(std::move(workers)),
      router_publisher_id_(router_publisher_id),
      state_(workers_.size()),
      random_(seed) {
  const EventPlaneSettings& s = settings_;
  switch (s.form) {
    case EventForm::kZmq:
      kv_destination_ = std::string(kKvMetricsTopic);
      fpm_destination_ = std::string(kForwardPassMetricsTopic);
      break;
    case EventForm::kZmqBroker:
    case EventForm::kNats:
      kv_destination_ = EventSubject(EventScope::kEndpoint, s.dynamo_namespace, s.component,
                                     s.endpoint, kKvMetricsTopic, true);
      fpm_destination_ = EventSubject(EventScope::kComponent, s.dynamo_namespace, s.component,
                                      s.endpoint, kForwardPassMetricsTopic, true);
      break;
    case EventForm::kNatsNamespace:
    case EventForm::kJsonActiveLoad:
    case EventForm::kJsonLoadEvent:
      kv_destination_ = EventSubject(EventScope::kNamespace, s.dynamo_namespace, s.component,
                                     s.endpoint, kKvMetricsTopic, false);
      fpm_destination_ = EventSubject(EventScope::kComponent, s.dynamo_namespace, s.component,
                                      s.endpoint, kForwardPassMetricsTopic, false);
      break;
    case EventForm::kNone:
      break;
  }
}

std::tuple<uint64_t, uint64_t, uint64_t> EventPlane::ChangeKey(const WorkerFigures& f) const {
  switch (settings_.form) {
    case EventForm::kJsonActiveLoad:  // carries the blocks only
      return {f.kv_active_blocks, 0, 0};
    case EventForm::kJsonLoadEvent:  // carries the slots too
      return {f.kv_active_blocks, f.num_requests_waiting, f.request_active_slots};
    default:
      return {f.kv_active_blocks, f.num_requests_waiting, 0};
  }
}

void EventPlane::AddEnvelope(uint64_t publisher_id, uint64_t published_at_ms,
                             std::string_view topic, const std::string& destination,
                             const std::string& payload, std::vector<EventMessage>& out) {
  EnvelopeFields envelope;
  envelope.publisher_id = publisher_id;
  envelope.sequence = next_sequence_[publisher_id]++;
  envelope.published_at_ms = published_at_ms;
  envelope.topic = topic;
  envelope.payload = payload;
  if (IsZmqForm(settings_.form)) {
    out.emplace_back(ZmqEventFrames(destination, envelope));
  } else {
    out.emplace_back(NatsMessage{destination, PackEventEnvelope(envelope)});
  }
}

void EventPlane::AddKvRecord(const ActiveLoadFields& load, const WorkerFigures& figures,
                             uint64_t publisher_id, uint64_t published_at_ms,
                             std::vector<EventMessage>& out) {
  switch (settings_.form) {
    case EventForm::kJsonActiveLoad:
      out.emplace_back(NatsMessage{kv_destination_, JsonActiveLoad(load)});
      return;
    case EventForm::kJsonLoadEvent:
      out.emplace_back(
          NatsMessage{kv_destination_, JsonLoadEvent(load.worker_id, load.dp_rank, figures)});
      return;
    case EventForm::kNone:
      return;
    default:
      AddEnvelope(publisher_id, published_at_ms, kKvMetricsTopic, kv_destination_,
                  PackActiveLoad(load), out);
  }
}

void EventPlane::Collect(Clock::time_point now, uint64_t published_at_ms,
                         std::span<const double> loads, std::vector<EventMessage>& out) {
  const EventPlaneSettings& s = settings_;
  if (s.form == EventForm::kNone) return;
  const uint32_t ranks = std::max<uint32_t>(s.dp_ranks, 1);
  const bool envelope = IsEnvelopeForm(s.form);
  for (size_t i = 0; i < workers_.size(); ++i) {
    const EventWorker& worker = workers_[i];
    WorkerState& state = state_[i];
    const double load = i < loads.size() ? loads[i] : 0.0;
    const WorkerFigures figures = FiguresForLoad(load, s.kv_total_blocks, s.slots_total);

    const auto key = ChangeKey(figures);
    const bool heartbeat_due = s.heartbeat.count() > 0 && now >= state.next_heartbeat;
    if (!state.published || *state.published != key || heartbeat_due) {
      for (uint32_t r = 0; r < ranks; ++r) {
        const ActiveLoadFields record = s.form == EventForm::kJsonActiveLoad
                                            ? LegacyWorkerActiveLoad(worker.worker_id, r, figures)
                                            : WorkerActiveLoad(worker.worker_id, r, figures);
        AddKvRecord(record, figures, worker.kv_publisher_id, published_at_ms, out);
      }
      state.published = key;
      state.next_heartbeat = now + s.heartbeat;
    }

    if (s.forward_pass_metrics && envelope && now >= state.next_fpm) {
      for (uint32_t r = 0; r < ranks; ++r) {
        const std::string payload = PackForwardPassMetrics(
            WorkerForwardPass(worker.worker_id, r, state.fpm_counter, load, figures));
        AddEnvelope(worker.fpm_publisher_id, published_at_ms, kForwardPassMetricsTopic,
                    fpm_destination_, payload, out);
      }
      ++state.fpm_counter;
      state.next_fpm = now + s.fpm_period;
    }

    if (s.router_noise && (envelope || s.form == EventForm::kJsonActiveLoad) &&
        now >= state.next_router) {
      const auto rank = static_cast<uint32_t>(random_() % ranks);
      const uint64_t decode_blocks = random_() % (s.kv_total_blocks + 1);
      const uint64_t prefill_tokens = 1 + random_() % kMaxRouterPrefillTokens;
      const ActiveLoadFields record =
          RouterActiveLoad(worker.worker_id, rank, decode_blocks, prefill_tokens);
      if (envelope) {
        AddEnvelope(router_publisher_id_, published_at_ms, kKvMetricsTopic, kv_destination_,
                    PackActiveLoad(record), out);
      } else {
        out.emplace_back(NatsMessage{kv_destination_, JsonActiveLoad(record)});
      }
      state.next_router = now + s.router_period;
    }
  }
}

}  // namespace mk::mock
