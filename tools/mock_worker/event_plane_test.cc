// When the simulated fleet publishes, and that every message it puts on the wire reads
// back with the scaler's own decoders.
#include "mock_worker/event_plane.h"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dynamo/active_load.h"
#include "dynamo/event_envelope.h"
#include "dynamo/forward_pass_metrics.h"
#include "dynamo/json_event_decoder.h"

namespace mk::mock {
namespace {

using namespace std::chrono_literals;
using mk::dynamo::ActiveLoadOrigin;
using Clock = EventPlane::Clock;

constexpr uint64_t kPublishedAt = 1796040000123ULL;

EventPlaneSettings Settings(EventForm form) {
  EventPlaneSettings s;
  s.form = form;
  s.dynamo_namespace = "dynamo";
  s.component = "backend";
  s.endpoint = "generate";
  s.kv_total_blocks = 1000;
  s.slots_total = 10;
  return s;
}

std::vector<EventWorker> Workers(size_t n) {
  std::vector<EventWorker> workers;
  for (size_t i = 0; i < n; ++i) {
    workers.push_back({0x7000 + i, 0x100 + i, 0x200 + i});
  }
  return workers;
}

// One decoded event-plane message of an envelope form.
struct Decoded {
  std::string destination;  // frame 0 or the subject
  uint64_t publisher_id = 0;
  uint64_t sequence = 0;
  std::string topic;
  std::string payload;
};

Decoded DecodeMessage(const EventMessage& message) {
  Decoded out;
  mk::dynamo::Decoded<mk::dynamo::EventEnvelope> envelope;
  std::string body;
  if (const auto* zmq = std::get_if<ZmqMessage>(&message)) {
    const std::string_view views[4] = {(*zmq)[0], (*zmq)[1], (*zmq)[2], (*zmq)[3]};
    const auto event = mk::dynamo::DecodeZmqEvent(std::span<const std::string_view>(views));
    EXPECT_TRUE(event.ok()) << event.detail;
    if (!event.ok()) return out;
    out.destination = std::string(event.record->frame_topic);
    envelope = mk::dynamo::Decoded<mk::dynamo::EventEnvelope>::Keep(event.record->envelope);
  } else {
    const auto& nats = std::get<NatsMessage>(message);
    out.destination = nats.subject;
    envelope = mk::dynamo::DecodeEventEnvelope(nats.body);
    EXPECT_TRUE(envelope.ok()) << envelope.detail;
    if (!envelope.ok()) return out;
  }
  out.publisher_id = envelope.record->publisher_id;
  out.sequence = envelope.record->sequence;
  out.topic = std::string(envelope.record->topic);
  out.payload = std::string(envelope.record->payload);
  return out;
}

mk::dynamo::ActiveLoad LoadOf(const Decoded& message) {
  const auto load = mk::dynamo::DecodeActiveLoad(message.payload);
  EXPECT_TRUE(load.ok()) << load.detail;
  return load.ok() ? *load.record : mk::dynamo::ActiveLoad{};
}

TEST(EventForm, NamesRoundTrip) {
  for (const char* name : {"none", "zmq", "zmq-broker", "nats", "nats-namespace",
                           "json-active-load", "json-load-event"}) {
    const auto form = ParseEventForm(name);
    ASSERT_TRUE(form.has_value()) << name;
    EXPECT_EQ(EventFormName(*form), name);
  }
  EXPECT_FALSE(ParseEventForm("ZMQ").has_value());
  EXPECT_FALSE(ParseEventForm("").has_value());
}

TEST(EventPlane, NoneSendsNothing) {
  EventPlane plane(Settings(EventForm::kNone), Workers(2), 0, 1);
  std::vector<EventMessage> out;
  const double loads[] = {0.5, 0.5};
  plane.Collect(Clock::now(), kPublishedAt, loads, out);
  EXPECT_TRUE(out.empty());
}

TEST(EventPlane, ZmqPublishesEachRankThenOnlyOnChangeOrHeartbeat) {
  EventPlaneSettings s = Settings(EventForm::kZmq);
  s.dp_ranks = 2;
  s.heartbeat = 10s;
  EventPlane plane(s, Workers(2), 0, 1);
  const Clock::time_point t0 = Clock::now();
  std::vector<EventMessage> out;
  std::vector<double> loads = {0.25, 0.9};

  plane.Collect(t0, kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 4u);  // 2 workers x 2 ranks
  for (size_t k = 0; k < out.size(); ++k) {
    const Decoded m = DecodeMessage(out[k]);
    EXPECT_EQ(m.destination, "kv_metrics");
    EXPECT_EQ(m.topic, "kv_metrics");
    const size_t worker = k / 2;
    EXPECT_EQ(m.publisher_id, 0x100 + worker);
    EXPECT_EQ(m.sequence, k % 2);  // per publisher, from 0
    const auto load = LoadOf(m);
    EXPECT_EQ(load.worker_id, 0x7000 + worker);
    EXPECT_EQ(load.dp_rank, k % 2);
    EXPECT_EQ(load.origin, ActiveLoadOrigin::kWorker);
    EXPECT_EQ(load.kv_used_blocks, worker == 0 ? uint64_t{250} : uint64_t{900});
    EXPECT_EQ(load.waiting_requests, worker == 0 ? uint64_t{0} : uint64_t{10});
  }

  out.clear();
  plane.Collect(t0 + 1s, kPublishedAt, loads, out);
  EXPECT_TRUE(out.empty()) << "nothing changed, no heartbeat due";

  loads[1] = 0.5;
  plane.Collect(t0 + 2s, kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u) << "worker 1 changed: both its ranks";
  EXPECT_EQ(LoadOf(DecodeMessage(out[0])).kv_used_blocks, uint64_t{500});
  EXPECT_EQ(DecodeMessage(out[0]).sequence, 2u);

  out.clear();
  plane.Collect(t0 + 10s, kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u) << "worker 0's heartbeat";
  EXPECT_EQ(LoadOf(DecodeMessage(out[0])).worker_id, 0x7000u);
  EXPECT_EQ(DecodeMessage(out[0]).sequence, 2u);

  out.clear();
  plane.Collect(t0 + 12s, kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u) << "worker 1's heartbeat";
  EXPECT_EQ(LoadOf(DecodeMessage(out[0])).worker_id, 0x7001u);
}

TEST(EventPlane, ZeroHeartbeatNeverRepublishes) {
  EventPlaneSettings s = Settings(EventForm::kNats);
  s.heartbeat = 0ms;
  EventPlane plane(s, Workers(1), 0, 1);
  const Clock::time_point t0 = Clock::now();
  std::vector<EventMessage> out;
  const double loads[] = {0.5};
  plane.Collect(t0, kPublishedAt, loads, out);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  plane.Collect(t0 + 1h, kPublishedAt, loads, out);
  EXPECT_TRUE(out.empty());
}

TEST(EventPlane, NatsUsesThePercentEncodedEndpointSubject) {
  EventPlaneSettings s = Settings(EventForm::kNats);
  s.dynamo_namespace = "prod.v2";
  EventPlane plane(s, Workers(1), 0, 1);
  std::vector<EventMessage> out;
  const double loads[] = {0.5};
  plane.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 1u);
  const Decoded m = DecodeMessage(out[0]);
  EXPECT_EQ(m.destination, "namespace.prod%2Ev2.component.backend.endpoint.generate.kv_metrics");
  EXPECT_EQ(LoadOf(m).kv_used_blocks, uint64_t{500});
}

TEST(EventPlane, NatsNamespaceAndBrokerDestinations) {
  std::vector<EventMessage> out;
  const double loads[] = {0.5};
  EventPlane ns(Settings(EventForm::kNatsNamespace), Workers(1), 0, 1);
  ns.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(DecodeMessage(out[0]).destination, "namespace.dynamo.kv_metrics");

  out.clear();
  EventPlane broker(Settings(EventForm::kZmqBroker), Workers(1), 0, 1);
  broker.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ZmqMessage>(out[0]));
  EXPECT_EQ(DecodeMessage(out[0]).destination,
            "namespace.dynamo.component.backend.endpoint.generate.kv_metrics");
}

