// KEDA's operator loop against its documented behaviour (ScaledObject spec:
// pollingInterval, cooldownPeriod, initialCooldownPeriod, idleReplicaCount,
// minReplicaCount, fallback) and the executor's cases, with hand-made timelines.
#include "autoscaling/keda_scaling_loop.h"

#include <gtest/gtest.h>

namespace mk::autoscaling {
namespace {

const TriggerAnswer kActive{.value = 2.0, .active = true};
const TriggerAnswer kIdle{.value = 0.0, .active = false};
const TriggerAnswer kFailing{.value = std::nullopt, .active = false};

KedaScalingLoop Loop(KedaSpec spec) {
  return KedaScalingLoop(spec, {TriggerTarget{keda::MetricType::kAverageValue, 0.7}});
}

PollResult Poll(KedaScalingLoop& loop, double now, int32_t replicas, const TriggerAnswer& answer) {
  const TriggerAnswer answers[] = {answer};
  return loop.Poll(now, replicas, replicas, answers);
}

TEST(KedaScalingLoopTest, ScalesToZeroOnceTheCooldownHasPassed) {
  KedaScalingLoop loop = Loop(KedaSpec{});  // min 0, cooldown 300, polling 30
  EXPECT_FALSE(Poll(loop, 0, 2, kActive).replicas);
  EXPECT_EQ(loop.last_active_time(), 0);
  // Last active at 0: cooled when 0 + 300 < now, so not at 300 but at 330.
  for (double t = 30; t <= 300; t += 30) EXPECT_FALSE(Poll(loop, t, 2, kIdle).replicas) << t;
  EXPECT_EQ(Poll(loop, 330, 2, kIdle).replicas, 0);
}

TEST(KedaScalingLoopTest, ActivityRestartsTheCooldown) {
  KedaScalingLoop loop = Loop(KedaSpec{.cooldown_period_seconds = 60});
  Poll(loop, 0, 1, kActive);
  Poll(loop, 30, 1, kIdle);
  Poll(loop, 60, 1, kActive);
  EXPECT_FALSE(Poll(loop, 90, 1, kIdle).replicas);
  EXPECT_FALSE(Poll(loop, 120, 1, kIdle).replicas);
  EXPECT_EQ(Poll(loop, 150, 1, kIdle).replicas, 0);
}

TEST(KedaScalingLoopTest, ActivatesFromZeroToMinReplicaCountOrOne) {
  KedaScalingLoop loop = Loop(KedaSpec{});
  EXPECT_EQ(Poll(loop, 0, 0, kActive).replicas, 1);
  KedaScalingLoop with_min = Loop(KedaSpec{.min_replica_count = 3, .idle_replica_count = 0});
  EXPECT_EQ(Poll(with_min, 0, 0, kActive).replicas, 3);
  EXPECT_FALSE(Poll(with_min, 30, 3, kActive).replicas);  // above zero: the HPA's business
}

TEST(KedaScalingLoopTest, NeverActiveScalesDownAfterTheInitialCooldown) {
  KedaScalingLoop loop = Loop(KedaSpec{.initial_cooldown_period_seconds = 120});
  EXPECT_FALSE(Poll(loop, 0, 2, kIdle).replicas);
  EXPECT_FALSE(Poll(loop, 120, 2, kIdle).replicas);  // created at 0: 120 < 120 is false
  EXPECT_EQ(Poll(loop, 150, 2, kIdle).replicas, 0);
  // Without one, the first poll after creation already may.
  KedaScalingLoop plain = Loop(KedaSpec{});
  EXPECT_FALSE(Poll(plain, 0, 2, kIdle).replicas);
  EXPECT_EQ(Poll(plain, 30, 2, kIdle).replicas, 0);
}

TEST(KedaScalingLoopTest, IdleReplicaCountReplacesZero) {
  KedaScalingLoop loop =
      Loop(KedaSpec{.min_replica_count = 2, .idle_replica_count = 0, .cooldown_period_seconds = 0});
  Poll(loop, 0, 3, kActive);
  EXPECT_EQ(Poll(loop, 30, 3, kIdle).replicas, 0);
  EXPECT_EQ(Poll(loop, 60, 0, kActive).replicas, 2);
}

TEST(KedaScalingLoopTest, BelowMinReplicaCountIsRaisedWhileInactive) {
  KedaScalingLoop loop = Loop(KedaSpec{.min_replica_count = 2});
  EXPECT_EQ(Poll(loop, 0, 1, kIdle).replicas, 2);
}

TEST(KedaScalingLoopTest, AFailingTriggerNeverScalesToZero) {
  KedaScalingLoop loop = Loop(KedaSpec{.cooldown_period_seconds = 0});
  for (double t = 0; t <= 600; t += 30) {
    const PollResult result = Poll(loop, t, 2, kFailing);
    EXPECT_FALSE(result.replicas) << t;
    EXPECT_TRUE(result.error);
  }
}

TEST(KedaScalingLoopTest, FallbackAfterMoreFailuresThanTheThreshold) {
  KedaScalingLoop loop =
      Loop(KedaSpec{.fallback = Fallback{.failure_threshold = 2, .replicas = 5}});
  const TriggerAnswer failing[] = {kFailing};
  // Every read counts, the polling loop's and the HPA's alike.
  EXPECT_FALSE(loop.HpaMetrics(2, 2, failing)[0].value_milli);  // 1
  EXPECT_TRUE(Poll(loop, 30, 2, kFailing).error);               // 2
  EXPECT_FALSE(loop.in_fallback());
  const std::vector<HpaMetric> metrics = loop.HpaMetrics(2, 2, failing);  // 3 > 2
  ASSERT_TRUE(metrics[0].value_milli);
  EXPECT_EQ(*metrics[0].value_milli, 5 * 700);  // fallback replicas x target
  EXPECT_TRUE(loop.in_fallback());
  // In fallback the trigger counts as active: no error, and it wakes a workload at zero.
  const PollResult poll = Poll(loop, 60, 0, kFailing);
  EXPECT_TRUE(poll.active);
  EXPECT_FALSE(poll.error);
  EXPECT_EQ(poll.replicas, 1);
  // One success resets the count.
  Poll(loop, 90, 2, kIdle);
  EXPECT_FALSE(loop.in_fallback());
  EXPECT_FALSE(loop.HpaMetrics(2, 2, failing)[0].value_milli);
}

TEST(KedaScalingLoopTest, FallbackBehaviorsAndValueMetrics) {
  const TriggerAnswer failing[] = {kFailing};
  const auto fallback_value = [&](FallbackBehavior behavior, keda::MetricType type, int32_t current,
                                  int32_t ready) {
    KedaScalingLoop loop(
        KedaSpec{.fallback = Fallback{.failure_threshold = 0, .replicas = 4, .behavior = behavior}},
        {TriggerTarget{type, 0.5}});
    return loop.HpaMetrics(current, ready, failing)[0].value_milli;
  };
  EXPECT_EQ(fallback_value(FallbackBehavior::kStatic, keda::MetricType::kAverageValue, 6, 6), 2000);
  EXPECT_EQ(
      fallback_value(FallbackBehavior::kCurrentReplicas, keda::MetricType::kAverageValue, 6, 6),
      3000);
  EXPECT_EQ(fallback_value(FallbackBehavior::kCurrentReplicasIfHigher,
                           keda::MetricType::kAverageValue, 6, 6),
            3000);
  EXPECT_EQ(fallback_value(FallbackBehavior::kCurrentReplicasIfLower,
                           keda::MetricType::kAverageValue, 6, 6),
            2000);
  // Value: the HPA multiplies by the ready pods, so KEDA divides by them first.
  EXPECT_EQ(fallback_value(FallbackBehavior::kStatic, keda::MetricType::kValue, 6, 2), 1000);
  EXPECT_FALSE(fallback_value(FallbackBehavior::kStatic, keda::MetricType::kValue, 6, 0));
}

TEST(KedaScalingLoopTest, TheHpaKedaCreatesHasAMinimumOfOne) {
  EXPECT_EQ(Loop(KedaSpec{}).Hpa(std::nullopt).min_replicas, 1);
  EXPECT_EQ(Loop(KedaSpec{.min_replica_count = 3}).Hpa(std::nullopt).min_replicas, 3);
}

}  // namespace
}  // namespace mk::autoscaling
