#include "keda/metric_answer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "fleet/fleet_figures.h"
#include "keda/trigger_config.h"

namespace mk::keda {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

fleet::FleetFigures FourWorkers() {
  fleet::FleetFigures figures;
  figures.units = 4;
  figures.reporting_units = 4;
  figures.figure = {0.5, 60, 70, 2.5, 1000};
  figures.defining = {4, 4, 4, 4, 4};
  return figures;
}

TriggerConfig Config(fleet::FleetMetric metric, MetricType type = MetricType::kAverageValue,
                     double activation = 0) {
  TriggerConfig config;
  config.metric = metric;
  config.metric_type = type;
  config.activation_threshold = activation;
  return config;
}

MetricAnswer Answer(const TriggerConfig& config, const fleet::FleetFigures& figures) {
  const absl::StatusOr<MetricAnswer> answer = AnswerFor(config, figures);
  EXPECT_TRUE(answer.ok()) << answer.status();
  return answer.ok() ? *answer : MetricAnswer{};
}

TEST(AnswerForTest, AverageValueReturnsTheFleetTotal) {
  const MetricAnswer answer = Answer(Config(fleet::FleetMetric::kLoadAvg), FourWorkers());
  EXPECT_EQ(answer.figure, 0.5);
  EXPECT_EQ(answer.value, 2.0);  // 4 * 0.5
}

TEST(AnswerForTest, AverageValueForEveryMetric) {
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kKvBlocksUsagePercent), FourWorkers()).value, 240);
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kRequestSlotsUsagePercent), FourWorkers()).value,
            280);
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kRequestsWaiting), FourWorkers()).value, 10);
}

TEST(AnswerForTest, ValueReturnsTheFigureItself) {
  const auto value = MetricType::kValue;
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kLoadAvg, value), FourWorkers()).value, 0.5);
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kKvBlocksUsagePercent, value), FourWorkers()).value,
            60);
  EXPECT_EQ(
      Answer(Config(fleet::FleetMetric::kRequestSlotsUsagePercent, value), FourWorkers()).value,
      70);
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kRequestsWaiting, value), FourWorkers()).value, 2.5);
}

TEST(AnswerForTest, FigureIsTheSameForBothTypes) {
  EXPECT_EQ(
      Answer(Config(fleet::FleetMetric::kKvBlocksUsagePercent, MetricType::kValue), FourWorkers())
          .figure,
      60);
  EXPECT_EQ(Answer(Config(fleet::FleetMetric::kKvBlocksUsagePercent), FourWorkers()).figure, 60);
}

TEST(AnswerForTest, ActiveOnlyWhenFigureExceedsActivationThreshold) {
  const auto load = fleet::FleetMetric::kLoadAvg;
  const auto type = MetricType::kAverageValue;
  EXPECT_TRUE(Answer(Config(load, type, 0), FourWorkers()).active);
  EXPECT_TRUE(Answer(Config(load, type, 0.49), FourWorkers()).active);
  // Equal is not greater.
  EXPECT_FALSE(Answer(Config(load, type, 0.5), FourWorkers()).active);
  EXPECT_FALSE(Answer(Config(load, type, 0.51), FourWorkers()).active);
}

TEST(AnswerForTest, ActivationComparesTheFigureNotTheFleetTotal) {
  // N*F = 2.0 exceeds 1.0 but F = 0.5 does not.
  EXPECT_FALSE(
      Answer(Config(fleet::FleetMetric::kLoadAvg, MetricType::kAverageValue, 1.0), FourWorkers())
          .active);
}

TEST(AnswerForTest, IdleFleetIsInactiveAtZeroActivation) {
  fleet::FleetFigures idle = FourWorkers();
  idle.figure[fleet::FleetFigures::Index(fleet::FleetMetric::kLoadAvg)] = 0;
  const MetricAnswer answer = Answer(Config(fleet::FleetMetric::kLoadAvg), idle);
  EXPECT_EQ(answer.value, 0);
  EXPECT_FALSE(answer.active);
}

TEST(AnswerForTest, EmptyFleetAnswersZeroAndInactive) {
  const fleet::FleetFigures empty = fleet::Aggregate({});
  for (fleet::FleetMetric metric : fleet::kAllFleetMetrics) {
    const MetricAnswer answer = Answer(Config(metric), empty);
    EXPECT_EQ(answer.value, 0) << fleet::MetricName(metric);
    EXPECT_EQ(answer.figure, 0) << fleet::MetricName(metric);
    EXPECT_FALSE(answer.active) << fleet::MetricName(metric);
  }
}

