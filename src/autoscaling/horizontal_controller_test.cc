// The HPA model against the algorithm as Kubernetes documents it ("Horizontal Pod
// Autoscaling", "Algorithm details" and "Configurable scaling behavior") and
// against timelines worked out by hand. Metric values are in thousandths.
#include "autoscaling/horizontal_controller.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mk::autoscaling {
namespace {

HpaMetric Average(int64_t value_milli, int64_t target_milli = 1000) {
  return HpaMetric{keda::MetricType::kAverageValue, target_milli, value_milli};
}
HpaMetric Failed() { return HpaMetric{keda::MetricType::kAverageValue, 1000, std::nullopt}; }

// Syncs every 15 s from `start`, the count carried over, with the same metric each
// time; returns the count after each sync.
std::vector<int32_t> SyncEvery15s(HorizontalController& hpa, int32_t& replicas, double start,
                                  int syncs, const HpaMetric& metric) {
  std::vector<int32_t> counts;
  for (int i = 0; i < syncs; ++i) {
    const HpaMetric metrics[] = {metric};
    replicas = hpa.Sync(start + 15.0 * i, replicas, replicas, metrics).replicas;
    counts.push_back(replicas);
  }
  return counts;
}

TEST(HorizontalControllerTest, WithinTheToleranceTheCountIsKept) {
  HorizontalController hpa(HpaSpec{.min_replicas = 1, .max_replicas = 100});
  // 4 replicas, target 1 each: a total of 4.3 is ratio 1.075, inside [0.9, 1.1].
  const HpaMetric within[] = {Average(4300)};
  EXPECT_EQ(hpa.Sync(0, 4, 4, within).replicas, 4);
  // 4.5 is ratio 1.125: ceil(4.5 / 1) = 5.
  const HpaMetric outside[] = {Average(4500)};
  EXPECT_EQ(hpa.Sync(15, 4, 4, outside).replicas, 5);
  // Ratio exactly 1.1 is still within (the band is closed).
  HorizontalController edge(HpaSpec{.min_replicas = 1, .max_replicas = 100});
  const HpaMetric boundary[] = {Average(11000, 1000)};
  EXPECT_EQ(edge.Sync(0, 10, 10, boundary).replicas, 10);
}

TEST(HorizontalControllerTest, ValueMetricsMultiplyTheRatioByReadyPods) {
  HorizontalController hpa(HpaSpec{.min_replicas = 1, .max_replicas = 100});
  // Value 1.5 against target 1: ratio 1.5 x 2 ready pods (of 4) = 3.
  const HpaMetric metrics[] = {HpaMetric{keda::MetricType::kValue, 1000, 1500}};
  EXPECT_EQ(hpa.Sync(0, 4, 2, metrics).replicas, 4);  // 3 < 4: scale-down stabilized
  HorizontalController up(HpaSpec{.min_replicas = 1, .max_replicas = 100});
  const HpaMetric high[] = {HpaMetric{keda::MetricType::kValue, 1000, 3000}};
  EXPECT_EQ(up.Sync(0, 4, 3, high).replicas, 8);  // ceil(3 x 3) = 9, at most 2 x 4 = 8
}

TEST(HorizontalControllerTest, WithoutBehaviorScaleUpIsAtMostTwiceOrFour) {
  HorizontalController hpa(HpaSpec{.min_replicas = 1, .max_replicas = 100});
  int32_t replicas = 1;
  // Wants 20: 1 -> 4 (max(2, 4)), 4 -> 8, 8 -> 16, 16 -> 20.
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 0, 5, Average(20000)),
            (std::vector<int32_t>{4, 8, 16, 20, 20}));
}

TEST(HorizontalControllerTest, WithoutBehaviorScaleDownWaitsForTheWholeWindow) {
  HorizontalController hpa(HpaSpec{.min_replicas = 1, .max_replicas = 100});
  int32_t replicas = 4;
  SyncEvery15s(hpa, replicas, 0, 1, Average(4000));  // t=0: recommendation 4
  // From t=15 the metric wants 1. The recommendation of 4 made at t=0 counts while
  // it is at most 300 s old: up to and including the sync at t=300.
  const std::vector<int32_t> counts = SyncEvery15s(hpa, replicas, 15, 21, Average(1000));
  EXPECT_EQ(counts[18], 4);  // t=285
  EXPECT_EQ(counts[19], 4);  // t=300
  EXPECT_EQ(counts[20], 1);  // t=315
}

