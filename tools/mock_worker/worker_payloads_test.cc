#include "mock_worker/worker_payloads.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace mk::mock {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

WorkerIdentity TestWorker() {
  return MakeWorkerIdentity("dynamo_llm-worker", "kv-router", 0x7587867c5a2d0003ULL,
                            "AbCdEfGhIjK0123456789z");
}

TEST(Slugify, FollowsDynamo) {
  EXPECT_EQ(Slugify("dynamo_llm-worker"), "dynamo_llm-worker");
  EXPECT_EQ(Slugify("Dynamo_LLM-Worker"), "dynamo_llm-worker");
  EXPECT_EQ(Slugify("my ns.v2_vllm/worker"), "my_ns_v2_vllm_worker");
  EXPECT_EQ(Slugify("__lead"), "lead");
  EXPECT_EQ(Slugify(".x"), "x");   // '.' becomes '_', then trimmed
  EXPECT_EQ(Slugify("-x"), "-x");  // only '_' is trimmed
  EXPECT_EQ(Slugify("a__b"), "a__b");
  EXPECT_EQ(Slugify("ü"), "");      // two UTF-8 bytes, both '_', both leading
  EXPECT_EQ(Slugify("xü"), "x__");  // one '_' per byte
  EXPECT_EQ(Slugify("___"), "");
  EXPECT_EQ(Slugify(""), "");
}

TEST(ServiceName, JoinsNamespaceAndComponent) {
  EXPECT_EQ(ServiceName("dynamo", "llm-worker", false), "dynamo_llm-worker");
  EXPECT_EQ(ServiceName("Prod.A", "VllmWorker", false), "prod_a_vllmworker");
  EXPECT_EQ(ServiceName("_", "x", false), "x");
}

TEST(Fnv1a32, KnownVectors) {
  EXPECT_EQ(Fnv1a32(""), 0x811c9dc5u);
  EXPECT_EQ(Fnv1a32("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv1a32("foobar"), 0xbf9cf968u);
}

TEST(ServiceName, LegacyMapsDashesAndAppendsHash) {
  const std::string name = ServiceName("dynamo", "llm-worker", true);
  ASSERT_EQ(name.size(), std::string("dynamo_llm_worker_").size() + 8);
  EXPECT_EQ(name.substr(0, 18), "dynamo_llm_worker_");
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", Fnv1a32("dynamo_llm_worker"));
  EXPECT_EQ(name.substr(18), hex);
  for (const char c : name.substr(18)) EXPECT_TRUE(std::isxdigit(c) && !std::isupper(c)) << c;
  // Stable: same input, same name.
  EXPECT_EQ(ServiceName("dynamo", "llm-worker", true), name);
  EXPECT_NE(ServiceName("dynamo", "other", true).substr(18), name.substr(18));
}

TEST(LeaseHex, LowercaseNoPadding) {
  EXPECT_EQ(LeaseHex(0x7587867c5a2d0000ULL), "7587867c5a2d0000");
  EXPECT_EQ(LeaseHex(0xABCULL), "abc");
  EXPECT_EQ(LeaseHex(0), "0");
  EXPECT_EQ(LeaseHex(~0ULL), "ffffffffffffffff");
}

TEST(InstanceId, TwentyTwoAlphanumericUniqueAndStable) {
  std::set<std::string> seen;
  for (uint64_t i = 0; i < 20000; ++i) {
    const std::string id = InstanceId(0x1234567890abcdefULL, i);
    ASSERT_EQ(id.size(), 22u);
    for (const char c : id) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 20000u);
  EXPECT_EQ(InstanceId(7, 9), InstanceId(7, 9));
  EXPECT_NE(InstanceId(7, 9), InstanceId(8, 9));
  EXPECT_EQ(InstanceId(~0ULL, ~0ULL).size(), 22u);
}

TEST(EndpointOf, SubjectAndName) {
  const Endpoint e = EndpointOf("dynamo_llm-worker", "kv-router", 0x7587867c5a2d0003ULL);
  EXPECT_EQ(e.subject, "dynamo_llm-worker.kv-router-7587867c5a2d0003");
  EXPECT_EQ(e.name, "dynamo_llm-worker-kv-router-7587867c5a2d0003");
}

TEST(MakeWorkerIdentity, HasGenerateAndLoadEndpoints) {
  const WorkerIdentity w = TestWorker();
  EXPECT_EQ(w.service, "dynamo_llm-worker");
  EXPECT_EQ(w.lease_id, 0x7587867c5a2d0003ULL);
  EXPECT_EQ(w.generate.subject, "dynamo_llm-worker.generate-7587867c5a2d0003");
  EXPECT_EQ(w.generate.name, "dynamo_llm-worker-generate-7587867c5a2d0003");
  EXPECT_EQ(w.load.subject, "dynamo_llm-worker.kv-router-7587867c5a2d0003");
}

TEST(WorkerLoadShare, SpreadsLinearlyAndClamps) {
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.5, 0, 3, 10), 0.5);
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.5, 0.4, 0, 5), 0.3);
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.5, 0.4, 1, 5), 0.4);
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.5, 0.4, 2, 5), 0.5);
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.5, 0.4, 4, 5), 0.7);
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.5, -0.4, 0, 5), 0.7);  // negative: first worker highest
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.9, 1.0, 4, 5), 1.0);   // clamped
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.1, 1.0, 0, 5), 0.0);   // clamped
  EXPECT_DOUBLE_EQ(WorkerLoadShare(0.6, 1.0, 0, 1), 0.6);   // one worker: the fleet load
}