TEST(AnswerForTest, UndefinedFigureIsFailedPrecondition) {
  fleet::FleetFigures figures = FourWorkers();
  figures.figure[fleet::FleetFigures::Index(fleet::FleetMetric::kRequestSlotsUsagePercent)].reset();
  for (MetricType type : {MetricType::kAverageValue, MetricType::kValue}) {
    const absl::StatusOr<MetricAnswer> answer =
        AnswerFor(Config(fleet::FleetMetric::kRequestSlotsUsagePercent, type), figures);
    ASSERT_FALSE(answer.ok());
    EXPECT_EQ(answer.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  // Other metrics of the same fleet still answer.
  EXPECT_TRUE(AnswerFor(Config(fleet::FleetMetric::kLoadAvg), figures).ok());
}

TEST(AnswerForTest, UnreadableUnitsCountInNAndTheAnswerSaysSo) {
  // 5 present, 3 reporting at F = 0.5, 2 unreadable: N x F = 2.5, F over 3 of 5.
  fleet::FleetFigures figures = FourWorkers();
  figures.units = 5;
  figures.reporting_units = 3;
  figures.defining = {3, 3, 3, 3, 3};
  figures.unreadable_units = 2;
  figures.main_unreadable_reason = dynamo::DropReason::kNoData;
  const MetricAnswer answer = Answer(Config(fleet::FleetMetric::kLoadAvg), figures);
  EXPECT_EQ(answer.value, 2.5);
  EXPECT_EQ(answer.units, 5u);
  EXPECT_EQ(answer.figure_units, 3u);
  EXPECT_EQ(answer.unreadable_units, 2u);
  EXPECT_EQ(answer.main_unreadable_reason, dynamo::DropReason::kNoData);
}

TEST(AnswerForTest, AllUnreadableIsFailedPreconditionNamingTheTarget) {
  fleet::FleetFigures figures;
  figures.units = 3;
  figures.unreadable_units = 3;
  figures.main_unreadable_reason = dynamo::DropReason::kNoData;
  TriggerConfig config = Config(fleet::FleetMetric::kLoadAvg);
  config.target = fleet::Target{"dynamo", "backend", "generate"};
  const absl::StatusOr<MetricAnswer> answer = AnswerFor(config, figures);
  ASSERT_EQ(answer.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(answer.status().message());
  EXPECT_NE(message.find("dynamo/backend/generate"), std::string::npos) << message;
  EXPECT_NE(message.find("all 3 present worker units are unreadable"), std::string::npos)
      << message;
  EXPECT_NE(message.find("no_data"), std::string::npos) << message;
}

// ---- CeilToInt64 ------------------------------------------------------------

TEST(CeilToInt64Test, ExactIntegersAreUnchanged) {
  EXPECT_EQ(CeilToInt64(0), 0);
  EXPECT_EQ(CeilToInt64(1), 1);
  EXPECT_EQ(CeilToInt64(240), 240);
  EXPECT_EQ(CeilToInt64(9007199254740992.0), 9007199254740992);  // 2^53
}

TEST(CeilToInt64Test, FractionsRoundUp) {
  EXPECT_EQ(CeilToInt64(0.001), 1);
  EXPECT_EQ(CeilToInt64(2.5), 3);
  EXPECT_EQ(CeilToInt64(3.64), 4);
  EXPECT_EQ(CeilToInt64(1.0000001), 2);
}

TEST(CeilToInt64Test, NegativesRoundTowardZero) {
  EXPECT_EQ(CeilToInt64(-0.5), 0);
  EXPECT_EQ(CeilToInt64(-1.5), -1);
  EXPECT_EQ(CeilToInt64(-2), -2);
}

TEST(AnswerForTest, ASnapshotAnswersFromTheTriggersSourceView) {
  fleet::Snapshot snapshot;
  snapshot.target = fleet::Target{"dynamo", "backend", "generate"};
  snapshot.figures = FourWorkers();
  fleet::FleetFigures events = FourWorkers();
  events.figure[fleet::FleetFigures::Index(fleet::FleetMetric::kLoadAvg)] = 0.9;
  snapshot.source_figures[static_cast<size_t>(fleet::SourceView::kEvents)] = events;
  TriggerConfig config = Config(fleet::FleetMetric::kLoadAvg, MetricType::kValue);
  config.target = snapshot.target;
  EXPECT_EQ(AnswerFor(config, snapshot)->value, 0.5);
  config.source = fleet::SourceView::kEvents;
  EXPECT_EQ(AnswerFor(config, snapshot)->value, 0.9);
  // No stats view in this snapshot: that source is not servable, and the answer
  // says so rather than read another source's figures.
  config.source = fleet::SourceView::kStats;
  const absl::StatusOr<MetricAnswer> stats = AnswerFor(config, snapshot);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(stats.status().message().find("dynamo/backend/generate"), std::string_view::npos)
      << stats.status();
  EXPECT_NE(stats.status().message().find("stats"), std::string_view::npos) << stats.status();
}

TEST(CeilToInt64Test, HugeValuesSaturate) {
  EXPECT_EQ(CeilToInt64(9223372036854775808.0), kInt64Max);  // 2^63
  EXPECT_EQ(CeilToInt64(1e19), kInt64Max);
  EXPECT_EQ(CeilToInt64(1e300), kInt64Max);
  EXPECT_EQ(CeilToInt64(std::numeric_limits<double>::infinity()), kInt64Max);
  EXPECT_EQ(CeilToInt64(-1e300), kInt64Min);
  EXPECT_EQ(CeilToInt64(-std::numeric_limits<double>::infinity()), kInt64Min);
}

TEST(CeilToInt64Test, LargestDoubleBelow2To63IsExact) {
  const double below = std::nextafter(9223372036854775808.0, 0.0);  // 2^63 - 1024
  EXPECT_EQ(CeilToInt64(below), int64_t{9223372036854774784});
}

TEST(CeilToInt64Test, NaNDoesNotInvokeUndefinedBehaviour) {
  // ceil(NaN) cast to int64 would be undefined; KEDA reads NaN as 0 anyway.
  EXPECT_EQ(CeilToInt64(std::numeric_limits<double>::quiet_NaN()), 0);
}

}  // namespace
}  // namespace mk::keda
