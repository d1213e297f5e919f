#include "autoscaling/scaled_object.h"

#include <gtest/gtest.h>

namespace mk::autoscaling {
namespace {

keda::TriggerDefaults Defaults() {
  keda::TriggerDefaults defaults;
  defaults.target = fleet::Target{"dynamo", "backend", "generate"};
  return defaults;
}

constexpr char kFull[] = R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: decode
spec:
  scaleTargetRef: {name: decode}
  pollingInterval: 10
  cooldownPeriod: 120
  initialCooldownPeriod: 60
  minReplicaCount: 1
  maxReplicaCount: 8
  fallback:
    failureThreshold: 3
    replicas: 6
    behavior: currentReplicasIfHigher
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 600
          policies:
          - {type: Pods, value: 1, periodSeconds: 120}
        scaleUp:
          selectPolicy: Min
          policies:
          - {type: Percent, value: 50, periodSeconds: 30}
          - {type: Pods, value: 2, periodSeconds: 30}
  triggers:
  - type: external-push
    metadata:
      scalerAddress: metrics-keda:9090
      metricName: llm_kv_blocks_usage_percent
      threshold: "75"
      activationThreshold: "5"
  - type: prometheus
    name: frontend_queue
    metricType: Value
    metadata:
      serverAddress: http://prometheus:9090
      query: sum(dynamo_frontend_queued_requests)
      threshold: "20"
)";

TEST(ScaledObjectTest, ReadsEveryFieldReplayUses) {
  absl::StatusOr<std::vector<ScaledObjectSpec>> objects = ParseScaledObjects(kFull, Defaults());
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 1u);
  const ScaledObjectSpec& object = (*objects)[0];
  EXPECT_EQ(object.name, "decode");
  EXPECT_EQ(object.keda.polling_interval_seconds, 10);
  EXPECT_EQ(object.keda.cooldown_period_seconds, 120);
  EXPECT_EQ(object.keda.initial_cooldown_period_seconds, 60);
  EXPECT_EQ(object.keda.min_replica_count, 1);
  EXPECT_EQ(object.keda.max_replica_count, 8);
  ASSERT_TRUE(object.keda.fallback);
  EXPECT_EQ(object.keda.fallback->failure_threshold, 3);
  EXPECT_EQ(object.keda.fallback->replicas, 6);
  EXPECT_EQ(object.keda.fallback->behavior, FallbackBehavior::kCurrentReplicasIfHigher);
  ASSERT_TRUE(object.behavior);
  EXPECT_EQ(object.behavior->scale_down.stabilization_window_seconds, 600);
  EXPECT_EQ(*object.behavior->scale_down.policies,
            (std::vector<ScalingPolicy>{{PolicyType::kPods, 1, 120}}));
  EXPECT_EQ(object.behavior->scale_up.select_policy, SelectPolicy::kMin);
  EXPECT_EQ(object.behavior->scale_up.policies->size(), 2u);
  EXPECT_FALSE(object.behavior->scale_up.stabilization_window_seconds);
  ASSERT_EQ(object.triggers.size(), 2u);
  const TriggerSpec& scaler = object.triggers[0];
  ASSERT_TRUE(scaler.scaler);
  EXPECT_EQ(scaler.scaler->metric, fleet::FleetMetric::kKvBlocksUsagePercent);
  EXPECT_DOUBLE_EQ(scaler.Target().target, 75);
  EXPECT_DOUBLE_EQ(scaler.scaler->activation_threshold, 5);
  const TriggerSpec& other = object.triggers[1];
  EXPECT_FALSE(other.scaler);
  EXPECT_EQ(other.name, "frontend_queue");
  EXPECT_EQ(other.metric_type, keda::MetricType::kValue);
  EXPECT_DOUBLE_EQ(other.Target().target, 20);
}

TEST(ScaledObjectTest, KedaDefaultsWhereTheObjectIsSilent) {
  absl::StatusOr<std::vector<ScaledObjectSpec>> objects = ParseScaledObjects(R"(
kind: ScaledObject
metadata: {name: plain}
spec:
  triggers:
  - type: external
    metadata: {scalerAddress: "metrics-keda:9090"}
)",
                                                                             Defaults());
  ASSERT_TRUE(objects.ok()) << objects.status();
  const ScaledObjectSpec& object = (*objects)[0];
  EXPECT_EQ(object.keda.polling_interval_seconds, 30);
  EXPECT_EQ(object.keda.cooldown_period_seconds, 300);
  EXPECT_EQ(object.keda.min_replica_count, 0);
  EXPECT_EQ(object.keda.max_replica_count, 100);
  EXPECT_FALSE(object.keda.fallback);
  EXPECT_FALSE(object.behavior);
  EXPECT_DOUBLE_EQ(object.triggers[0].Target().target, 0.7);  // the scaler's default threshold
}

