#include "dynamo/worker_gauges.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "dynamo/worker_load_test_util.h"

namespace mk::dynamo {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kInstance = 0x7587867c5a2d0001;

// A page of tests/data/metrics/, whole.
std::string MetricsFixture(const std::string& name) {
  return testing::ReadTestData("metrics", name);
}

// The record expected for a rank: kv blocks (0/0 for none), usage, waiting, running.
WorkerGaugeUnit Expected(uint32_t rank, uint64_t kv_used, uint64_t kv_total,
                         std::optional<double> usage, std::optional<uint64_t> waiting,
                         std::optional<uint64_t> running) {
  WorkerGaugeUnit unit;
  unit.load.key = WorkerKey{kInstance, rank};
  unit.load.kv_active_blocks = kv_used;
  unit.load.kv_total_blocks = kv_total;
  unit.load.gpu_cache_usage_perc = usage;
  unit.load.num_requests_waiting = waiting;
  unit.load.request_active_slots = running.value_or(0);
  unit.running = running;
  return unit;
}

// What a test compares: the record and the running gauge.
MATCHER_P(IsUnit, expected, "") {
  *result_listener << ::testing::PrintToString(arg.load)
                   << " running=" << (arg.running ? std::to_string(*arg.running) : "none");
  return arg.load == expected.load && arg.running == expected.running;
}

WorkerPage Read(const std::string& page, std::optional<std::string> model = std::nullopt) {
  WorkerGaugeOptions options;
  options.model = std::move(model);
  return WorkerGaugeReader(options).Read(page, kInstance);
}

void ExpectNoProblem(const WorkerPage& page) {
  EXPECT_THAT(page.unreadable, IsEmpty());
  EXPECT_EQ(page.drops.Total(), 0u);
  EXPECT_EQ(page.ignored.Total(), 0u);
  EXPECT_TRUE(page.status.ok()) << page.status;
}

TEST(WorkerGaugesTest, ReadsEachRankOfAVllmWorkerWithTwoEngines) {
  const WorkerPage page = Read(MetricsFixture("dynamo_vllm_dp2.txt"));
  ExpectNoProblem(page);
  // Dynamo's usage x total: 0.5 and 0.125 of 8192 blocks.
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 4096, 8192, 0.5, 0, 32)),
                                      IsUnit(Expected(1, 1024, 8192, 0.125, 3, 8))));
  EXPECT_FALSE(page.no_data());
}

TEST(WorkerGaugesTest, ReadsAnSglangWorkerSkippingTheOtherTensorParallelRanks) {
  const WorkerPage page = Read(MetricsFixture("dynamo_sglang_tp2.txt"));
  ExpectNoProblem(page);
  // round(0.7 x 131072) = round(91750.4); the engine's series carry no rank: rank 0.
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 91750, 131072, 0.7, 6, 21))));
  // tp_rank 1's token usage, queue and running requests.
  EXPECT_EQ(page.skipped.replica, 3u);
}

TEST(WorkerGaugesTest, ReadsATensorRtLlmWorker) {
  const WorkerPage page = Read(MetricsFixture("dynamo_trtllm.txt"));
  ExpectNoProblem(page);
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 1024, 4096, 0.25, 2, 17))));
}

TEST(WorkerGaugesTest, WithoutDynamosGaugesTheEnginesUsageFractionIsTheFigure) {
  const WorkerPage page = Read(MetricsFixture("vllm_0.8_gpu_cache_usage.txt"));
  ExpectNoProblem(page);
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 0, 0, 0.0625, 1, 5))));
}

// One rule of the figures, shown on a small page with one record.
struct Rule {
  const char* name;
  std::string page;
  WorkerGaugeUnit expected;
};

class RuleTest : public ::testing::TestWithParam<Rule> {};