TEST(HorizontalControllerTest, MinAndMaxClampTheRecommendation) {
  HorizontalController hpa(HpaSpec{.min_replicas = 2, .max_replicas = 5});
  int32_t replicas = 3;
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 0, 1, Average(9000)), (std::vector<int32_t>{5}));
  HorizontalController low(
      HpaSpec{.min_replicas = 2, .max_replicas = 5, .downscale_stabilization_seconds = 0});
  replicas = 3;
  EXPECT_EQ(SyncEvery15s(low, replicas, 0, 2, Average(0)), (std::vector<int32_t>{3, 2}));
  // A count outside [min, max] is brought inside without reading metrics.
  const HpaMetric failed[] = {Failed()};
  EXPECT_EQ(low.Sync(30, 9, 9, failed).replicas, 5);
  EXPECT_EQ(low.Sync(45, 1, 1, failed).replicas, 2);
}

TEST(HorizontalControllerTest, AtZeroReplicasScalingIsDisabled) {
  HorizontalController hpa(HpaSpec{.min_replicas = 1, .max_replicas = 5});
  const HpaMetric metrics[] = {Average(9000)};
  const HpaSync sync = hpa.Sync(0, 0, 0, metrics);
  EXPECT_EQ(sync.replicas, 0);
  EXPECT_FALSE(sync.rescaled);
}

TEST(HorizontalControllerTest, FailingMetricsBlockScaleDownButNotScaleUp) {
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .downscale_stabilization_seconds = 0});
  const HpaMetric up[] = {Failed(), Average(6000)};
  EXPECT_EQ(hpa.Sync(0, 4, 4, up).replicas, 6);
  const HpaMetric down[] = {Failed(), Average(1000)};
  const HpaSync held = hpa.Sync(15, 6, 6, down);
  EXPECT_EQ(held.replicas, 6);
  EXPECT_FALSE(held.recommendation.has_value());
  const HpaMetric none[] = {Failed()};
  EXPECT_EQ(hpa.Sync(30, 6, 6, none).replicas, 6);
  // With every metric valid the largest recommendation wins.
  const HpaMetric both[] = {Average(2000), Average(3000)};
  EXPECT_EQ(hpa.Sync(45, 6, 6, both).replicas, 3);
}

Behavior WithRules(ScalingRules up, ScalingRules down) {
  return Behavior{std::move(up), std::move(down)};
}

TEST(HorizontalControllerTest, BehaviorDefaultsAllowFourPodsOrDoubleEvery15s) {
  // behavior set but empty: the API defaults, 100 % or 4 pods per 15 s, whichever is more.
  HorizontalController hpa(HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = Behavior{}});
  int32_t replicas = 1;
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 0, 5, Average(40000)),
            (std::vector<int32_t>{5, 10, 20, 40, 40}));
}

TEST(HorizontalControllerTest, PodsPolicyCountsChangesWithinItsPeriod) {
  ScalingRules up{.policies = std::vector<ScalingPolicy>{{PolicyType::kPods, 2, 60}}};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules(up, {})});
  int32_t replicas = 2;
  // +2 at t=0; the change stays in the period until t=60 (exclusive), so the next +2
  // comes at t=60, then t=120 and t=180.
  const std::vector<int32_t> counts = SyncEvery15s(hpa, replicas, 0, 13, Average(10000));
  EXPECT_EQ(counts[0], 4);    // t=0
  EXPECT_EQ(counts[3], 4);    // t=45
  EXPECT_EQ(counts[4], 6);    // t=60
  EXPECT_EQ(counts[8], 8);    // t=120
  EXPECT_EQ(counts[12], 10);  // t=180
}

