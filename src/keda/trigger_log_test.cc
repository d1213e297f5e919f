#include "keda/trigger_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "fleet/target.h"

namespace mk::keda {
namespace {

using ::testing::HasSubstr;

Metadata Meta(const std::vector<std::pair<std::string, std::string>>& entries) {
  Metadata metadata;
  for (const auto& [key, value] : entries) metadata[key] = value;
  return metadata;
}

TriggerDefaults Defaults() {
  TriggerDefaults defaults;
  defaults.target = fleet::Target{"dynamo", "llm-worker", "kv-router"};
  defaults.threshold = 0.7;
  return defaults;
}

MetricAnswer Answer(double figure, size_t workers, bool active) {
  return MetricAnswer{figure, figure * static_cast<double>(workers), active};
}

class TriggerLogTest : public ::testing::Test {
 protected:
  // An OK answer of `figure` over `workers` units for the trigger `metadata`.
  void Answered(const Metadata& metadata, Rpc rpc, double figure, size_t workers, bool active,
                const std::string& scaled_object = "prod/llm") {
    const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
    ASSERT_TRUE(config.ok()) << config.status();
    log_.Record(scaled_object, metadata, rpc, config, absl::OkStatus(),
                Answer(figure, workers, active), workers);
  }

  TriggerLog log_;
};

TEST_F(TriggerLogTest, SameMetadataInAnyOrderIsOneTrigger) {
  // Protobuf maps iterate in no fixed order: build the same map both ways.
  Answered(Meta({{"threshold", "0.7"}, {"metricName", "llm_load_avg"}, {"component", "a"}}),
           Rpc::kGetMetrics, 0.5, 4, true);
  Answered(Meta({{"component", "a"}, {"metricName", "llm_load_avg"}, {"threshold", "0.7"}}),
           Rpc::kGetMetrics, 0.6, 4, true);
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_DOUBLE_EQ(*recent[0].value, 0.6 * 4);
  EXPECT_EQ(recent[0].metadata.at("component"), "a");
}

TEST_F(TriggerLogTest, DifferentMetadataOrScaledObjectAreDifferentTriggers) {
  Answered(Meta({{"component", "a"}}), Rpc::kGetMetrics, 0.5, 4, true);
  Answered(Meta({{"component", "b"}}), Rpc::kGetMetrics, 0.5, 4, true);
  Answered(Meta({{"component", "a"}}), Rpc::kGetMetrics, 0.5, 4, true, "prod/other");
  EXPECT_EQ(log_.Recent().size(), 3u);
}

TEST_F(TriggerLogTest, ReasonExplainsTheLastAnswer) {
  // AverageValue, threshold 0.7: N x F = 4 x 0.5 = 2, the HPA aims at ceil(2 / 0.7) = 3.
  Answered(Meta({{"activationThreshold", "0.2"}}), Rpc::kGetMetrics, 0.5, 4, true);
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].desired_replicas, 3);
  EXPECT_EQ(recent[0].workers, 4u);
  EXPECT_EQ(recent[0].active, true);
  EXPECT_THAT(recent[0].reason, HasSubstr("llm_load_avg F = 0.5 over 4 worker units"));
  EXPECT_THAT(recent[0].reason, HasSubstr("4 x 0.5 = 2 (AverageValue)"));
  EXPECT_THAT(recent[0].reason, HasSubstr("active since F > activationThreshold 0.2"));
  EXPECT_THAT(recent[0].reason, HasSubstr("HPA aims at 3 replicas for threshold 0.7"));
}

TEST_F(TriggerLogTest, AFailureBecomesTheReasonAndKeepsTheLastValue) {
  const Metadata metadata = Meta({});
  Answered(metadata, Rpc::kGetMetrics, 0.5, 4, true);
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  log_.Record("prod/llm", metadata, Rpc::kGetMetrics, config,
              absl::UnavailableError("fleet picture is 31 s old"), std::nullopt, 0);
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].last_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(recent[0].reason, "fleet picture is 31 s old");
  EXPECT_DOUBLE_EQ(*recent[0].value, 2);
}

TEST_F(TriggerLogTest, InvalidMetadataIsRecordedWithItsError) {
  const Metadata metadata = Meta({{"threshold", "-1"}});
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  ASSERT_FALSE(config.ok());
  log_.Record("prod/llm", metadata, Rpc::kGetMetricSpec, config, config.status(), std::nullopt, 0);
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_FALSE(recent[0].config.has_value());
  EXPECT_EQ(recent[0].last_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(recent[0].reason, std::string(config.status().message()));
}

TEST_F(TriggerLogTest, OnlyGetMetricsSetsTheValue) {
  const Metadata metadata = Meta({});
  Answered(metadata, Rpc::kIsActive, 0.5, 4, true);
  std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_FALSE(recent[0].value.has_value());
  EXPECT_EQ(recent[0].active, true);
  EXPECT_EQ(recent[0].last_rpc, Rpc::kIsActive);
}

TEST_F(TriggerLogTest, MostRecentFirst) {
  Answered(Meta({{"component", "old"}}), Rpc::kGetMetrics, 0.5, 4, true);
  Answered(Meta({{"component", "new"}}), Rpc::kGetMetrics, 0.5, 4, true);
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].metadata.at("component"), "new");
}

TEST_F(TriggerLogTest, KeepsAtMostMaxTriggersDroppingTheLeastRecent) {
  for (size_t i = 0; i <= TriggerLog::kMaxTriggers; ++i) {
    Answered(Meta({{"component", "c" + std::to_string(i)}}), Rpc::kGetMetrics, 0.5, 4, true);
  }
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), TriggerLog::kMaxTriggers);
  for (const TriggerRecord& record : recent) EXPECT_NE(record.metadata.at("component"), "c0");
}

TEST(DesiredReplicasTest, AverageValueAndValue) {
  TriggerConfig config;
  config.threshold = 0.7;
  config.metric_type = MetricType::kAverageValue;
  EXPECT_EQ(DesiredReplicas(config, 2.0, 4), 3);  // ceil(2 / 0.7)
  config.metric_type = MetricType::kValue;
  EXPECT_EQ(DesiredReplicas(config, 0.5, 4), 3);  // ceil(0.5 / 0.7 x 4)
}

}  // namespace
}  // namespace mk::keda