TEST(FiguresForLoad, HalfLoad) {
  const WorkerFigures f = FiguresForLoad(0.5, 8192, 64);
  EXPECT_EQ(f.kv_active_blocks, 4096u);
  EXPECT_EQ(f.kv_total_blocks, 8192u);
  EXPECT_EQ(f.request_active_slots, 32u);
  EXPECT_EQ(f.request_total_slots, 64u);
  EXPECT_EQ(f.num_requests_waiting, 0u);
  EXPECT_DOUBLE_EQ(f.gpu_cache_usage_perc, 0.5);
  EXPECT_DOUBLE_EQ(f.gpu_prefix_cache_hit_rate, 0.0);
}

TEST(FiguresForLoad, RoundingAndWaiting) {
  const WorkerFigures f = FiguresForLoad(0.9, 8192, 64);
  EXPECT_EQ(f.kv_active_blocks, 7373u);    // round(7372.8)
  EXPECT_EQ(f.request_active_slots, 57u);  // floor(57.6)
  EXPECT_EQ(f.num_requests_waiting, 10u);  // round(0.1 * 100)
  EXPECT_DOUBLE_EQ(f.gpu_cache_usage_perc, 7373.0 / 8192.0);

  EXPECT_EQ(FiguresForLoad(0.85, 8192, 64).num_requests_waiting, 5u);
  EXPECT_EQ(FiguresForLoad(0.8, 8192, 64).num_requests_waiting, 0u);
  EXPECT_EQ(FiguresForLoad(0.29, 100, 100).request_active_slots, 29u);  // not 28.999...
  EXPECT_EQ(FiguresForLoad(0.29, 100, 100).kv_active_blocks, 29u);
}

TEST(FiguresForLoad, FullAndEmpty) {
  const WorkerFigures full = FiguresForLoad(1.0, 8192, 64);
  EXPECT_EQ(full.kv_active_blocks, 8192u);
  EXPECT_EQ(full.request_active_slots, 64u);
  EXPECT_EQ(full.num_requests_waiting, 20u);
  EXPECT_DOUBLE_EQ(full.gpu_cache_usage_perc, 1.0);
  const WorkerFigures empty = FiguresForLoad(0.0, 8192, 64);
  EXPECT_EQ(empty.kv_active_blocks, 0u);
  EXPECT_EQ(empty.request_active_slots, 0u);
  EXPECT_DOUBLE_EQ(empty.gpu_cache_usage_perc, 0.0);
  EXPECT_EQ(FiguresForLoad(1.7, 10, 10).kv_active_blocks, 10u);  // clamped
  EXPECT_EQ(FiguresForLoad(-1, 10, 10).kv_active_blocks, 0u);
}

TEST(FiguresForLoad, NoKvBlocksReportsUsageDirectly) {
  const WorkerFigures f = FiguresForLoad(0.3, 0, 64);
  EXPECT_EQ(f.kv_active_blocks, 0u);
  EXPECT_EQ(f.kv_total_blocks, 0u);
  EXPECT_DOUBLE_EQ(f.gpu_cache_usage_perc, 0.3);
  EXPECT_EQ(f.request_active_slots, 19u);  // floor(19.2)
}

TEST(FiguresForLoad, ScalerLoadEqualsWorkerLoadUpToRounding) {
  for (double load = 0; load <= 1.0; load += 0.013) {
    const WorkerFigures f = FiguresForLoad(load, 8192, 64);
    const double kv = static_cast<double>(f.kv_active_blocks) / 8192.0;
    const double slots = static_cast<double>(f.request_active_slots) / 64.0;
    EXPECT_NEAR(std::max(kv, slots), load, 1.0 / 8192) << load;
  }
}

