#include "keda/figure_history.h"

#include <gtest/gtest.h>

#include <vector>

namespace mk::keda {
namespace {

using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

// The start of a 10 s slot.
const TimePoint kT0 = TimePoint(seconds(1'700'000'000));

FigureSample Sample(double figure, size_t units = 4, int64_t desired = 5) {
  return {.figure = figure, .units = units, .desired_replicas = desired};
}

class FigureHistoryTest : public ::testing::Test {
 protected:
  void Add(TimePoint when, const std::optional<FigureSample>& sample) {
    history_.Add(when, sample);
  }
  std::vector<FigurePoint> Points(TimePoint now) { return history_.Read(now); }

  FigureHistory history_;
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

TEST_F(FigureHistoryTest, AnHourAfterTheLastAnswerNothingIsLeft) {
  Add(kT0, Sample(1));
  Add(kT0 + seconds(600), Sample(2));
  EXPECT_EQ(Points(kT0 + seconds(3605)).size(), 1u);
  EXPECT_TRUE(Points(kT0 + seconds(600) + FigureHistory::kSpan).empty());
}

TEST_F(FigureHistoryTest, AClockSteppedBackKeepsThePointsInOrder) {
  Add(kT0 + seconds(20), Sample(1));
  Add(kT0, Sample(2));  // stands for the newest slot
  const std::vector<FigurePoint> points = Points(kT0 + seconds(20));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].slot, kT0 + seconds(20));
  EXPECT_DOUBLE_EQ(points[0].sample->figure, 2);
}

}  // namespace
}  // namespace mk::keda
