#include "keda/trigger_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <thread>
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
  MetricAnswer answer;
  answer.figure = figure;
  answer.value = figure * static_cast<double>(workers);
  answer.active = active;
  answer.units = answer.figure_units = answer.reporting_units = workers;
  return answer;
}

class TriggerLogTest : public ::testing::Test {
 protected:
  // An OK answer of `figure` over `workers` units for the trigger `metadata`.
  void Answered(const Metadata& metadata, Rpc rpc, double figure, size_t workers, bool active,
                const std::string& scaled_object = "prod/llm") {
    const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
    ASSERT_TRUE(config.ok()) << config.status();
    log_.Record(scaled_object, metadata, rpc, config, absl::OkStatus(),
                Answer(figure, workers, active));
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
  EXPECT_THAT(recent[0].reason, HasSubstr("llm_load_avg F = 0.5 over 4 of 4 units;"));
  EXPECT_THAT(recent[0].reason, HasSubstr("4 x 0.5 = 2 (AverageValue)"));
  EXPECT_THAT(recent[0].reason, HasSubstr("active since F > activationThreshold 0.2"));
  EXPECT_THAT(recent[0].reason, HasSubstr("HPA aims at 3 replicas for threshold 0.7"));
}

TEST_F(TriggerLogTest, AFailureBecomesTheReasonAndKeepsTheLastValue) {
  const Metadata metadata = Meta({});
  Answered(metadata, Rpc::kGetMetrics, 0.5, 4, true);
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  log_.Record("prod/llm", metadata, Rpc::kGetMetrics, config,
              absl::UnavailableError("fleet picture is 31 s old"), std::nullopt);
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
  log_.Record("prod/llm", metadata, Rpc::kGetMetricSpec, config, config.status(), std::nullopt);
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

TEST_F(TriggerLogTest, ShowsOnlyMetadataValuesThatAreNoSecret) {
  // KEDA hands over `...FromEnv` keys resolved, in clear.
  Answered(Meta({{"threshold", "0.7"},
                 {"metricName", "llm_load_avg"},
                 {"enableTLS", "false"},
                 {"scalerAddress", "user:s3cret@metrics-keda:9090"},
                 {"password", "s3cret"},
                 {"tokenFromEnv", "t0ken"}}),
           Rpc::kGetMetrics, 0.5, 4, true);
  const std::map<std::string, std::string> shown = log_.Recent().at(0).metadata;
  EXPECT_EQ(shown.at("threshold"), "0.7");
  EXPECT_EQ(shown.at("metricName"), "llm_load_avg");
  EXPECT_EQ(shown.at("enableTLS"), "false");
  EXPECT_EQ(shown.at("scalerAddress"), "***@metrics-keda:9090");
  EXPECT_EQ(shown.at("password"), "***");
  EXPECT_EQ(shown.at("tokenFromEnv"), "***");
}

TEST_F(TriggerLogTest, ReasonSaysWhatNAndFCover) {
  // 5 present: 3 reporting, 2 unreadable (no_data); F = 0.5 over the 3.
  const Metadata metadata = Meta({});
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  MetricAnswer answer = Answer(0.5, 5, true);
  answer.figure_units = answer.reporting_units = 3;
  answer.unreadable_units = 2;
  answer.main_unreadable_reason = dynamo::DropReason::kNoData;
  log_.Record("prod/llm", metadata, Rpc::kGetMetrics, config, absl::OkStatus(), answer);
  const std::vector<TriggerRecord> recent = log_.Recent();
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_THAT(recent[0].reason, HasSubstr("F = 0.5 over 3 of 5 units; 2 unreadable: no_data;"));
  EXPECT_THAT(recent[0].reason, HasSubstr("N x F = 5 x 0.5 = 2.5"));
}

TEST_F(TriggerLogTest, ReasonCountsUnitsWithoutACapacity) {
  const Metadata metadata = Meta({{"metricName", "llm_request_slots_usage_percent"}});
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  MetricAnswer answer = Answer(50, 4, true);
  answer.figure_units = 3;
  log_.Record("prod/llm", metadata, Rpc::kGetMetrics, config, absl::OkStatus(), answer);
  EXPECT_THAT(log_.Recent()[0].reason, HasSubstr("over 3 of 4 units; 1 without a capacity;"));
}

// The replicas shown are the HPA's own rule (keda/hpa.h), tolerance included,
// with the N present units as the current replicas.
TEST_F(TriggerLogTest, DesiredReplicasFollowTheHpaRule) {
  // AverageValue: 4 x 0.5 = 2 over 0.7 is ceil(2.86) = 3.
  Answered(Meta({}), Rpc::kGetMetrics, 0.5, 4, true);
  EXPECT_EQ(log_.Recent()[0].desired_replicas, 3);
  // Value (GetMetrics returns F itself): F = 0.5 over 0.7 from 4 current is
  // ceil(0.714 x 4) = 3; F = 0.66 (ratio 0.94, within the 0.1 tolerance) keeps 4.
  const Metadata value = Meta({{"metricType", "Value"}});
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(value, Defaults());
  for (const auto& [figure, scaled_object] :
       {std::pair{0.5, "prod/value"}, std::pair{0.66, "prod/tolerance"}}) {
    MetricAnswer answer = Answer(figure, 4, true);
    answer.value = figure;
    log_.Record(scaled_object, value, Rpc::kGetMetrics, config, absl::OkStatus(), answer);
  }
  std::map<std::string, std::optional<int64_t>> desired;
  for (const TriggerRecord& record : log_.Recent()) {
    desired[record.scaled_object] = record.desired_replicas;
  }
  EXPECT_EQ(desired["prod/value"], 3);
  EXPECT_EQ(desired["prod/tolerance"], 4);
}

// The charts' history is fed from what the log records: a point for each RPC that
// read the fleet, with F, N and the replicas the HPA aims at; a failed one is a gap.
TEST(TriggerLogHistoryTest, APointPerFleetAnswerAGapPerFailure) {
  std::chrono::system_clock::time_point now(std::chrono::seconds(1'700'000'000));
  TriggerLog log([&] { return now; });
  const Metadata metadata = Meta({});
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  // GetMetricSpec reads no fleet, and invalid metadata has no chart: no points.
  log.Record("prod/llm", metadata, Rpc::kGetMetricSpec, config, absl::OkStatus(), std::nullopt);
  const Metadata bad = Meta({{"threshold", "-1"}});
  const absl::StatusOr<TriggerConfig> refused = ParseTriggerMetadata(bad, Defaults());
  log.Record("prod/bad", bad, Rpc::kGetMetrics, refused, refused.status(), std::nullopt);
  EXPECT_TRUE(log.History().series.empty());

  log.Record("prod/llm", metadata, Rpc::kGetMetrics, config, absl::OkStatus(),
             Answer(0.5, 4, true));
  now += FigureHistory::kInterval;
  log.Record("prod/llm", metadata, Rpc::kGetMetrics, config,
             absl::UnavailableError("fleet picture is 31 s old"), std::nullopt);
  now += FigureHistory::kInterval;
  log.Record("prod/llm", metadata, Rpc::kIsActive, config, absl::OkStatus(), Answer(0.9, 4, true));
  const FigureHistoryView view = log.History();
  EXPECT_EQ(view.now, now);
  ASSERT_EQ(view.series.size(), 1u);
  const FigureSeries& series = view.series[0];
  EXPECT_EQ(series.label.scaled_object, "prod/llm");
  EXPECT_EQ(series.label.metric, "llm_load_avg");
  EXPECT_EQ(series.label.target, Defaults().target.ToString());
  EXPECT_EQ(series.label.metric_type, "AverageValue");
  EXPECT_DOUBLE_EQ(series.label.threshold, 0.7);
  ASSERT_EQ(series.points.size(), 3u);
  ASSERT_TRUE(series.points[0].sample.has_value());
  EXPECT_DOUBLE_EQ(series.points[0].sample->figure, 0.5);
  EXPECT_EQ(series.points[0].sample->units, 4u);
  EXPECT_EQ(series.points[0].sample->desired_replicas, 3);  // ceil(4 x 0.5 / 0.7)
  EXPECT_FALSE(series.points[1].sample.has_value());
  ASSERT_TRUE(series.points[2].sample.has_value());
  EXPECT_EQ(series.points[2].sample->desired_replicas, 6);  // ceil(4 x 0.9 / 0.7)
}

// The charts' series are the log's triggers: the one heard of most recently first,
// and a trigger unheard of for an hour is gone with its record.
TEST(TriggerLogHistoryTest, SeriesFollowTheTriggersMostRecentFirst) {
  std::chrono::system_clock::time_point now(std::chrono::seconds(1'700'000'000));
  TriggerLog log([&] { return now; });
  const auto answer = [&](const std::string& scaled_object) {
    const Metadata metadata = Meta({});
    log.Record(scaled_object, metadata, Rpc::kGetMetrics,
               ParseTriggerMetadata(metadata, Defaults()), absl::OkStatus(), Answer(0.5, 4, true));
    now += FigureHistory::kInterval;
  };
  answer("prod/a");
  answer("prod/b");
  answer("prod/c");
  answer("prod/a");
  std::vector<std::string> names;
  for (const FigureSeries& series : log.History().series) {
    names.push_back(series.label.scaled_object);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"prod/a", "prod/c", "prod/b"}));

  now += TriggerLog::kForgetAfter;
  answer("prod/d");  // makes room: the others are an hour old
  ASSERT_EQ(log.History().series.size(), 1u);
  EXPECT_EQ(log.History().series[0].label.scaled_object, "prod/d");
}

// Run under TSan by scripts/sanitize.sh thread: RPC threads record while a page reads.
TEST(TriggerLogHistoryTest, RecordAndReadFromManyThreads) {
  TriggerLog log;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const Metadata metadata = Meta({{"component", "c" + std::to_string(t)}});
      const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
      for (int i = 0; i < 500; ++i) {
        log.Record("prod/llm", metadata, Rpc::kGetMetrics, config, absl::OkStatus(),
                   Answer(0.5, 4, true));
        if (i % 50 == 0) log.History();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const FigureHistoryView view = log.History();
  ASSERT_EQ(view.series.size(), 4u);
  for (const FigureSeries& series : view.series) EXPECT_LE(series.points.size(), 360u);
}

}  // namespace
}  // namespace mk::keda
