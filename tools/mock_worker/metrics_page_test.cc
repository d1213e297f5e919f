#include "mock_worker/metrics_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "dynamo/worker_gauges.h"
#include "prometheus/text_format.h"

namespace mk::mock {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kInstance = 0x7587867c5a2d0003;

dynamo::WorkerPage ReadBack(const std::string& page, std::string_view model = kMockModelName) {
  dynamo::WorkerGaugeOptions options;
  options.model = std::string(model);
  return dynamo::WorkerGaugeReader(options).Read(page, kInstance);
}

// The page says, for every rank, what the stats replies and events say for the load.
TEST(MetricsPageTest, ReadsBackToTheFiguresOfTheLoadOnEveryRank) {
  for (const double load : {0.0, 0.37, 0.85, 1.0}) {
    for (const uint32_t ranks : {1u, 3u}) {
      const WorkerFigures figures = FiguresForLoad(load, 8192, 64);
      const dynamo::WorkerPage page =
          ReadBack(WorkerMetricsPage(figures, ranks, MetricsPageLabels{}));
      SCOPED_TRACE("load " + std::to_string(load) + ", ranks " + std::to_string(ranks));
      EXPECT_THAT(page.unreadable, IsEmpty()) << page.status;
      EXPECT_EQ(page.ignored.Total(), 0u);
      EXPECT_EQ(page.skipped.other_model + page.skipped.replica + page.skipped.unattributed, 0u);
      ASSERT_EQ(page.units.size(), ranks);
      for (uint32_t r = 0; r < ranks; ++r) {
        const dynamo::WorkerLoad& unit = page.units[r].load;
        EXPECT_EQ(unit.key, (dynamo::WorkerKey{kInstance, r}));
        EXPECT_EQ(unit.kv_total_blocks, 8192u);
        EXPECT_EQ(unit.kv_active_blocks, figures.kv_active_blocks);
        EXPECT_EQ(unit.gpu_cache_usage_perc, figures.gpu_cache_usage_perc);
        EXPECT_EQ(unit.num_requests_waiting, figures.num_requests_waiting);
        EXPECT_EQ(page.units[r].running, figures.request_active_slots);
      }
    }
  }
}

TEST(MetricsPageTest, WithoutABlockTotalTheUsageIsTheLoad) {
  const dynamo::WorkerPage page =
      ReadBack(WorkerMetricsPage(FiguresForLoad(0.3, 0, 64), 1, MetricsPageLabels{}));
  ASSERT_EQ(page.units.size(), 1u);
  EXPECT_EQ(page.units[0].load.kv_total_blocks, 0u);
  EXPECT_EQ(page.units[0].load.gpu_cache_usage_perc, 0.3);
}

TEST(MetricsPageTest, EscapesLabelValuesSoTheyReadBackAsGiven) {
  MetricsPageLabels labels;
  labels.model = "org/\"quoted\" \\ model\nv2";
  labels.component = "back\"end";
  const std::string text = WorkerMetricsPage(FiguresForLoad(0.5, 100, 10), 2, labels);
  EXPECT_THAT(text, HasSubstr(R"(model="org/\"quoted\" \\ model\nv2")"));
  const dynamo::WorkerPage page = ReadBack(text, labels.model);
  EXPECT_THAT(page.unreadable, IsEmpty()) << page.status;
  EXPECT_EQ(page.units.size(), 2u);
  EXPECT_EQ(page.skipped.other_model, 0u);
}

TEST(MetricsPageTest, CarriesSeriesTheScalerSkims) {
  const std::string text = WorkerMetricsPage(FiguresForLoad(0.5, 100, 10), 2, MetricsPageLabels{});
  const prometheus::TextFormatReader reader(
      {"vllm:time_to_first_token_seconds_bucket", "dynamo_component_inflight_requests"});
  const absl::StatusOr<std::vector<prometheus::Sample>> samples = reader.Read(text);
  ASSERT_TRUE(samples.ok()) << samples.status();
  // 9 buckets per engine, and the in-flight gauge: 5 slots on each of 2 ranks.
  ASSERT_EQ(samples->size(), 19u);
  EXPECT_EQ(samples->front().name, "dynamo_component_inflight_requests");
  EXPECT_EQ(samples->front().value, 10.0);
  EXPECT_EQ(samples->back().type, prometheus::MetricType::kHistogram);
  EXPECT_EQ(samples->back().LabelValue("le"), "+Inf");
}

}  // namespace
}  // namespace mk::mock
