// The simulated workers' event payloads against the project's fixtures (byte for
// byte) and against the scaler's own decoders (src/dynamo), so that the mock and the
// scaler agree on every form.
#include "mock_worker/event_payloads.h"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "dynamo/active_load.h"
#include "dynamo/event_envelope.h"
#include "dynamo/event_test_util.h"
#include "dynamo/forward_pass_metrics.h"
#include "dynamo/json_event_decoder.h"

namespace mk::mock {
namespace {

using mk::dynamo::ActiveLoadOrigin;
using mk::dynamo::testing::ReadEventFile;
using mk::dynamo::testing::ReadHexFixture;

constexpr uint64_t kWorkerId = 0x694d9a3f1e2b7c05ULL;  // the fixtures' worker
constexpr uint64_t kPublishedAt = 1796040000123ULL;

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The fixtures' ForwardPassMetrics (fpm_dynamo_v1).
ForwardPassFields FixtureForwardPass() {
  ForwardPassFields m;
  m.worker_id = kWorkerId;
  m.dp_rank = 0;
  m.counter_id = 1523;
  m.wall_time_s = 0.0215;
  m.scheduled.num_prefill_requests = 2;
  m.scheduled.sum_prefill_tokens = 2048;
  m.scheduled.var_prefill_length = 1048576.0;
  m.scheduled.sum_prefill_kv_tokens = 512;
  m.scheduled.num_decode_requests = 30;
  m.scheduled.sum_decode_kv_tokens = 45000;
  m.scheduled.var_decode_kv_tokens = 2500.5;
  m.queued.num_prefill_requests = 3;
  m.queued.sum_prefill_tokens = 6000;
  return m;
}

TEST(PackActiveLoad, WorkerRecordMatchesFixtureByteForByte) {
  ActiveLoadFields load;
  load.worker_id = kWorkerId;
  load.kv_used_blocks = 4321;
  load.waiting_requests = 3;
  EXPECT_EQ(PackActiveLoad(load), ReadHexFixture("activeload_v3_worker.payload.hex"));
}

TEST(PackActiveLoad, RouterRecordMatchesFixtureByteForByte) {
  EXPECT_EQ(PackActiveLoad(RouterActiveLoad(kWorkerId, 1, 812, 3072)),
            ReadHexFixture("activeload_v3_router.payload.hex"));
}

TEST(PackActiveLoad, WorkerFiguresDecodeAsAWorkerRecord) {
  const WorkerFigures figures = FiguresForLoad(0.9, 8192, 64);
  const std::string bytes = PackActiveLoad(WorkerActiveLoad(kWorkerId, 3, figures));
  const auto decoded = mk::dynamo::DecodeActiveLoad(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const mk::dynamo::ActiveLoad& load = *decoded.record;
  EXPECT_EQ(load.worker_id, kWorkerId);
  EXPECT_EQ(load.dp_rank, 3u);
  EXPECT_EQ(load.kv_used_blocks, uint64_t{7373});  // round(0.9 * 8192)
  EXPECT_EQ(load.waiting_requests, uint64_t{10});  // round((0.9 - 0.8) * 100)
  EXPECT_FALSE(load.active_decode_blocks.has_value());
  EXPECT_FALSE(load.active_prefill_tokens.has_value());
  EXPECT_EQ(load.origin, ActiveLoadOrigin::kWorker);
}

TEST(PackActiveLoad, RouterRecordDecodesAsARouterRecord) {
  const auto decoded = mk::dynamo::DecodeActiveLoad(PackActiveLoad(RouterActiveLoad(7, 0, 5, 9)));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->origin, ActiveLoadOrigin::kRouter);
  EXPECT_FALSE(decoded.record->kv_used_blocks.has_value());
}

TEST(PackActiveLoad, LegacyWorkerRecordCarriesDecodeBlocksOnly) {
  const WorkerFigures figures = FiguresForLoad(0.25, 1000, 64);
  const auto decoded =
      mk::dynamo::DecodeActiveLoad(PackActiveLoad(LegacyWorkerActiveLoad(9, 0, figures)));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->origin, ActiveLoadOrigin::kWorker);
  EXPECT_EQ(decoded.record->active_decode_blocks, uint64_t{250});
  EXPECT_FALSE(decoded.record->kv_used_blocks.has_value());
}

TEST(PackForwardPassMetrics, MatchesFixtureByteForByte) {
  EXPECT_EQ(PackForwardPassMetrics(FixtureForwardPass()),
            ReadHexFixture("fpm_dynamo_v1.payload.hex"));
}

TEST(PackForwardPassMetrics, WorkerRecordDecodesWithItsFigures) {
  const WorkerFigures figures = FiguresForLoad(0.85, 4096, 100);
  const std::string bytes =
      PackForwardPassMetrics(WorkerForwardPass(0xffffffffffffffffULL, 2, 17, 0.85, figures));
  const auto decoded = mk::dynamo::DecodeForwardPassMetrics(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const mk::dynamo::ForwardPassMetrics& m = *decoded.record;
  EXPECT_EQ(m.worker_id, 0xffffffffffffffffULL);  // a decimal string of 20 digits
  EXPECT_EQ(m.dp_rank, 2u);
  EXPECT_EQ(m.counter_id, uint64_t{17});
  EXPECT_EQ(m.scheduled.num_decode_requests, 85u);  // round(0.85 * 100)
  EXPECT_EQ(m.scheduled.sum_decode_kv_tokens, figures.kv_active_blocks * kKvBlockSize);
  EXPECT_EQ(m.queued.num_prefill_requests, 5u);  // round((0.85 - 0.8) * 100)
  EXPECT_EQ(m.queued.sum_prefill_tokens, 5u * kPromptTokensPerRequest);
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

TEST(PackForwardPassMetrics, IdleRecordIsAllZero) {
  const ForwardPassFields m = WorkerForwardPass(1, 0, 0, 0.0, FiguresForLoad(0.0, 8192, 64));
  EXPECT_EQ(m.wall_time_s, 0.0);
  EXPECT_EQ(m.scheduled.num_decode_requests, 0u);
  EXPECT_EQ(m.queued.num_prefill_requests, 0u);
  EXPECT_TRUE(mk::dynamo::DecodeForwardPassMetrics(PackForwardPassMetrics(m)).ok());
}

TEST(PackEventEnvelope, ActiveLoadEnvelopeMatchesFixtureByteForByte) {
  const std::string payload = ReadHexFixture("activeload_v2_worker.payload.hex");
  EnvelopeFields envelope{0x000f3a5c9e1d2b47ULL, 41, kPublishedAt, kKvMetricsTopic, payload};
  EXPECT_EQ(PackEventEnvelope(envelope), ReadHexFixture("envelope_activeload_v2_worker.hex"));
}

TEST(PackEventEnvelope, RouterNatsBodyMatchesFixtureByteForByte) {
  const std::string payload = PackActiveLoad(RouterActiveLoad(kWorkerId, 1, 812, 3072));
  EnvelopeFields envelope{0x001a2b3c4d5e6f70ULL, 7, 1796040000128ULL, kKvMetricsTopic, payload};
  EXPECT_EQ(PackEventEnvelope(envelope), ReadHexFixture("nats_activeload_v3_router.body.hex"));
}

TEST(PackEventEnvelope, ForwardPassEnvelopeMatchesFixtureByteForByte) {
  const std::string payload = PackForwardPassMetrics(FixtureForwardPass());
  EnvelopeFields envelope{0x0003c0ffee123457ULL, 1523, 1796040000132ULL, kForwardPassMetricsTopic,
                          payload};
  EXPECT_EQ(PackEventEnvelope(envelope), ReadHexFixture("envelope_fpm_dynamo_v1.hex"));
}

TEST(PackEventEnvelope, DecodesBack) {
  const std::string payload = PackActiveLoad(WorkerActiveLoad(5, 0, FiguresForLoad(0.5, 100, 8)));
  EnvelopeFields envelope{(uint64_t{1} << 53) - 1, 0, kPublishedAt, kKvMetricsTopic, payload};
  const std::string body = PackEventEnvelope(envelope);
  const auto decoded = mk::dynamo::DecodeEventEnvelope(body);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->publisher_id, (uint64_t{1} << 53) - 1);
  EXPECT_EQ(decoded.record->sequence, 0u);
  EXPECT_EQ(decoded.record->published_at_ms, kPublishedAt);
  EXPECT_EQ(decoded.record->topic, "kv_metrics");
  EXPECT_EQ(decoded.record->payload, payload);
}

TEST(ZmqEventFrames, ActiveLoadFramesMatchFixturesByteForByte) {
  const std::string payload = ReadHexFixture("activeload_v2_worker.payload.hex");
  EnvelopeFields envelope{0x000f3a5c9e1d2b47ULL, 41, kPublishedAt, kKvMetricsTopic, payload};
  const auto frames = ZmqEventFrames("kv_metrics", envelope);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(frames[i],
              ReadHexFixture("zmq_activeload_v2_worker.frame" + std::to_string(i) + ".hex"))
        << "frame " << i;
  }
}

TEST(ZmqEventFrames, ForwardPassFramesMatchFixturesByteForByte) {
  const std::string payload = PackForwardPassMetrics(FixtureForwardPass());
  EnvelopeFields envelope{0x0003c0ffee123457ULL, 1523, 1796040000132ULL, kForwardPassMetricsTopic,
                          payload};
  const auto frames = ZmqEventFrames(kForwardPassMetricsTopic, envelope);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(frames[i], ReadHexFixture("zmq_fpm_dynamo_v1.frame" + std::to_string(i) + ".hex"))
        << "frame " << i;
  }
}

