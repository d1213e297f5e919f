#include "keda/figure_history.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace mk::keda {
namespace {

using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

// The start of a 10 s slot.
const TimePoint kT0 = TimePoint(seconds(1'700'000'000));

TriggerConfig Config(double threshold = 0.7) {
  TriggerConfig config;
  config.target = fleet::Target{"dynamo", "backend", "generate"};
  config.metric = fleet::FleetMetric::kKvBlocksUsagePercent;
  config.threshold = threshold;
  return config;
}

FigureSample Sample(double figure, size_t units = 4, int64_t desired = 5) {
  return {.figure = figure, .units = units, .desired_replicas = desired};
}

class FigureHistoryTest : public ::testing::Test {
 protected:
  void Add(TimePoint when, const std::optional<FigureSample>& sample,
           const std::string& key = "prod/llm") {
    history_.Add(key, key, Config(), when, sample);
  }
  // The points of the only series at `now`.
  std::vector<FigurePoint> Points(TimePoint now) {
    const FigureHistoryView view = history_.Read(now);
    EXPECT_EQ(view.series.size(), 1u);
    return view.series.empty() ? std::vector<FigurePoint>() : view.series[0].points;
  }

  FigureHistory history_{3};
};

TEST_F(FigureHistoryTest, OnePointPerTenSecondSlotTheLastAnswerStanding) {
  Add(kT0 + seconds(1), Sample(10));
  Add(kT0 + seconds(9), Sample(20));   // same slot: replaces
  Add(kT0 + seconds(10), Sample(30));  // the next slot
  Add(kT0 + seconds(35), Sample(40));  // slots without answers have no point
  const std::vector<FigurePoint> points = Points(kT0 + seconds(36));
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0].slot, kT0);
  EXPECT_DOUBLE_EQ(points[0].sample->figure, 20);
  EXPECT_EQ(points[1].slot, kT0 + seconds(10));
  EXPECT_DOUBLE_EQ(points[1].sample->figure, 30);
  EXPECT_EQ(points[2].slot, kT0 + seconds(30));
  EXPECT_DOUBLE_EQ(points[2].sample->figure, 40);
  EXPECT_EQ(points[2].sample->units, 4u);
  EXPECT_EQ(points[2].sample->desired_replicas, 5);
}

TEST_F(FigureHistoryTest, AFailedAnswerIsAPointWithoutValues) {
  Add(kT0, Sample(10));
  Add(kT0 + seconds(10), std::nullopt);
  Add(kT0 + seconds(20), Sample(0, 0, 1));  // an idle fleet: zeros that were measured
  const std::vector<FigurePoint> points = Points(kT0 + seconds(20));
  ASSERT_EQ(points.size(), 3u);
  EXPECT_TRUE(points[0].sample.has_value());
  EXPECT_FALSE(points[1].sample.has_value());
  ASSERT_TRUE(points[2].sample.has_value());
  EXPECT_DOUBLE_EQ(points[2].sample->figure, 0);
}

TEST_F(FigureHistoryTest, KeepsTheLastHourAtMost360Points) {
  for (int i = 0; i < 400; ++i) Add(kT0 + i * FigureHistory::kInterval, Sample(i));
  const TimePoint now = kT0 + 399 * FigureHistory::kInterval;
  std::vector<FigurePoint> points = Points(now);
  ASSERT_EQ(points.size(), FigureHistory::kPoints);
  EXPECT_EQ(FigureHistory::kPoints, 360u);
  EXPECT_DOUBLE_EQ(points.front().sample->figure, 40);
  EXPECT_EQ(points.front().slot, now - FigureHistory::kSpan + FigureHistory::kInterval);
  // Read drops what has aged out since the last answer.
  points = Points(now + seconds(600));
  ASSERT_EQ(points.size(), FigureHistory::kPoints - 60);
  EXPECT_DOUBLE_EQ(points.front().sample->figure, 100);
}

TEST_F(FigureHistoryTest, ATriggerUnheardOfForAnHourIsLeftOut) {
  Add(kT0, Sample(1), "a");
  Add(kT0 + seconds(600), Sample(2), "b");
  const FigureHistoryView view = history_.Read(kT0 + seconds(3605));
  ASSERT_EQ(view.series.size(), 1u);
  EXPECT_EQ(view.series[0].label.scaled_object, "b");
  EXPECT_EQ(view.now, kT0 + seconds(3605));
}

TEST_F(FigureHistoryTest, BoundedTheTriggerHeardOfLeastRecentlyGoesFirst) {
  Add(kT0, Sample(1), "a");
  Add(kT0 + seconds(10), Sample(2), "b");
  Add(kT0 + seconds(20), Sample(3), "c");
  Add(kT0 + seconds(30), Sample(4), "a");  // heard of again
  Add(kT0 + seconds(40), Sample(5), "d");  // the fourth: b goes
  const FigureHistoryView view = history_.Read(kT0 + seconds(40));
  std::vector<std::string> names;
  for (const FigureSeries& series : view.series) names.push_back(series.label.scaled_object);
  // The trigger heard of most recently first.
  EXPECT_EQ(names, (std::vector<std::string>{"d", "a", "c"}));
}

TEST_F(FigureHistoryTest, ASeriesIsLabelledWithItsTriggerAndThreshold) {
  Add(kT0, Sample(50));
  const FigureHistoryView view = history_.Read(kT0);
  ASSERT_EQ(view.series.size(), 1u);
  const SeriesLabel& label = view.series[0].label;
  EXPECT_EQ(label.scaled_object, "prod/llm");
  EXPECT_EQ(label.metric, "llm_kv_blocks_usage_percent");
  EXPECT_EQ(label.target, Config().target.ToString());
  EXPECT_EQ(label.metric_type, "AverageValue");
  EXPECT_DOUBLE_EQ(label.threshold, 0.7);
}

TEST_F(FigureHistoryTest, AClockSteppedBackKeepsThePointsInOrder) {
  Add(kT0 + seconds(20), Sample(1));
  Add(kT0, Sample(2));  // stands for the newest slot
  const std::vector<FigurePoint> points = Points(kT0 + seconds(20));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].slot, kT0 + seconds(20));
  EXPECT_DOUBLE_EQ(points[0].sample->figure, 2);
}

// Run under TSan by scripts/sanitize.sh thread: RPC threads add while a page reads.
TEST_F(FigureHistoryTest, AddAndReadFromManyThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        Add(kT0 + i * FigureHistory::kInterval, Sample(i), "trigger" + std::to_string(t));
        if (i % 50 == 0) history_.Read(kT0 + i * FigureHistory::kInterval);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const FigureHistoryView view = history_.Read(kT0 + 499 * FigureHistory::kInterval);
  EXPECT_FALSE(view.series.empty());
  EXPECT_LE(view.series.size(), 3u);  // bounded at 3 triggers
  for (const FigureSeries& series : view.series) EXPECT_LE(series.points.size(), 360u);
}

}  // namespace
}  // namespace mk::keda
