// The Prometheus query_range reader, on the answers in tests/data/replay/ and bad ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "replay/trace_readers.h"
#include "replay/trace_test_util.h"

namespace mk::replay {
namespace {

using testing::DataPaths;
using testing::Demands;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

absl::StatusOr<Trace> Read(const std::vector<std::string>& files,
                           PrometheusRangeOptions options = {}) {
  return ReadPrometheusRange(DataPaths(files), options);
}

absl::StatusOr<Trace> Parse(std::string_view text, PrometheusRangeOptions options = {}) {
  const std::string_view texts[] = {text};
  return ParsePrometheusRange(texts, options);
}

// Two vLLM pods: Dynamo's KV usage and vLLM's waiting requests, one query each. At
// 15 s pod 1's usage is NaN: that unit is unknown then, and pod 0 stands for both.
TEST(PrometheusTraceTest, GaugesOfSeveralQueriesAreOneFleet) {
  absl::StatusOr<Trace> trace = Read({"prometheus_kv_usage.json", "prometheus_waiting.json"});
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->samples.size(), 3u);
  EXPECT_EQ(trace->samples[0].time, 0);
  EXPECT_EQ(trace->samples[1].time, 15);
  EXPECT_EQ(trace->samples[2].time, 30);
  // Waiting requests at LoadModel's 64 per capacity.
  EXPECT_THAT(Demands(*trace), ElementsAre(Optional(DoubleNear(0.5 + 0.3 + 2.0 / 64, 1e-12)),
                                           Optional(DoubleNear(2 * (0.9 + 12.0 / 64), 1e-12)),
                                           Optional(DoubleNear(0.6, 1e-12))));
  EXPECT_EQ(trace->slots_per_unit, std::nullopt);
}

// With the workers' slots, running requests are slot usage and waiting converts at
// that many per capacity.
TEST(PrometheusTraceTest, RunningRequestsCountWithTheWorkersSlots) {
  absl::StatusOr<Trace> trace =
      Read({"prometheus_kv_usage.json.gz", "prometheus_waiting.json", "prometheus_running.json"},
           {.slots_per_unit = 16});
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_THAT(Demands(*trace), ElementsAre(Optional(DoubleNear(0.5 + 0.3 + 2.0 / 16, 1e-12)),
                                           Optional(DoubleNear(2 * (1 + 12.0 / 16), 1e-12)),
                                           Optional(DoubleNear(0.6, 1e-12))));
  EXPECT_EQ(trace->slots_per_unit, 16);
  // Without them, the running gauge alone defines no load: no demand at all.
  absl::StatusOr<Trace> running = Read({"prometheus_running.json"});
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_THAT(Demands(*running), ElementsAre(std::nullopt, std::nullopt, std::nullopt));
}

TEST(PrometheusTraceTest, OnlyTheModelsSeriesAreReadWhenOneIsNamed) {
  absl::StatusOr<Trace> other = Read({"prometheus_kv_usage.json"}, {.model = "Llama-3-70B"});
  ASSERT_TRUE(other.ok()) << other.status();
  // No worker serves it: an empty fleet.
  EXPECT_EQ(Demands(*other), (std::vector<std::optional<double>>{0.0, 0.0, 0.0}));
  absl::StatusOr<Trace> same = Read({"prometheus_kv_usage.json"}, {.model = "Qwen/Qwen3-0.6B"});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_THAT(Demands(*same)[0], Optional(DoubleNear(0.8, 1e-12)));
}

TEST(PrometheusTraceTest, ReadTraceTellsJsonFromCsv) {
  absl::StatusOr<Trace> trace =
      ReadTrace(DataPaths({"prometheus_kv_usage.json", "prometheus_waiting.json"}));
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->samples.size(), 3u);
  // Options another format's file has no use for are refused, not ignored.
  EXPECT_THAT(ReadTrace(DataPaths({"prometheus_kv_usage.json"}), {.target = "dynamo/backend/x"})
                  .status()
                  .message(),
              HasSubstr("a target is chosen in a per-unit CSV"));
  EXPECT_THAT(ReadTrace(DataPaths({"load_relative.csv"}), {.model = "llama"}).status().message(),
              HasSubstr("a model is chosen among Prometheus series only"));
}

