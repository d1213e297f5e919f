#include "keda/trigger_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "fleet/fleet_figures.h"
#include "fleet/target.h"

namespace mk::keda {
namespace {

using ::testing::HasSubstr;

Metadata Meta(std::initializer_list<std::pair<std::string, std::string>> entries) {
  Metadata metadata;
  for (const auto& [key, value] : entries) metadata[key] = value;
  return metadata;
}

TriggerDefaults Defaults(double threshold = 0.7) {
  TriggerDefaults defaults;
  defaults.target = fleet::Target{"dynamo", "llm-worker", "kv-router"};
  defaults.threshold = threshold;
  return defaults;
}

// The metadata is rejected with INVALID_ARGUMENT naming `key` and `value`.
void ExpectRejected(const Metadata& metadata, const std::string& key, const std::string& value) {
  const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, Defaults());
  ASSERT_FALSE(config.ok()) << key << "=\"" << value << "\" was accepted";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(key));
  // Long values may be shortened in the message; their first 128 characters are quoted.
  const std::string quoted = value.size() > 128 ? value.substr(0, 128) : value + "\"";
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("\"" + quoted));
}

TriggerConfig Parsed(const Metadata& metadata, const TriggerDefaults& defaults = Defaults()) {
  absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(metadata, defaults);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : TriggerConfig{};
}

// ---- Defaults ---------------------------------------------------------------

TEST(TriggerConfigTest, EmptyMetadataTakesTheDefaults) {
  const TriggerConfig config = Parsed({}, Defaults(0.55));
  EXPECT_EQ(config.target, (fleet::Target{"dynamo", "llm-worker", "kv-router"}));
  EXPECT_EQ(config.metric, fleet::FleetMetric::kLoadAvg);
  EXPECT_EQ(config.threshold, 0.55);
  EXPECT_EQ(config.activation_threshold, 0);
  EXPECT_EQ(config.metric_type, MetricType::kAverageValue);
}

TEST(TriggerConfigTest, DefaultTargetComesFromTheDefaults) {
  TriggerDefaults defaults = Defaults();
  defaults.target = fleet::Target{"prod", "backend", "load_metrics"};
  EXPECT_EQ(Parsed({}, defaults).target, (fleet::Target{"prod", "backend", "load_metrics"}));
}

TEST(TriggerConfigTest, UnknownKeysAreIgnored) {
  const TriggerConfig config = Parsed(Meta({{"scalerAddress", "metrics-keda.keda:9090"},
                                            {"enableTLS", "false"},
                                            {"unsafeSsl", "maybe"},
                                            {"caCert", "???"}}));
  EXPECT_EQ(config.target, (fleet::Target{"dynamo", "llm-worker", "kv-router"}));
  EXPECT_EQ(config.metric, fleet::FleetMetric::kLoadAvg);
  EXPECT_EQ(config.threshold, 0.7);
}

TEST(TriggerConfigTest, KeysDifferingFromAKnownOneOnlyInCaseAreRefused) {
  for (const auto& [given, meant] : std::vector<std::pair<std::string, std::string>>{
           {"metricname", "metricName"},
           {"Threshold", "threshold"},
           {"METRICTYPE", "metricType"},
           {"ActivationThreshold", "activationThreshold"},
           {"Namespace", "namespace"}}) {
    SCOPED_TRACE(given);
    const absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(
        Meta({{"scalerAddress", "metrics-keda:9090"}, {given, "1"}}), Defaults());
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(config.status().message(), "trigger metadata key \"" + given +
                                             "\" is not known; did you mean \"" + meant +
                                             "\"? (keys are case-sensitive)");
  }
  // Also beside the right key.
  EXPECT_FALSE(
      ParseTriggerMetadata(Meta({{"threshold", "0.5"}, {"threshold ", "1"}, {"THRESHOLD", "2"}}),
                           Defaults())
          .ok());
}