TEST(HorizontalControllerTest, PercentPoliciesRoundUpAndDownAsKubernetesDoes) {
  ScalingRules up{.policies = std::vector<ScalingPolicy>{{PolicyType::kPercent, 50, 15}}};
  ScalingRules down{.stabilization_window_seconds = 0,
                    .policies = std::vector<ScalingPolicy>{{PolicyType::kPercent, 50, 15}}};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules(up, down)});
  int32_t replicas = 3;
  // Up: ceil(3 x 1.5) = 5, ceil(5 x 1.5) = 8, then 12.
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 0, 3, Average(20000)), (std::vector<int32_t>{5, 8, 12}));
  // Down: int(12 x 0.5) = 6, 3, int(1.5) = 1.
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 45, 3, Average(0)), (std::vector<int32_t>{6, 3, 1}));
}

TEST(HorizontalControllerTest, SelectPolicyMinTakesTheSmallestChange) {
  ScalingRules up{.select_policy = SelectPolicy::kMin,
                  .policies = std::vector<ScalingPolicy>{{PolicyType::kPods, 4, 15},
                                                         {PolicyType::kPercent, 100, 15}}};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules(up, {})});
  int32_t replicas = 2;
  // min(2 + 4, 2 x 2) = 4, then min(8, 8) = 8, then min(12, 16) = 12.
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 0, 3, Average(50000)), (std::vector<int32_t>{4, 8, 12}));
}

TEST(HorizontalControllerTest, SelectPolicyDisabledStopsThatDirection) {
  ScalingRules down{.select_policy = SelectPolicy::kDisabled};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules({}, down)});
  int32_t replicas = 6;
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 0, 30, Average(1000)).back(), 6);
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 450, 1, Average(9000)).back(), 9);
}

TEST(HorizontalControllerTest, ScaleUpStabilizationTakesTheLowestOfItsWindow) {
  ScalingRules up{.stabilization_window_seconds = 60};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules(up, {})});
  int32_t replicas = 2;
  SyncEvery15s(hpa, replicas, 0, 1, Average(2000));  // t=0: recommendation 2
  // From t=15 it wants 6; the 2 of t=0 is within the window until t=60 (exclusive).
  const std::vector<int32_t> counts = SyncEvery15s(hpa, replicas, 15, 4, Average(6000));
  EXPECT_EQ(counts, (std::vector<int32_t>{2, 2, 2, 6}));  // t=15, 30, 45, 60
}

TEST(HorizontalControllerTest, ScaleDownWindowFromBehavior) {
  ScalingRules down{.stabilization_window_seconds = 30};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules({}, down)});
  int32_t replicas = 8;
  SyncEvery15s(hpa, replicas, 0, 1, Average(8000));  // t=0: 8
  // Wants 2 from t=15; the 8 of t=0 is within 30 s until t=30 (exclusive).
  EXPECT_EQ(SyncEvery15s(hpa, replicas, 15, 2, Average(2000)), (std::vector<int32_t>{8, 2}));
}

TEST(HorizontalControllerTest, ToleranceFromBehaviorPerDirection) {
  ScalingRules up{.tolerance = 0.5};
  HorizontalController hpa(
      HpaSpec{.min_replicas = 1, .max_replicas = 100, .behavior = WithRules(up, {})});
  const HpaMetric metrics[] = {Average(5800)};  // ratio 1.45 on 4: within 0.5
  EXPECT_EQ(hpa.Sync(0, 4, 4, metrics).replicas, 4);
}

TEST(ToMilliTest, ThreeDecimalsAsKedaFormatsThem) {
  EXPECT_EQ(ToMilli(0.7), 700);
  EXPECT_EQ(ToMilli(0.57), 570);  // 569.999... in binary, still 570
  EXPECT_EQ(ToMilli(2.0004), 2000);
  EXPECT_EQ(ToMilli(2.0006), 2001);
  EXPECT_EQ(ToMilli(-1), 0);
  EXPECT_EQ(ToMilli(std::nan("")), 0);
}

}  // namespace
}  // namespace mk::autoscaling