TEST(ZmqEventFrames, DecodeBackWithTheScalersDecoder) {
  const std::string payload =
      PackActiveLoad(WorkerActiveLoad(kWorkerId, 0, FiguresForLoad(0.3, 8192, 64)));
  EnvelopeFields envelope{0x1234, 99, kPublishedAt, kKvMetricsTopic, payload};
  const std::string subject =
      EventSubject(EventScope::kEndpoint, "prod.v2", "backend", "generate", kKvMetricsTopic, true);
  const auto frames = ZmqEventFrames(subject, envelope);
  const std::string_view views[4] = {frames[0], frames[1], frames[2], frames[3]};
  const auto decoded = mk::dynamo::DecodeZmqEvent(std::span<const std::string_view>(views));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->frame_topic, subject);
  EXPECT_EQ(decoded.record->envelope.publisher_id, 0x1234u);
  EXPECT_EQ(decoded.record->envelope.sequence, 99u);
  const auto load = mk::dynamo::DecodeActiveLoad(decoded.record->envelope.payload);
  ASSERT_TRUE(load.ok()) << load.detail;
  EXPECT_EQ(load.record->kv_used_blocks, uint64_t{2458});  // round(0.3 * 8192)
}

TEST(EventSubject, EveryScopeAsTheFixturesSpellIt) {
  EXPECT_EQ(
      EventSubject(EventScope::kNamespace, "dynamo", "backend", "generate", kKvMetricsTopic, false),
      "namespace.dynamo.kv_metrics");
  EXPECT_EQ(EventSubject(EventScope::kComponent, "dynamo", "backend", "generate",
                         kForwardPassMetricsTopic, true),
            "namespace.dynamo.component.backend.forward-pass-metrics");
  EXPECT_EQ(
      EventSubject(EventScope::kEndpoint, "dynamo", "backend", "generate", kKvMetricsTopic, true),
      "namespace.dynamo.component.backend.endpoint.generate.kv_metrics");
  EXPECT_EQ(EventSubjectPrefix(EventScope::kComponent, "dynamo", "backend", "", true),
            "namespace.dynamo.component.backend");
}