TEST_P(RuleTest, GivesTheRecord) {
  const WorkerPage page = Read(GetParam().page);
  ExpectNoProblem(page);
  EXPECT_THAT(page.units, ElementsAre(IsUnit(GetParam().expected)));
}

constexpr std::nullopt_t kNone = std::nullopt;

INSTANTIATE_TEST_SUITE_P(
    Figures, RuleTest,
    ::testing::Values(Rule{"dynamos_usage_before_the_engines",
                           "dynamo_component_total_blocks{dp_rank=\"0\"} 1000\n"
                           "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} 0.3\n"
                           "vllm:kv_cache_usage_perc{engine=\"0\"} 0.9\n",
                           Expected(0, 300, 1000, 0.3, kNone, kNone)},
                      // vLLM's new name before its old one, of Dynamo's total.
                      Rule{"engine_usage_of_dynamos_total",
                           "dynamo_component_total_blocks{dp_rank=\"0\"} 1000\n"
                           "vllm:gpu_cache_usage_perc{engine=\"0\"} 0.2\n"
                           "vllm:kv_cache_usage_perc{engine=\"0\"} 0.25\n",
                           Expected(0, 250, 1000, 0.25, kNone, kNone)},
                      Rule{"zero_total_leaves_the_fraction",
                           "dynamo_component_total_blocks{dp_rank=\"0\"} 0\n"
                           "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} 0.4\n",
                           Expected(0, 0, 0, 0.4, kNone, kNone)},
                      Rule{"waiting_alone", "vllm:num_requests_waiting{engine=\"2\"} 4\n",
                           Expected(2, 0, 0, kNone, 4, kNone)},
                      Rule{"fraction_above_one_by_rounding",
                           "dynamo_component_total_blocks{dp_rank=\"0\"} 64\n"
                           "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} 1.0000001\n",
                           Expected(0, 64, 64, 1.0, kNone, kNone)}),
    [](const ::testing::TestParamInfo<Rule>& param) { return std::string(param.param.name); });

TEST(WorkerGaugesTest, APageWithoutTheGaugesIsNoDataNeverAnIdleUnit) {
  for (const std::string& text :
       {std::string(), std::string("python_info 1\n# TYPE up gauge\nup 1\n"), [] {
          // The Dynamo runtime's own metrics, before the KV gauges.
          const std::string full = MetricsFixture("dynamo_vllm_dp2.txt");
          return full.substr(0, full.find("# HELP dynamo_component_total_blocks"));
        }()}) {
    const WorkerPage page = Read(text);
    EXPECT_THAT(page.units, IsEmpty());
    EXPECT_THAT(page.unreadable, ElementsAre(UnreadableReport{WorkerKey{kInstance, std::nullopt},
                                                              DropReason::kNoData}));
    EXPECT_EQ(page.drops.Get(DropReason::kNoData), 1u);
    EXPECT_TRUE(page.no_data());
    EXPECT_EQ(page.status.code(), absl::StatusCode::kNotFound);
  }
}

TEST(WorkerGaugesTest, ARankWithACapacityButNoLoadFigureIsNoData) {
  const WorkerPage page = Read(R"(
dynamo_component_total_blocks{dp_rank="0"} 100
dynamo_component_total_blocks{dp_rank="1"} 100
vllm:num_requests_running{engine="1"} 3
)");
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(1, 0, 0, std::nullopt, std::nullopt, 3))));
  EXPECT_THAT(page.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{kInstance, 0}, DropReason::kNoData}));
  EXPECT_THAT(page.status.message(), HasSubstr("rank 0: a KV block total but no usage"));
  EXPECT_FALSE(page.no_data());
}

struct BadValue {
  const char* name;
  std::string page;  // a bad value for rank 0 (or the rank-less worker)
  DropReason reason;
  const char* detail;
};

class BadValueTest : public ::testing::TestWithParam<BadValue> {};