TEST(EventPlane, ForwardPassMetricsOncePerPeriodPerRank) {
  EventPlaneSettings s = Settings(EventForm::kZmq);
  s.forward_pass_metrics = true;
  s.dp_ranks = 2;
  EventPlane plane(s, Workers(1), 0, 1);
  const Clock::time_point t0 = Clock::now();
  std::vector<EventMessage> out;
  const double loads[] = {0.85};
  plane.Collect(t0, kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 4u);  // 2 ActiveLoad + 2 ForwardPassMetrics
  for (size_t k = 2; k < 4; ++k) {
    const Decoded m = DecodeMessage(out[k]);
    EXPECT_EQ(m.destination, "forward-pass-metrics");
    EXPECT_EQ(m.topic, "forward-pass-metrics");
    EXPECT_EQ(m.publisher_id, 0x200u);
    EXPECT_EQ(m.sequence, k - 2);
    const auto fpm = mk::dynamo::DecodeForwardPassMetrics(m.payload);
    ASSERT_TRUE(fpm.ok()) << fpm.detail;
    EXPECT_EQ(fpm.record->worker_id, 0x7000u);
    EXPECT_EQ(fpm.record->dp_rank, k - 2);
    EXPECT_EQ(fpm.record->scheduled.num_decode_requests, 9u);  // round(0.85 * 10)
    EXPECT_EQ(fpm.record->queued.num_prefill_requests, 5u);
    EXPECT_EQ(fpm.record->queued.sum_prefill_tokens, 5u * 512u);
  }
  out.clear();
  plane.Collect(t0 + 500ms, kPublishedAt, loads, out);
  EXPECT_TRUE(out.empty());
  plane.Collect(t0 + 1s, kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u);
  const auto fpm = mk::dynamo::DecodeForwardPassMetrics(DecodeMessage(out[0]).payload);
  ASSERT_TRUE(fpm.ok());
  EXPECT_EQ(fpm.record->counter_id, uint64_t{1});
}