TEST(PrometheusTraceTest, AnswersThatAreNoRangeOfWorkerGaugesAreRefused) {
  EXPECT_THAT(Read({"prometheus_error.json"}).status().message(),
              HasSubstr("prometheus_error.json: Prometheus answered status \"error\" (bad_data: "
                        "invalid parameter"));
  EXPECT_THAT(Read({"prometheus_vector.json"}).status().message(),
              HasSubstr("resultType \"vector\", not matrix: give the answers of query_range"));
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"{\"status\":\"success\"", ""},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[1,"1"]]}]}} {})",
       "bytes after the JSON object"},
      {R"({"status":"success","data":{"resultType":"scalar","result":[1767225600,"1"]}})",
       "resultType \"scalar\", not matrix"},
      {"{}", "no \"status\": not an answer of Prometheus' HTTP API"},
      {R"({"status":"success","data":{"resultType":"streams","result":[]}})",
       "resultType \"streams\", not matrix"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
       "no series of the worker gauges"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"pod":"a"},"values":[[1,"1"]]}]}})",
       "series 1 has no __name__: query the worker gauges themselves"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"up","pod":"a"},"values":[[1,"1"]]}]}})",
       "series 1: up is not one of the worker gauges replay reads (dynamo_component_total_blocks"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"}}]}})",
       "series 1: no values"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[]}]}})",
       "the series hold no samples"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[1,"lots"]]}]}})",
       "value \"lots\" is not a number"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[1,2]]}]}})",
       "sample value is not a string"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[["1","2"]]}]}})",
       "a sample's time is not a Unix timestamp"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[-5,"2"]]}]}})",
       "a sample's time is not a Unix timestamp"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[1,"2","3"]]}]}})",
       "a sample is not [time, \"value\"]"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[2,"2"],[1,"2"]]}]}})",
       "sample times do not increase"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"__name__":7},"values":[[1,"2"]]}]}})",
       "series 1 label __name__ is not a string"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Trace> trace = Parse(c.text);
    EXPECT_FALSE(trace.ok()) << c.text;
    EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(trace.status().message(), HasSubstr("text 1: ")) << c.text;
    EXPECT_THAT(trace.status().message(), HasSubstr(c.error)) << c.text;
  }
}

// Bad values are the unit's problem at that moment, never a crash and never a zero.
TEST(PrometheusTraceTest, BadValuesMakeTheirUnitUnknown) {
  absl::StatusOr<Trace> trace = Parse(R"({"status":"success","data":{"resultType":"matrix",
      "result":[{"metric":{"__name__":"vllm:kv_cache_usage_perc","engine":"0","pod":"a"},
                 "values":[[10,"+Inf"],[20,"-Inf"],[30,"NaN"],[40,"1.5"],[50,"0.25"]]}]}})");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_THAT(Demands(*trace), ElementsAre(std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                                           Optional(DoubleNear(0.25, 1e-12))));
}

// Ranks are units of their own; sample times are matched across series to the ms.
TEST(PrometheusTraceTest, DataParallelRanksAreUnits) {
  absl::StatusOr<Trace> trace = Parse(R"({"status":"success","data":{"resultType":"matrix",
      "result":[
        {"metric":{"__name__":"dynamo_component_gpu_cache_usage_percent","dp_rank":"0","pod":"a"},
         "values":[[1767225600.5,"0.5"],[1767225601.5,"0.5"]]},
        {"metric":{"__name__":"dynamo_component_gpu_cache_usage_percent","dp_rank":"1","pod":"a"},
         "values":[[1767225600.5,"0.25"]]},
        {"metric":{"__name__":"dynamo_component_gpu_cache_usage_percent","dp_rank":"0","pod":"b"},
         "values":[[1767225601.5,"1"]]}]}})");
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->samples.size(), 2u);
  EXPECT_EQ(trace->samples[1].time, 1);
  EXPECT_THAT(Demands(*trace),
              ElementsAre(Optional(DoubleNear(0.75, 1e-12)), Optional(DoubleNear(1.5, 1e-12))));
}

TEST(PrometheusTraceTest, LimitsAreRefusedNotHeld) {
  const std::string text = R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"__name__":"vllm:num_requests_waiting"},"values":[[1,"1"],[2,"1"],[3,"1"]]}]}})";
  EXPECT_TRUE(Parse(text, {.limits = {.max_bytes = 1 << 20, .max_rows = 3}}).ok());
  absl::StatusOr<Trace> rows = Parse(text, {.limits = {.max_bytes = 1 << 20, .max_rows = 2}});
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(rows.status().message(), HasSubstr("more than 2 samples"));
  EXPECT_EQ(Parse(text, {.limits = {.max_bytes = 64, .max_rows = 3}}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace mk::replay