// The check covers every key the parser knows, so a key added later is covered too.
TEST(TriggerConfigTest, EveryKnownKeyIsCheckedForCase) {
  ASSERT_GE(KnownMetadataKeys().size(), 7u);
  for (const std::string_view known : KnownMetadataKeys()) {
    std::string upper(known);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    SCOPED_TRACE(upper);
    const absl::StatusOr<TriggerConfig> config =
        ParseTriggerMetadata(Meta({{upper, "x"}}), Defaults());
    ASSERT_FALSE(config.ok());
    EXPECT_THAT(std::string(config.status().message()),
                HasSubstr("did you mean \"" + std::string(known) + "\""));
  }
}

TEST(TriggerConfigTest, KeysDifferingInMoreThanCaseAreIgnored) {
  const TriggerConfig config = Parsed(
      Meta({{"metric_name", "x"}, {"thresholds", "x"}, {"threshold ", "x"}, {"metricTyp", "x"}}));
  EXPECT_EQ(config.metric, fleet::FleetMetric::kLoadAvg);
  EXPECT_EQ(config.threshold, 0.7);
}

// ---- Target -----------------------------------------------------------------

TEST(TriggerConfigTest, TargetKeysOverrideTheDefaults) {
  EXPECT_EQ(Parsed(Meta({{"namespace", "prod"}})).target,
            (fleet::Target{"prod", "llm-worker", "kv-router"}));
  EXPECT_EQ(Parsed(Meta({{"component", "VllmWorker"}})).target,
            (fleet::Target{"dynamo", "VllmWorker", "kv-router"}));
  EXPECT_EQ(Parsed(Meta({{"endpoint", "load_metrics"}})).target,
            (fleet::Target{"dynamo", "llm-worker", "load_metrics"}));
  EXPECT_EQ(Parsed(Meta({{"namespace", "a"}, {"component", "b"}, {"endpoint", "c"}})).target,
            (fleet::Target{"a", "b", "c"}));
}

TEST(TriggerConfigTest, RejectsBadTargetNames) {
  for (const std::string key : {"namespace", "component", "endpoint"}) {
    SCOPED_TRACE(key);
    for (const std::string& value :
         std::vector<std::string>{"", "a.b", "a*", ">", "a b", std::string(129, 'x')}) {
      ExpectRejected(Meta({{key, value}}), key, value);
    }
  }
}

TEST(TriggerConfigTest, AcceptsLongestTargetName) {
  const std::string name(128, 'x');
  EXPECT_EQ(Parsed(Meta({{"component", name}})).target.component, name);
}

// ---- metricName and threshold ---------------------------------------------

TEST(TriggerConfigTest, MetricNameSelectsTheMetric) {
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_load_avg"}})).metric, fleet::FleetMetric::kLoadAvg);
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_kv_blocks_usage_percent"}})).metric,
            fleet::FleetMetric::kKvBlocksUsagePercent);
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_request_slots_usage_percent"}})).metric,
            fleet::FleetMetric::kRequestSlotsUsagePercent);
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_requests_waiting"}, {"threshold", "4"}})).metric,
            fleet::FleetMetric::kRequestsWaiting);
}

TEST(TriggerConfigTest, RejectsUnknownMetricName) {
  ExpectRejected(Meta({{"metricName", "llm_load"}}), "metricName", "llm_load");
  ExpectRejected(Meta({{"metricName", "LLM_LOAD_AVG"}}), "metricName", "LLM_LOAD_AVG");
  ExpectRejected(Meta({{"metricName", ""}}), "metricName", "");
}

TEST(TriggerConfigTest, LoadThresholdDefaultsToTheCommandLines) {
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_load_avg"}}), Defaults(0.5)).threshold, 0.5);
}

TEST(TriggerConfigTest, PercentThresholdsDefaultTo100TimesTheCommandLines) {
  EXPECT_DOUBLE_EQ(
      Parsed(Meta({{"metricName", "llm_kv_blocks_usage_percent"}}), Defaults(0.5)).threshold, 50);
  EXPECT_DOUBLE_EQ(
      Parsed(Meta({{"metricName", "llm_request_slots_usage_percent"}}), Defaults(0.8)).threshold,
      80);
}

TEST(TriggerConfigTest, RequestsWaitingRequiresAThreshold) {
  const absl::StatusOr<TriggerConfig> config =
      ParseTriggerMetadata(Meta({{"metricName", "llm_requests_waiting"}}), Defaults());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("threshold"));
}