TEST_P(BadValueTest, DropsTheRankWithAReasonNeverAZero) {
  const WorkerPage page = Read(GetParam().page);
  EXPECT_THAT(page.units, IsEmpty());
  EXPECT_THAT(page.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{kInstance, 0}, GetParam().reason}));
  EXPECT_EQ(page.drops.Get(GetParam().reason), 1u);
  EXPECT_EQ(page.drops.Total(), 1u);
  EXPECT_EQ(page.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status.message(), HasSubstr(GetParam().detail));
}

INSTANTIATE_TEST_SUITE_P(
    Values, BadValueTest,
    ::testing::Values(
        BadValue{"negative_waiting", "vllm:num_requests_waiting{engine=\"0\"} -1\n",
                 DropReason::kWrongType, "rank 0: vllm:num_requests_waiting is negative: -1"},
        BadValue{"nan_running", "vllm:num_requests_running{engine=\"0\"} NaN\n",
                 DropReason::kWrongType, "vllm:num_requests_running is NaN"},
        BadValue{"fractional_running", "sglang:num_running_reqs{dp_rank=\"0\"} 2.5\n",
                 DropReason::kWrongType, "sglang:num_running_reqs is not a whole count: 2.5"},
        BadValue{"infinite_total",
                 "dynamo_component_total_blocks{dp_rank=\"0\"} +Inf\n"
                 "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} 0.5\n",
                 DropReason::kOutOfRange, "dynamo_component_total_blocks is beyond 2^53: inf"},
        BadValue{"huge_waiting", "trtllm_num_requests_waiting 1e16\n", DropReason::kOutOfRange,
                 "trtllm_num_requests_waiting is beyond 2^53"},
        BadValue{"nan_usage", "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} NaN\n",
                 DropReason::kOutOfRange,
                 "dynamo_component_gpu_cache_usage_percent is not a fraction in [0, 1]: nan"},
        BadValue{"negative_usage", "sglang:token_usage{dp_rank=\"0\"} -0.1\n",
                 DropReason::kOutOfRange, "sglang:token_usage is not a fraction in [0, 1]: -0.1"},
        BadValue{"usage_as_percent", "vllm:kv_cache_usage_perc{engine=\"0\"} 75\n",
                 DropReason::kOutOfRange, "vllm:kv_cache_usage_perc is not a fraction"},
        BadValue{"infinite_engine_usage", "trtllm_kv_cache_utilization -Inf\n",
                 DropReason::kOutOfRange, "trtllm_kv_cache_utilization is not a fraction"},
        // Dynamo's usage comes first: a bad one is not replaced by the engine's.
        BadValue{"bad_dynamo_usage_beside_engine",
                 "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} 2\n"
                 "vllm:kv_cache_usage_perc{engine=\"0\"} 0.5\n",
                 DropReason::kOutOfRange, "dynamo_component_gpu_cache_usage_percent"},
        BadValue{"repeated_series",
                 "vllm:num_requests_waiting{engine=\"0\"} 1\n"
                 "vllm:num_requests_waiting{engine=\"0\"} 1\n",
                 DropReason::kAmbiguousUnit, "2 series of vllm:num_requests_waiting"}),
    [](const ::testing::TestParamInfo<BadValue>& param) { return std::string(param.param.name); });

TEST(WorkerGaugesTest, ABadRankLeavesTheOtherRanksAlone) {
  const WorkerPage page = Read(R"(
vllm:num_requests_waiting{engine="0"} 1
vllm:num_requests_waiting{engine="1"} -2
vllm:num_requests_waiting{engine="2"} 3
vllm:kv_cache_usage_perc{engine="2"} 1.5
vllm:num_requests_waiting{engine="3"} 4
)");
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 0, 0, std::nullopt, 1, std::nullopt)),
                                      IsUnit(Expected(3, 0, 0, std::nullopt, 4, std::nullopt))));
  EXPECT_THAT(page.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{kInstance, 1}, DropReason::kWrongType},
                          UnreadableReport{WorkerKey{kInstance, 2}, DropReason::kOutOfRange}));
  // The first problem is the one the status tells.
  EXPECT_THAT(page.status.message(), HasSubstr("rank 1: vllm:num_requests_waiting is negative"));
}