TEST(ForwardPassMetricsJson, Flat) {
  EXPECT_EQ(ForwardPassMetricsJson(FiguresForLoad(0.5, 8192, 64), MetricsForm::kFlat, std::nullopt),
            "{\"data_parallel_rank\":null,\"request_active_slots\":32,\"request_total_slots\":64,"
            "\"kv_active_blocks\":4096,\"kv_total_blocks\":8192,\"num_requests_waiting\":0,"
            "\"gpu_cache_usage_perc\":0.5,\"gpu_prefix_cache_hit_rate\":0.0}");
}

TEST(ForwardPassMetricsJson, Nested) {
  EXPECT_EQ(ForwardPassMetricsJson(FiguresForLoad(0.9, 8192, 64), MetricsForm::kNested, 2),
            "{\"worker_stats\":{\"data_parallel_rank\":2,\"request_active_slots\":57,"
            "\"request_total_slots\":64,\"num_requests_waiting\":10},"
            "\"kv_stats\":{\"kv_active_blocks\":7373,\"kv_total_blocks\":8192,"
            "\"gpu_cache_usage_perc\":0.9000244140625,\"gpu_prefix_cache_hit_rate\":0.0},"
            "\"spec_decode_stats\":null}");
}

TEST(ForwardPassMetricsJson, FractionsAlwaysLookLikeFloats) {
  const std::string full =
      ForwardPassMetricsJson(FiguresForLoad(1.0, 8192, 64), MetricsForm::kFlat, std::nullopt);
  EXPECT_THAT(full, HasSubstr("\"gpu_cache_usage_perc\":1.0,"));
  const std::string none =
      ForwardPassMetricsJson(FiguresForLoad(0.0, 0, 64), MetricsForm::kFlat, 0);
  EXPECT_THAT(none, HasSubstr("\"gpu_cache_usage_perc\":0.0,"));
  EXPECT_THAT(none, HasSubstr("\"data_parallel_rank\":0,"));
}

TEST(StatsReply, ExactFlatSingleRank) {
  const std::string json = StatsReply(TestWorker(), "2025-03-01T12:00:00.000000Z",
                                      FiguresForLoad(0.5, 8192, 64), MetricsForm::kFlat, 1);
  EXPECT_EQ(json,
            "{\"type\":\"io.nats.micro.v1.stats_response\",\"name\":\"dynamo_llm-worker\","
            "\"id\":\"AbCdEfGhIjK0123456789z\",\"version\":\"0.0.1\","
            "\"started\":\"2025-03-01T12:00:00.000000Z\",\"endpoints\":["
            "{\"name\":\"dynamo_llm-worker-generate-7587867c5a2d0003\","
            "\"subject\":\"dynamo_llm-worker.generate-7587867c5a2d0003\",\"num_requests\":0,"
            "\"num_errors\":0,\"processing_time\":0,\"average_processing_time\":0,"
            "\"last_error\":\"\",\"data\":null,\"queue_group\":\"q\"},"
            "{\"name\":\"dynamo_llm-worker-kv-router-7587867c5a2d0003\","
            "\"subject\":\"dynamo_llm-worker.kv-router-7587867c5a2d0003\",\"num_requests\":0,"
            "\"num_errors\":0,\"processing_time\":0,\"average_processing_time\":0,"
            "\"last_error\":\"\",\"data\":{\"data_parallel_rank\":null,"
            "\"request_active_slots\":32,\"request_total_slots\":64,\"kv_active_blocks\":4096,"
            "\"kv_total_blocks\":8192,\"num_requests_waiting\":0,\"gpu_cache_usage_perc\":0.5,"
            "\"gpu_prefix_cache_hit_rate\":0.0},\"queue_group\":\"q\"}]}");
}

TEST(StatsReply, NestedCarriesWorkerAndKvStats) {
  const std::string json =
      StatsReply(TestWorker(), "t", FiguresForLoad(0.25, 1000, 8), MetricsForm::kNested, 1);
  EXPECT_THAT(json, HasSubstr("\"data\":{\"worker_stats\":{\"data_parallel_rank\":null,"
                              "\"request_active_slots\":2,\"request_total_slots\":8,"
                              "\"num_requests_waiting\":0},\"kv_stats\":{\"kv_active_blocks\":250,"
                              "\"kv_total_blocks\":1000,\"gpu_cache_usage_perc\":0.25,"));
  EXPECT_THAT(json, HasSubstr("\"spec_decode_stats\":null}"));
  EXPECT_THAT(json, Not(HasSubstr("\"data\":{\"data_parallel_rank\"")));
}

