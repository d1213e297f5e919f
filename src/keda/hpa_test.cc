#include "keda/hpa.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "keda/trigger_config.h"

namespace mk::keda {
namespace {

HpaInputs Inputs(double total, double target, int64_t current, int64_t min_replicas = 0,
                 int64_t max_replicas = 100, MetricType type = MetricType::kAverageValue) {
  HpaInputs inputs;
  inputs.total = total;
  inputs.target = target;
  inputs.metric_type = type;
  inputs.current_replicas = current;
  inputs.min_replicas = min_replicas;
  inputs.max_replicas = max_replicas;
  return inputs;
}

// ---- KEDA's own conformance cases -------------------------------------------

TEST(KedaConformanceTest, ValueAtThresholdGivesOneReplica) {
  EXPECT_EQ(KedaReplicas(Inputs(10, 10, 1), true), 1);
}

TEST(KedaConformanceTest, TwiceTheThresholdGivesTwoReplicas) {
  EXPECT_EQ(KedaReplicas(Inputs(20, 10, 1), true), 2);
}

TEST(KedaConformanceTest, ZeroAndInactiveScalesToZero) {
  EXPECT_EQ(KedaReplicas(Inputs(0, 10, 1), false), 0);
  EXPECT_EQ(KedaReplicas(Inputs(0, 10, 2), false), 0);
}

TEST(KedaConformanceTest, FloatThresholdRoundsUpThenClampsToMax) {
  // 22.222 / 6.111 = 3.64 -> 4 replicas wanted, max 3.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(22.222, 6.111, 1, 0, 3)), 4);
  EXPECT_EQ(KedaReplicas(Inputs(22.222, 6.111, 1, 0, 3), true), 3);
  // The push trigger wakes the workload from zero replicas.
  EXPECT_EQ(KedaReplicas(Inputs(22.222, 6.111, 0, 0, 3), true), 3);
}

// ---- HpaDesiredReplicas -----------------------------------------------------

TEST(HpaDesiredReplicasTest, AverageValueIsCeilOfTotalOverTarget) {
  EXPECT_EQ(HpaDesiredReplicas(Inputs(12, 10, 1)), 2);    // ratio 1.2
  EXPECT_EQ(HpaDesiredReplicas(Inputs(2.0, 0.7, 1)), 3);  // 2.86
  EXPECT_EQ(HpaDesiredReplicas(Inputs(0.1, 0.7, 4)), 1);  // scale down
  EXPECT_EQ(HpaDesiredReplicas(Inputs(0, 0.7, 4)), 0);    // nothing to do
  EXPECT_EQ(HpaDesiredReplicas(Inputs(700, 70, 3)), 10);  // exact multiple
}

TEST(HpaDesiredReplicasTest, WithinToleranceKeepsCurrentReplicas) {
  // total / (target * current) = 20.5 / 20 = 1.025: keep 2 although ceil(2.05) = 3.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(20.5, 10, 2)), 2);
  // 27.5 / 30 = 0.917: keep 3.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(27.5, 10, 3)), 3);
  // 31 / 30 = 1.033: keep 3 although ceil(3.1) = 4.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(31, 10, 3)), 3);
}

TEST(HpaDesiredReplicasTest, OutsideToleranceRecomputes) {
  // 34 / 30 = 1.133.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(34, 10, 3)), 4);
  // 26 / 30 = 0.867.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(26, 10, 3)), 3);
  EXPECT_EQ(HpaDesiredReplicas(Inputs(19, 10, 3)), 2);
}

TEST(HpaDesiredReplicasTest, ToleranceIsConfigurable) {
  HpaInputs inputs = Inputs(20.5, 10, 2);
  inputs.tolerance = 0.01;
  EXPECT_EQ(HpaDesiredReplicas(inputs), 3);
}

TEST(HpaDesiredReplicasTest, ValueTypeScalesTheCurrentCount) {
  const auto value = MetricType::kValue;
  // ratio = 0.9 / 0.5 = 1.8; ceil(1.8 * 2) = 4.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(0.9, 0.5, 2, 0, 100, value)), 4);
  // ratio = 0.2 / 0.5 = 0.4; ceil(0.4 * 4) = 2.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(0.2, 0.5, 4, 0, 100, value)), 2);
  // ratio = 60 / 70 = 0.857; ceil(0.857 * 10) = 9.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(60, 70, 10, 0, 100, value)), 9);
}

TEST(HpaDesiredReplicasTest, ValueTypeToleranceIgnoresReplicaCount) {
  // ratio = 0.52 / 0.5 = 1.04: keep 5, where AverageValue arithmetic would say 2.
  EXPECT_EQ(HpaDesiredReplicas(Inputs(0.52, 0.5, 5, 0, 100, MetricType::kValue)), 5);
  EXPECT_EQ(HpaDesiredReplicas(Inputs(0.52, 0.5, 5)), 2);
}

// ---- KedaReplicas -----------------------------------------------------------

TEST(KedaReplicasTest, ClampsToMinReplicas) {
  // Wants ceil(15 / 10) = 2, but min is 3.
  EXPECT_EQ(KedaReplicas(Inputs(15, 10, 3, 3, 10), true), 3);
}

TEST(KedaReplicasTest, ClampsToMaxReplicas) {
  EXPECT_EQ(KedaReplicas(Inputs(500, 10, 5, 0, 10), true), 10);
}

TEST(KedaReplicasTest, ActiveNeverGoesBelowOne) {
  // ceil(1 / 10) = 1 anyway; ceil(0 / 10) = 0 lifted to 1.
  EXPECT_EQ(KedaReplicas(Inputs(1, 10, 3), true), 1);
  EXPECT_EQ(KedaReplicas(Inputs(0, 10, 3), true), 1);
}

TEST(KedaReplicasTest, ActiveAtZeroReplicasWakes) {
  EXPECT_EQ(KedaReplicas(Inputs(0, 10, 0), true), 1);
  EXPECT_EQ(KedaReplicas(Inputs(0.5, 0.7, 0), true), 1);
  // With a large backlog the HPA's count applies right away.
  EXPECT_EQ(KedaReplicas(Inputs(45, 10, 0), true), 5);
  // And at least minReplicaCount.
  EXPECT_EQ(KedaReplicas(Inputs(0.5, 0.7, 0, 2, 10), true), 2);
}

TEST(KedaReplicasTest, InactiveWithMinReplicasKeepsTheMinimum) {
  EXPECT_EQ(KedaReplicas(Inputs(0, 10, 4, 2, 10), false), 2);
}

TEST(KedaReplicasTest, InactiveWithZeroMinScalesToZeroWhateverTheTotal) {
  // Activation decides scale to zero; the HPA only runs while active.
  EXPECT_EQ(KedaReplicas(Inputs(5, 10, 3), false), 0);
}

TEST(KedaReplicasTest, ToleranceKeepsCurrentWithinBounds) {
  EXPECT_EQ(KedaReplicas(Inputs(31, 10, 3, 1, 10), true), 3);
}

}  // namespace
}  // namespace mk::keda
