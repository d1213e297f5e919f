#include "replay/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mk::replay {
namespace {

using ::testing::HasSubstr;

autoscaling::ScaledObjectSpec Base() {
  keda::TriggerDefaults defaults;
  defaults.target = fleet::Target{"dynamo", "backend", "generate"};
  return (*autoscaling::ParseScaledObjects(R"yaml(
kind: ScaledObject
metadata: {name: base}
spec:
  minReplicaCount: 1
  maxReplicaCount: 20
  triggers: [{type: external, metadata: {threshold: "0.7"}}]
)yaml",
                                           defaults))[0];
}

TEST(SweepAxisTest, ListsAndRanges) {
  absl::StatusOr<SweepAxis> list = ParseSweepAxis("cooldownPeriod=60,120,300");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->setting, "cooldownPeriod");
  EXPECT_EQ(list->values, (std::vector<double>{60, 120, 300}));
  absl::StatusOr<SweepAxis> range = ParseSweepAxis("threshold=0.5:0.9:0.1");
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->values.size(), 5u);  // 0.9 included despite 0.1 steps in binary
  EXPECT_NEAR(range->values.back(), 0.9, 1e-12);
  for (const char* bad : {"threshold", "=1", "threshold=", "threshold=a,b", "threshold=1:0:1",
                          "threshold=0:1:0", "threshold=0:1", "threshold=0:100000:1"}) {
    EXPECT_FALSE(ParseSweepAxis(bad).ok()) << bad;
  }
  // The message says what is wrong with a range.
  EXPECT_THAT(ParseSweepAxis("threshold=1:0:0.1").status().message(), HasSubstr("below"));
  EXPECT_THAT(ParseSweepAxis("threshold=0:1:0").status().message(), HasSubstr("step"));
  EXPECT_THAT(ParseSweepAxis("threshold=0.1:100:0.01").status().message(),
              HasSubstr("more than 1000 values"));
  EXPECT_TRUE(ParseSweepAxis("threshold=0.1:100:0.1").ok());
}

TEST(SweepAxisTest, SettingsAreCheckedAsTheScaledObjectWouldBe) {
  EXPECT_FALSE(WithSetting(Base(), "replicas", 3).ok());
  EXPECT_FALSE(WithSetting(Base(), "pollingInterval", 0).ok());
  EXPECT_FALSE(WithSetting(Base(), "cooldownPeriod", 1.5).ok());
  EXPECT_FALSE(WithSetting(Base(), "minReplicaCount", 30).ok());  // above max 20
  EXPECT_FALSE(WithSetting(Base(), "threshold", 0).ok());
  absl::StatusOr<autoscaling::ScaledObjectSpec> changed =
      WithSetting(Base(), "scaleDownStabilizationWindowSeconds", 60);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->behavior->scale_down.stabilization_window_seconds, 60);
  EXPECT_DOUBLE_EQ(WithSetting(Base(), "threshold", 0.5)->triggers[0].scaler->threshold, 0.5);
}

// Demand 3 for an hour. Threshold 0.9 needs ceil(3 / 0.9) = 4 pods (F = 0.75),
// 0.6 needs 5 (F = 0.6), 0.4 needs 8 (F = 0.375). With a limit of 1 % above target
// all three pass once scaled (at t=0); the cheapest is 0.9.
TEST(SweepTest, TheCheapestWithinTheLimitsComesFirst) {
  Trace trace;
  trace.samples = {TraceSample{0, 3.0, {}}, TraceSample{3600, 3.0, {}}};
  absl::StatusOr<SweepAxis> axis = ParseSweepAxis("threshold=0.4,0.6,0.9");
  ASSERT_TRUE(axis.ok());
  const SweepAxis axes[] = {*axis};
  absl::StatusOr<std::vector<SweepRow>> rows =
      Sweep(trace, Base(), axes, ReplayOptions{.initial_replicas = 1},
            SweepLimits{.max_above_target_percent = 1});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].label, "threshold=0.9");
  EXPECT_TRUE((*rows)[0].within_limits);
  EXPECT_EQ((*rows)[0].summary.max_replicas, 4);
  EXPECT_EQ((*rows)[2].summary.max_replicas, 8);
  // A queue limit of 0 with the pods starting for 10 minutes: nothing meets it.
  absl::StatusOr<std::vector<SweepRow>> strict =
      Sweep(trace, Base(), axes, ReplayOptions{.startup_delay_seconds = 600, .initial_replicas = 1},
            SweepLimits{.max_worst_waiting = 0});
  ASSERT_TRUE(strict.ok());
  EXPECT_FALSE((*strict)[0].within_limits);
  EXPECT_NE(SweepReport(*strict, 5).find("no combination"), std::string::npos);
  EXPECT_NE(SweepReport(*rows, 5).find("cheapest within the limits: threshold=0.9"),
            std::string::npos);
}

TEST(SweepTest, CombinationsAreBounded) {
  const SweepAxis axes[] = {{"cooldownPeriod", std::vector<double>(200, 60)},
                            {"pollingInterval", std::vector<double>(200, 15)}};
  Trace trace;
  trace.samples = {TraceSample{0, 1.0, {}}};
  EXPECT_THAT(Sweep(trace, Base(), axes, ReplayOptions{}, SweepLimits{}).status().message(),
              HasSubstr("more than 10000 combinations"));
}

TEST(SweepTest, ASettingSweptTwiceIsRefused) {
  const SweepAxis axes[] = {{"threshold", {0.5}}, {"threshold", {0.6}}};
  Trace trace;
  trace.samples = {TraceSample{0, 1.0, {}}};
  EXPECT_THAT(Sweep(trace, Base(), axes, ReplayOptions{}, SweepLimits{}).status().message(),
              HasSubstr("threshold is given twice"));
}

}  // namespace
}  // namespace mk::replay