TEST(StatsReply, DataParallelRanksRepeatTheLoadEndpoint) {
  const WorkerIdentity w = TestWorker();
  const std::string json = StatsReply(w, "t", FiguresForLoad(0.5, 8192, 64), MetricsForm::kFlat, 3);
  EXPECT_EQ(Count(json, "\"subject\":\"" + w.load.subject + "\""), 3u);
  EXPECT_EQ(Count(json, "\"subject\":\"" + w.generate.subject + "\""), 1u);
  EXPECT_EQ(Count(json, "\"data_parallel_rank\":0,"), 1u);
  EXPECT_EQ(Count(json, "\"data_parallel_rank\":1,"), 1u);
  EXPECT_EQ(Count(json, "\"data_parallel_rank\":2,"), 1u);
  EXPECT_EQ(Count(json, "\"data_parallel_rank\":null"), 0u);
  EXPECT_EQ(Count(json, "\"kv_active_blocks\":4096"), 3u);

  const std::string nested =
      StatsReply(w, "t", FiguresForLoad(0.5, 8192, 64), MetricsForm::kNested, 2);
  EXPECT_EQ(Count(nested, "\"worker_stats\":{\"data_parallel_rank\":0,"), 1u);
  EXPECT_EQ(Count(nested, "\"worker_stats\":{\"data_parallel_rank\":1,"), 1u);
}

TEST(StatsReply, NullFormCarriesNoLoadOnAnyEndpoint) {
  // What Dynamo workers answer since October 2025, once per rank.
  const WorkerIdentity w = TestWorker();
  const std::string json = StatsReply(w, "t", FiguresForLoad(0.5, 8192, 64), MetricsForm::kNull, 2);
  EXPECT_EQ(Count(json, "\"subject\":\"" + w.load.subject + "\""), 2u);
  EXPECT_EQ(Count(json, "\"data\":null"), 3u);  // generate and both ranks
  EXPECT_THAT(json, Not(HasSubstr("kv_active_blocks")));
  EXPECT_THAT(json, Not(HasSubstr("data_parallel_rank")));
}

TEST(StatsReply, AppendReusesTheBuffer) {
  std::string buf = "prefix|";
  AppendStatsReply(buf, TestWorker(), "t", FiguresForLoad(0.5, 8192, 64), MetricsForm::kFlat, 1);
  EXPECT_EQ(buf, "prefix|" + StatsReply(TestWorker(), "t", FiguresForLoad(0.5, 8192, 64),
                                        MetricsForm::kFlat, 1));
}

TEST(PingReply, Exact) {
  EXPECT_EQ(PingReply(TestWorker()),
            "{\"type\":\"io.nats.micro.v1.ping_response\",\"name\":\"dynamo_llm-worker\","
            "\"id\":\"AbCdEfGhIjK0123456789z\",\"version\":\"0.0.1\",\"metadata\":{}}");
}

TEST(InfoReply, Exact) {
  EXPECT_EQ(InfoReply(TestWorker()),
            "{\"type\":\"io.nats.micro.v1.info_response\",\"name\":\"dynamo_llm-worker\","
            "\"id\":\"AbCdEfGhIjK0123456789z\",\"version\":\"0.0.1\",\"description\":\"\","
            "\"metadata\":{},\"endpoints\":["
            "{\"name\":\"dynamo_llm-worker-generate-7587867c5a2d0003\","
            "\"subject\":\"dynamo_llm-worker.generate-7587867c5a2d0003\",\"queue_group\":\"q\","
            "\"metadata\":null},"
            "{\"name\":\"dynamo_llm-worker-kv-router-7587867c5a2d0003\","
            "\"subject\":\"dynamo_llm-worker.kv-router-7587867c5a2d0003\",\"queue_group\":\"q\","
            "\"metadata\":null}]}");
}

TEST(Payloads, EscapeUnusualNames) {
  const WorkerIdentity w = MakeWorkerIdentity("svc", "a\"b\\c\n", 1, "id");
  const std::string info = InfoReply(w);
  EXPECT_THAT(info, HasSubstr("\"subject\":\"svc.a\\\"b\\\\c\\u000a-1\""));
}

TEST(Rfc3339Utc, FormatsUtcWithMicroseconds) {
  using std::chrono::microseconds;
  using std::chrono::seconds;
  using std::chrono::system_clock;
  EXPECT_EQ(Rfc3339Utc(system_clock::time_point(seconds(1700000000) + microseconds(123456))),
            "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(Rfc3339Utc(system_clock::time_point(seconds(0))), "1970-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace mk::mock