TEST(EventSubject, PercentEncodesEachNameSince14) {
  EXPECT_EQ(
      EventSubject(EventScope::kEndpoint, "prod.v2/x y", "my.comp", "gen", kKvMetricsTopic, true),
      "namespace.prod%2Ev2%2Fx%20y.component.my%2Ecomp.endpoint.gen.kv_metrics");
  EXPECT_EQ(EventSubject(EventScope::kNamespace, "prod", "c", "e", kKvMetricsTopic, false),
            "namespace.prod.kv_metrics");
}

TEST(JsonActiveLoad, WorkerRecordMatchesFixtureByteForByte) {
  ActiveLoadFields load;
  load.worker_id = 7587890543068937221ULL;
  load.active_decode_blocks = 1234;
  EXPECT_EQ(JsonActiveLoad(load), Trimmed(ReadEventFile("nats_json_activeload_dec2025.json")));
}

TEST(JsonActiveLoad, DecodesWithTheScalersJsonDecoder) {
  mk::dynamo::JsonEventDecoder decoder;
  const WorkerFigures figures = FiguresForLoad(0.5, 2000, 64);
  const auto worker = decoder.Decode(JsonActiveLoad(LegacyWorkerActiveLoad(kWorkerId, 1, figures)));
  ASSERT_TRUE(worker.ok()) << worker.detail;
  const auto* load = std::get_if<mk::dynamo::ActiveLoad>(&*worker.record);
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->worker_id, kWorkerId);
  EXPECT_EQ(load->dp_rank, 1u);
  EXPECT_EQ(load->active_decode_blocks, uint64_t{1000});
  EXPECT_EQ(load->origin, ActiveLoadOrigin::kWorker);

  const auto router = decoder.Decode(JsonActiveLoad(RouterActiveLoad(kWorkerId, 0, 10, 20)));
  ASSERT_TRUE(router.ok()) << router.detail;
  EXPECT_EQ(std::get<mk::dynamo::ActiveLoad>(*router.record).origin, ActiveLoadOrigin::kRouter);

  const auto newest = decoder.Decode(JsonActiveLoad(WorkerActiveLoad(kWorkerId, 0, figures)));
  ASSERT_TRUE(newest.ok()) << newest.detail;
  EXPECT_EQ(std::get<mk::dynamo::ActiveLoad>(*newest.record).kv_used_blocks, uint64_t{1000});
}