TEST(WorkerGaugesTest, ABadValueNoFigureUsesIsIgnoredNotDropped) {
  const WorkerPage page = Read(R"(
dynamo_component_gpu_cache_usage_percent{dp_rank="0"} 0.5
vllm:kv_cache_usage_perc{engine="0"} NaN
vllm:gpu_cache_usage_perc{engine="0"} -3
dynamo_component_total_blocks{dp_rank="1"} -5
vllm:num_requests_waiting{engine="1"} 0
)");
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 0, 0, 0.5, std::nullopt, std::nullopt)),
                                      IsUnit(Expected(1, 0, 0, std::nullopt, 0, std::nullopt))));
  EXPECT_THAT(page.unreadable, IsEmpty());
  EXPECT_EQ(page.ignored.Get(DropReason::kOutOfRange), 2u);
  EXPECT_EQ(page.ignored.Get(DropReason::kWrongType), 1u);
  EXPECT_TRUE(page.status.ok());
}

constexpr char kTwoModels[] = R"(
dynamo_component_total_blocks{dp_rank="0",model="a"} 100
dynamo_component_gpu_cache_usage_percent{dp_rank="0",model="a"} 0.1
dynamo_component_total_blocks{dp_rank="0",model="b"} 100
dynamo_component_gpu_cache_usage_percent{dp_rank="0",model="b"} 0.9
vllm:num_requests_waiting{engine="0",model_name="b"} 7
vllm:num_requests_running{engine="0",model_name="a"} 1
vllm:num_requests_running{engine="0"} 1
)";

TEST(WorkerGaugesTest, TwoModelsOnOneRankAreAmbiguousUnlessTheModelIsNamed) {
  const WorkerPage any = Read(kTwoModels);
  EXPECT_THAT(any.units, IsEmpty());
  EXPECT_THAT(any.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{kInstance, 0}, DropReason::kAmbiguousUnit}));
  EXPECT_THAT(any.status.message(), HasSubstr("rank 0: 2 series of dynamo_component_total_blocks"));

  // Model b: its series, and the running gauge that names no model.
  const WorkerPage b = Read(kTwoModels, "b");
  ExpectNoProblem(b);
  EXPECT_THAT(b.units, ElementsAre(IsUnit(Expected(0, 90, 100, 0.9, 7, 1))));
  EXPECT_EQ(b.skipped.other_model, 3u);

  // Another model: only the series that names none.
  const WorkerPage c = Read(kTwoModels, "c");
  ExpectNoProblem(c);
  EXPECT_THAT(c.units, ElementsAre(IsUnit(Expected(0, 0, 0, std::nullopt, std::nullopt, 1))));
  EXPECT_EQ(c.skipped.other_model, 6u);
}

TEST(WorkerGaugesTest, APageOfOtherModelsOnlyIsNoDataForThisOne) {
  const WorkerPage page = Read(
      "vllm:num_requests_waiting{engine=\"0\",model_name=\"a\"} 7\n"
      "vllm:num_requests_running{engine=\"0\",model=\"a\",model_name=\"b\"} 1\n",
      "b");
  EXPECT_TRUE(page.no_data());
  EXPECT_EQ(page.skipped.other_model, 2u);
  EXPECT_THAT(page.status.message(), HasSubstr("for model b (2 samples of other models)"));
}