TEST(EventPlane, ForwardPassMetricsOnNatsUseTheComponentSubject) {
  EventPlaneSettings s = Settings(EventForm::kNats);
  s.forward_pass_metrics = true;
  EventPlane plane(s, Workers(1), 0, 1);
  std::vector<EventMessage> out;
  const double loads[] = {0.1};
  plane.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(DecodeMessage(out[1]).destination,
            "namespace.dynamo.component.backend.forward-pass-metrics");
}

TEST(EventPlane, SharedPublisherIdSharesOneSequence) {
  EventPlaneSettings s = Settings(EventForm::kZmq);
  s.forward_pass_metrics = true;
  EventPlane plane(s, {{0x7000, 0x7000, 0x7000}}, 0, 1);
  std::vector<EventMessage> out;
  const double loads[] = {0.5};
  plane.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(DecodeMessage(out[0]).sequence, 0u);
  EXPECT_EQ(DecodeMessage(out[1]).sequence, 1u);
  EXPECT_EQ(DecodeMessage(out[1]).publisher_id, 0x7000u);
}

TEST(EventPlane, RouterNoiseIsClassifiedAsRouter) {
  EventPlaneSettings s = Settings(EventForm::kZmq);
  s.router_noise = true;
  s.dp_ranks = 4;
  EventPlane plane(s, Workers(3), 0xabc, 7);
  const Clock::time_point t0 = Clock::now();
  std::vector<EventMessage> out;
  const double loads[] = {0.5, 0.5, 0.5};
  for (int second = 0; second < 5; ++second) {
    plane.Collect(t0 + std::chrono::seconds(second), kPublishedAt, loads, out);
  }
  size_t routers = 0;
  uint64_t next_router_sequence = 0;
  for (const EventMessage& message : out) {
    const Decoded m = DecodeMessage(message);
    const auto load = LoadOf(m);
    if (m.publisher_id != 0xabc) {
      EXPECT_EQ(load.origin, ActiveLoadOrigin::kWorker);
      continue;
    }
    ++routers;
    EXPECT_EQ(m.sequence, next_router_sequence++);
    EXPECT_EQ(load.origin, ActiveLoadOrigin::kRouter);
    EXPECT_FALSE(load.kv_used_blocks.has_value());
    EXPECT_TRUE(load.active_prefill_tokens.has_value());
    EXPECT_TRUE(load.active_decode_blocks.has_value());
    EXPECT_LE(*load.active_decode_blocks, 1000u);
    EXPECT_LT(load.dp_rank, 4u);
    EXPECT_GE(load.worker_id, 0x7000u);
    EXPECT_LE(load.worker_id, 0x7002u);
  }
  EXPECT_EQ(routers, 15u);  // 3 workers, once a second for 5 seconds
}

TEST(EventPlane, JsonActiveLoadFormsDecode) {
  EventPlaneSettings s = Settings(EventForm::kJsonActiveLoad);
  s.router_noise = true;
  EventPlane plane(s, Workers(1), 0xabc, 7);
  std::vector<EventMessage> out;
  const double loads[] = {0.4};
  plane.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u);
  mk::dynamo::JsonEventDecoder decoder;
  const auto& worker = std::get<NatsMessage>(out[0]);
  EXPECT_EQ(worker.subject, "namespace.dynamo.kv_metrics");
  const auto decoded = decoder.Decode(worker.body);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const auto& load = std::get<mk::dynamo::ActiveLoad>(*decoded.record);
  EXPECT_EQ(load.origin, ActiveLoadOrigin::kWorker);
  EXPECT_EQ(load.active_decode_blocks, uint64_t{400});
  const auto router = decoder.Decode(std::get<NatsMessage>(out[1]).body);
  ASSERT_TRUE(router.ok()) << router.detail;
  EXPECT_EQ(std::get<mk::dynamo::ActiveLoad>(*router.record).origin, ActiveLoadOrigin::kRouter);
}

TEST(EventPlane, JsonLoadEventCarriesEachRank) {
  EventPlaneSettings s = Settings(EventForm::kJsonLoadEvent);
  s.dp_ranks = 2;
  EventPlane plane(s, Workers(1), 0, 1);
  std::vector<EventMessage> out;
  const double loads[] = {0.5};
  plane.Collect(Clock::now(), kPublishedAt, loads, out);
  ASSERT_EQ(out.size(), 2u);
  mk::dynamo::JsonEventDecoder decoder;
  for (uint32_t r = 0; r < 2; ++r) {
    const auto& message = std::get<NatsMessage>(out[r]);
    EXPECT_EQ(message.subject, "namespace.dynamo.kv_metrics");
    const auto decoded = decoder.Decode(message.body);
    ASSERT_TRUE(decoded.ok()) << decoded.detail;
    const auto& load = std::get<mk::dynamo::WorkerLoad>(*decoded.record);
    EXPECT_EQ(load.key.lease_id, 0x7000u);
    EXPECT_EQ(load.key.dp_rank, std::optional<uint32_t>(r));
    EXPECT_EQ(load.kv_active_blocks, 500u);
    EXPECT_EQ(load.request_active_slots, 5u);
  }
}

}  // namespace
}  // namespace mk::mock