TEST(JsonLoadEvent, MatchesFixtureByteForByte) {
  WorkerFigures figures;
  figures.request_active_slots = 12;
  figures.request_total_slots = 256;
  figures.kv_active_blocks = 1234;
  figures.kv_total_blocks = 16384;
  figures.num_requests_waiting = 3;
  figures.gpu_cache_usage_perc = 0.0753;
  figures.gpu_prefix_cache_hit_rate = 0.25;
  EXPECT_EQ(JsonLoadEvent(7587890543068937221ULL, 0, figures),
            Trimmed(ReadEventFile("nats_json_loadevent_legacy.json")));
}

TEST(JsonLoadEvent, DecodesWithTheScalersJsonDecoder) {
  mk::dynamo::JsonEventDecoder decoder;
  const WorkerFigures figures = FiguresForLoad(0.75, 8192, 64);
  const auto decoded = decoder.Decode(JsonLoadEvent(kWorkerId, 2, figures));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const auto* load = std::get_if<mk::dynamo::WorkerLoad>(&*decoded.record);
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->key.lease_id, kWorkerId);
  EXPECT_EQ(load->key.dp_rank, std::optional<uint32_t>(2));
  EXPECT_EQ(load->kv_active_blocks, figures.kv_active_blocks);
  EXPECT_EQ(load->kv_total_blocks, 8192u);
  EXPECT_EQ(load->request_active_slots, figures.request_active_slots);
  EXPECT_EQ(load->num_requests_waiting, figures.num_requests_waiting);
}

}  // namespace
}  // namespace mk::mock