TEST(WorkerGaugesTest, SeriesWithoutARankBesideRankedOnesAreNobodys) {
  const WorkerPage page = Read(R"(
dynamo_component_gpu_cache_usage_percent{dp_rank="0"} 0.5
dynamo_component_gpu_cache_usage_percent{dp_rank="3"} 0.25
trtllm_num_requests_waiting 9
sglang:num_queue_reqs{tp_rank="0"} 9
)");
  ExpectNoProblem(page);
  EXPECT_THAT(page.units, ElementsAre(IsUnit(Expected(0, 0, 0, 0.5, std::nullopt, std::nullopt)),
                                      IsUnit(Expected(3, 0, 0, 0.25, std::nullopt, std::nullopt))));
  EXPECT_EQ(page.skipped.unattributed, 2u);
}

TEST(WorkerGaugesTest, ARankLabelThatIsNoRankMakesTheWorkerPartlyUnreadable) {
  const WorkerPage page = Read(R"(
vllm:num_requests_waiting{engine="0"} 1
vllm:num_requests_waiting{engine="-1"} 1
vllm:num_requests_running{engine="4294967296"} 1
vllm:num_requests_running{engine="4294967295"} 2
)");
  EXPECT_THAT(page.units,
              ElementsAre(IsUnit(Expected(0, 0, 0, std::nullopt, 1, std::nullopt)),
                          IsUnit(Expected(4294967295u, 0, 0, std::nullopt, std::nullopt, 2))));
  // The first problem only: one report for the rank-less part of the worker.
  EXPECT_THAT(page.unreadable, ElementsAre(UnreadableReport{WorkerKey{kInstance, std::nullopt},
                                                            DropReason::kWrongType}));
  EXPECT_THAT(page.status.message(), HasSubstr("label engine is not an unsigned integer"));

  const WorkerPage big = Read("vllm:num_requests_running{engine=\"4294967296\"} 1\n");
  EXPECT_THAT(big.unreadable, ElementsAre(UnreadableReport{WorkerKey{kInstance, std::nullopt},
                                                           DropReason::kOutOfRange}));
}

TEST(WorkerGaugesTest, AMalformedOrOversizedPageIsUnreadableWithTheReadersError) {
  const WorkerPage malformed = Read("vllm:num_requests_waiting{engine=\"0\"} 1\nbroken{ 2\n");
  EXPECT_THAT(malformed.units, IsEmpty());
  EXPECT_THAT(malformed.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{kInstance, std::nullopt},
                                           DropReason::kMalformedPrometheus}));
  EXPECT_EQ(malformed.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(malformed.status.message(), HasSubstr("line 2:"));

  WorkerGaugeOptions options;
  options.limits.max_page_bytes = 10;
  const WorkerPage oversized =
      WorkerGaugeReader(options).Read("vllm:num_requests_waiting 1\n", kInstance);
  EXPECT_THAT(oversized.unreadable, ElementsAre(UnreadableReport{WorkerKey{kInstance, std::nullopt},
                                                                 DropReason::kOversized}));
  EXPECT_EQ(oversized.status.code(), absl::StatusCode::kResourceExhausted);
}

TEST(WorkerGaugesTest, EveryGaugeNameIsReadAndNamesAreDistinct) {
  for (size_t g = 0; g < kWorkerGauges.size(); ++g) {
    for (size_t h = g + 1; h < kWorkerGauges.size(); ++h) {
      EXPECT_NE(kWorkerGauges[g].name, kWorkerGauges[h].name);
    }
    // Alone on a page, each gauge makes a record, or (a block total) a rank without a
    // load figure: never nothing.
    const std::string rank = kWorkerGauges[g].rank_label.empty()
                                 ? std::string()
                                 : "{" + std::string(kWorkerGauges[g].rank_label) + "=\"5\"}";
    const WorkerPage page = Read(std::string(kWorkerGauges[g].name) + rank + " 0\n");
    EXPECT_FALSE(page.no_data()) << kWorkerGauges[g].name;
    EXPECT_EQ(page.units.size() + page.unreadable.size(), 1u) << kWorkerGauges[g].name;
  }
}

}  // namespace
}  // namespace mk::dynamo