TEST(TriggerConfigTest, ExplicitThresholdWinsForEveryMetric) {
  EXPECT_EQ(Parsed(Meta({{"threshold", "0.5"}})).threshold, 0.5);
  EXPECT_EQ(
      Parsed(Meta({{"metricName", "llm_kv_blocks_usage_percent"}, {"threshold", "85"}})).threshold,
      85);
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_request_slots_usage_percent"}, {"threshold", "60"}}))
                .threshold,
            60);
  EXPECT_EQ(Parsed(Meta({{"metricName", "llm_requests_waiting"}, {"threshold", "2.5"}})).threshold,
            2.5);
}

TEST(TriggerConfigTest, ThresholdAcceptsDecimalsFromOneThousandth) {
  EXPECT_EQ(Parsed(Meta({{"threshold", "1e-3"}})).threshold, 0.001);
  EXPECT_EQ(Parsed(Meta({{"threshold", "0.001"}})).threshold, 0.001);
  EXPECT_EQ(Parsed(Meta({{"threshold", ".5"}})).threshold, 0.5);
  EXPECT_EQ(Parsed(Meta({{"threshold", "+0.7"}})).threshold, 0.7);
  EXPECT_EQ(Parsed(Meta({{"threshold", "10"}})).threshold, 10);
  EXPECT_EQ(Parsed(Meta({{"threshold", "6.111"}})).threshold, 6.111);
}

TEST(TriggerConfigTest, RejectsBadThresholds) {
  for (const std::string value :
       {"0", "-1", "-0", "abc", "nan", "NaN", "inf", "-inf", "1e999", " 1", "1 ", "", "0.7x",
        "0x10", "0x1p-3", "0X1P-1", "infinity", "1,5"}) {
    ExpectRejected(Meta({{"threshold", value}}), "threshold", value);
  }
}

// KEDA gives the HPA the target in thousandths: a smaller threshold would be 0.
TEST(TriggerConfigTest, RejectsThresholdsBelowOneThousandth) {
  for (const std::string value : {"0.0009999", "0.0005", "1e-4", "1e-300", "0.000"}) {
    ExpectRejected(Meta({{"threshold", value}}), "threshold", value);
  }
  const absl::StatusOr<TriggerConfig> config =
      ParseTriggerMetadata(Meta({{"threshold", "0.0005"}}), Defaults());
  EXPECT_EQ(config.status().message(),
            "trigger metadata threshold=\"0.0005\": must be a decimal number >= 0.001: KEDA "
            "rounds targets to 3 decimals, so a smaller one becomes 0");
}

// ---- activationThreshold ----------------------------------------------------

TEST(TriggerConfigTest, ActivationThresholdAcceptsZeroAndAbove) {
  EXPECT_EQ(Parsed(Meta({{"activationThreshold", "0"}})).activation_threshold, 0);
  EXPECT_EQ(Parsed(Meta({{"activationThreshold", "0.25"}})).activation_threshold, 0.25);
  EXPECT_EQ(Parsed(Meta({{"activationThreshold", "40"}})).activation_threshold, 40);
}

TEST(TriggerConfigTest, RejectsBadActivationThresholds) {
  for (const std::string value : {"-1", "-0.001", "abc", "nan", "inf", "1e999", " 1", "1 ", "",
                                  "0x10", "0x1p-3", "1e", "."}) {
    ExpectRejected(Meta({{"activationThreshold", value}}), "activationThreshold", value);
  }
}

// ---- metricType -------------------------------------------------------------

TEST(TriggerConfigTest, MetricTypeTakesExactValues) {
  EXPECT_EQ(Parsed(Meta({{"metricType", "AverageValue"}})).metric_type, MetricType::kAverageValue);
  EXPECT_EQ(Parsed(Meta({{"metricType", "Value"}})).metric_type, MetricType::kValue);
}

TEST(TriggerConfigTest, RejectsOtherMetricTypes) {
  for (const std::string value : {"value", "averagevalue", "Utilization", "Value ", ""}) {
    ExpectRejected(Meta({{"metricType", value}}), "metricType", value);
  }
}

// ---- source -------------------------------------------------------------------