TEST(ScaledObjectTest, SeveralObjectsInOneFile) {
  const std::string one = R"(
kind: ScaledObject
metadata: {name: NAME}
spec: {triggers: [{type: external, metadata: {threshold: "0.5"}}]}
)";
  std::string text = one + "---" + one;
  text.replace(text.find("NAME"), 4, "a");
  text.replace(text.find("NAME"), 4, "b");
  absl::StatusOr<std::vector<ScaledObjectSpec>> objects = ParseScaledObjects(text, Defaults());
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ((*objects)[1].name, "b");
}

TEST(ScaledObjectTest, RefusesWhatKedaOrKubernetesWouldRefuse) {
  const auto error = [](const std::string& spec) {
    absl::StatusOr<std::vector<ScaledObjectSpec>> objects =
        ParseScaledObjects("kind: ScaledObject\nmetadata: {name: bad}\nspec:\n" + spec, Defaults());
    return objects.ok() ? std::string("ok") : std::string(objects.status().message());
  };
  const std::string trigger = "  triggers: [{type: external}]\n";
  EXPECT_NE(error("  minReplicaCount: 5\n  maxReplicaCount: 2\n" + trigger).find("maxReplicaCount"),
            std::string::npos);
  EXPECT_NE(
      error("  minReplicaCount: 1\n  idleReplicaCount: 1\n" + trigger).find("idleReplicaCount"),
      std::string::npos);
  EXPECT_NE(error("  pollingInterval: 1.5\n" + trigger).find("pollingInterval must be an integer"),
            std::string::npos);
  EXPECT_NE(error("  triggers: []\n").find("at least one trigger"), std::string::npos);
  EXPECT_NE(
      error("  triggers: [{type: external, metadata: {metricName: nope}}]\n").find("metricName"),
      std::string::npos);
  EXPECT_NE(error("  triggers: [{type: prometheus, metadata: {threshold: \"5\"}}]\n").find("name"),
            std::string::npos);
  EXPECT_NE(error("  triggers: [{type: prometheus, name: q, metadata: {}}]\n")
                .find("threshold is required"),
            std::string::npos);
  EXPECT_NE(
      error("  advanced: {scalingModifiers: {formula: x}}\n" + trigger).find("scalingModifiers"),
      std::string::npos);
  const std::string behavior = "  advanced: {horizontalPodAutoscalerConfig: {behavior: {scaleUp: ";
  EXPECT_NE(error(behavior + "{selectPolicy: Most}}}}\n" + trigger)
                .find("selectPolicy must be Max, Min or Disabled"),
            std::string::npos);
  EXPECT_NE(error(behavior + "{policies: [{type: Pods, periodSeconds: 15}]}}}}\n" + trigger)
                .find("policies[0].value is required"),
            std::string::npos);
  EXPECT_NE(error(behavior + "{policies: [{value: 1, periodSeconds: 15}]}}}}\n" + trigger)
                .find("policies[0].type is required"),
            std::string::npos);
  EXPECT_NE(error("  triggers: [{type: external, metricType: Utilization}]\n")
                .find("metricType must be AverageValue or Value (Utilization is for CPU"),
            std::string::npos);
  EXPECT_NE(
      error(behavior + "{policies: [{type: Pods, value: 0, periodSeconds: 15}]}}}}\n" + trigger)
          .find("value"),
      std::string::npos);
  EXPECT_NE(
      error(behavior + "{policies: [{type: Pods, value: 1, periodSeconds: 1801}]}}}}\n" + trigger)
          .find("periodSeconds"),
      std::string::npos);
  EXPECT_NE(error("  fallback: {replicas: 6}\n" + trigger).find("fallback.failureThreshold"),
            std::string::npos);
  EXPECT_NE(error("  fallback: {failureThreshold: 3}\n" + trigger).find("fallback.replicas"),
            std::string::npos);
  EXPECT_NE(error("  fallback: {failureThreshold: 3, replicas: 2, behavior: sometimes}\n" + trigger)
                .find("fallback.behavior"),
            std::string::npos);
}

TEST(ScaledObjectTest, NoScaledObjectOrBadYamlIsAnError) {
  EXPECT_FALSE(ParseScaledObjects("kind: Deployment\n", Defaults()).ok());
  EXPECT_FALSE(ParseScaledObjects("kind: [unclosed\n", Defaults()).ok());
  EXPECT_FALSE(ParseScaledObjects("", Defaults()).ok());
}

}  // namespace
}  // namespace mk::autoscaling