TEST(TriggerConfigTest, SourceNamesOneSourceAloneUnderAuto) {
  EXPECT_EQ(Parsed(Meta({})).source, fleet::SourceView::kAll);
  EXPECT_EQ(Parsed(Meta({{"source", "auto"}})).source, fleet::SourceView::kAll);
  EXPECT_EQ(Parsed(Meta({{"source", "stats"}})).source, fleet::SourceView::kStats);
  EXPECT_EQ(Parsed(Meta({{"source", "events"}})).source, fleet::SourceView::kEvents);
}

TEST(TriggerConfigTest, SourceOfAOneSourceScalerIsThatSource) {
  TriggerDefaults events = Defaults();
  events.source = SourceChoice::kEvents;
  // Every picture of that scaler is of events alone already.
  EXPECT_EQ(Parsed(Meta({{"source", "events"}}), events).source, fleet::SourceView::kAll);
  EXPECT_EQ(Parsed(Meta({{"source", "auto"}}), events).source, fleet::SourceView::kAll);
  const absl::StatusOr<TriggerConfig> stats =
      ParseTriggerMetadata(Meta({{"source", "stats"}}), events);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(stats.status().message()), HasSubstr("--source events"));
}

TEST(TriggerConfigTest, RejectsOtherSources) {
  // metrics: the defaults run no /metrics source (not Kubernetes discovery).
  for (const std::string value : {"Stats", "event", "nats", "zmq", "metrics", ""}) {
    ExpectRejected(Meta({{"source", value}}), "source", value);
  }
}

TEST(TriggerConfigTest, TheWorkersPagesAloneOnKubernetes) {
  TriggerDefaults kubernetes = Defaults();
  kubernetes.metrics_source = true;
  EXPECT_EQ(Parsed(Meta({{"source", "metrics"}}), kubernetes).source, fleet::SourceView::kMetrics);
  TriggerDefaults metrics = Defaults();
  metrics.source = SourceChoice::kMetrics;
  EXPECT_EQ(Parsed(Meta({{"source", "metrics"}}), metrics).source, fleet::SourceView::kAll);
  EXPECT_FALSE(ParseTriggerMetadata(Meta({{"source", "events"}}), metrics).ok());
}

// ---- kvTotalBlocks ----------------------------------------------------------

TEST(TriggerConfigTest, KvTotalBlocksIsABlockCount) {
  EXPECT_FALSE(Parsed(Meta({})).kv_total_blocks);
  EXPECT_EQ(Parsed(Meta({{"kvTotalBlocks", "8192"}})).kv_total_blocks, 8192u);
  EXPECT_EQ(Parsed(Meta({{"kvTotalBlocks", "9007199254740992"}})).kv_total_blocks,
            uint64_t{1} << 53);
}

TEST(TriggerConfigTest, RejectsBadKvTotalBlocks) {
  for (const std::string value :
       {"0", "-1", "+8", "8.0", "1e3", " 8", "9007199254740993", "99999999999999999", ""}) {
    ExpectRejected(Meta({{"kvTotalBlocks", value}}), "kvTotalBlocks", value);
  }
}

// ---- Everything at once -----------------------------------------------------

TEST(TriggerConfigTest, FullMetadata) {
  const TriggerConfig config = Parsed(Meta({{"scalerAddress", "metrics-keda:9090"},
                                            {"namespace", "prod"},
                                            {"component", "backend"},
                                            {"endpoint", "load_metrics"},
                                            {"metricName", "llm_kv_blocks_usage_percent"},
                                            {"threshold", "75"},
                                            {"activationThreshold", "5"},
                                            {"metricType", "Value"}}));
  EXPECT_EQ(config.target, (fleet::Target{"prod", "backend", "load_metrics"}));
  EXPECT_EQ(config.metric, fleet::FleetMetric::kKvBlocksUsagePercent);
  EXPECT_EQ(config.threshold, 75);
  EXPECT_EQ(config.activation_threshold, 5);
  EXPECT_EQ(config.metric_type, MetricType::kValue);
}

TEST(TriggerConfigTest, OneBadKeyRejectsTheWholeTrigger) {
  ExpectRejected(Meta({{"namespace", "prod"}, {"threshold", "0.5"}, {"metricType", "Average"}}),
                 "metricType", "Average");
}

}  // namespace
}  // namespace mk::keda
