// Replays against timelines worked out by hand from the Kubernetes and KEDA
// documentation (comments give the arithmetic), and the load model's conservation
// of demand over a whole replay.
#include "replay/simulation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mk::replay {
namespace {

using autoscaling::ScaledObjectSpec;

ScaledObjectSpec Parse(const std::string& yaml) {
  keda::TriggerDefaults defaults;
  defaults.target = fleet::Target{"dynamo", "backend", "generate"};
  absl::StatusOr<std::vector<ScaledObjectSpec>> objects =
      autoscaling::ParseScaledObjects(yaml, defaults);
  EXPECT_TRUE(objects.ok()) << objects.status();
  return objects.ok() ? (*objects)[0] : ScaledObjectSpec{};
}

TraceSample At(double time, std::optional<double> demand,
               std::map<std::string, std::optional<double>, std::less<>> columns = {}) {
  return TraceSample{time, demand, std::move(columns)};
}

struct Event {
  int64_t time;
  int32_t from;
  int32_t to;
  Actor actor;
  friend bool operator==(const Event&, const Event&) = default;
};
std::vector<Event> Events(const ReplayResult& result) {
  std::vector<Event> events;
  for (const ScaleEvent& e : result.events) events.push_back({e.time, e.from, e.to, e.actor});
  return events;
}
std::ostream& operator<<(std::ostream& out, const Event& e) {
  return out << "{t=" << e.time << " " << e.from << "->" << e.to << " " << ActorName(e.actor)
             << "}";
}

constexpr char kLoadAvg[] = R"yaml(
kind: ScaledObject
metadata: {name: decode}
spec:
  minReplicaCount: 1
  maxReplicaCount: 10
  triggers:
  - type: external
    metadata: {threshold: "0.7"}
)yaml";

// Demand 1.4 on 1 pod: F = 1 (a pod is full at 1), GetMetrics 1 x 1 = 1, and at t=0
// the HPA wants ceil(1 / 0.7) = 2. Then F = 0.7 on 2: ratio 1, kept. At t=100 the
// demand drops to 0.35: from the sync at t=105 the HPA wants ceil(0.35 / 0.7) = 1,
// but the recommendation of 2 made at t=90 stays in the 300 s window up to t=390;
// the sync at t=405 scales down.
TEST(ReplayTest, ScaleUpAtOnceScaleDownAfterTheStabilizationWindow) {
  const Trace trace{{At(0, 1.4), At(100, 0.35), At(500, 0.35)}};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kLoadAvg), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Events(*result),
            (std::vector<Event>{{0, 1, 2, Actor::kHpa}, {405, 2, 1, Actor::kHpa}}));
  // Seconds 0 to 499: the last sample marks the end.
  EXPECT_EQ(result->seconds.size(), 500u);
  EXPECT_NEAR(result->summary.replica_hours, (405 * 2 + 95 * 1) / 3600.0, 1e-12);
  EXPECT_EQ(result->summary.scale_ups, 1);
  EXPECT_EQ(result->summary.scale_downs, 1);
  EXPECT_EQ(result->summary.seconds_above_target, 0);  // 2 pods ready from t=0
  EXPECT_NEAR(result->summary.flaps_per_hour, 1 / (500 / 3600.0), 1e-9);
}

// With a 60 s start-up the second pod serves from t=60: until then the one ready pod
// is full and 0.4 of a pod's demand waits (0.4 x 64 slots = 25.6 requests). The HPA
// counts both pods meanwhile: at t=15 the total is 1 x 1 = 1 against 2 x 0.7, ratio
// 0.71, and ceil(1 / 0.7) = 2 keeps 2.
TEST(ReplayTest, PodsStartingUpDoNotServe) {
  const Trace trace{{At(0, 1.4), At(120, 1.4)}};
  absl::StatusOr<ReplayResult> result =
      Replay(trace, Parse(kLoadAvg), ReplayOptions{.startup_delay_seconds = 60});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Events(*result), (std::vector<Event>{{0, 1, 2, Actor::kHpa}}));
  EXPECT_EQ(result->seconds[59].ready, 1);
  EXPECT_NEAR(result->seconds[59].waiting, 25.6, 1e-9);
  EXPECT_EQ(result->seconds[60].ready, 2);
  EXPECT_DOUBLE_EQ(result->seconds[60].waiting, 0);
  EXPECT_EQ(result->summary.seconds_above_target, 60);  // F = 1 > 0.7 for t = 0..59
  EXPECT_NEAR(result->summary.worst_waiting, 25.6, 1e-9);
}

constexpr char kToZero[] = R"yaml(
kind: ScaledObject
metadata: {name: decode}
spec:
  minReplicaCount: 0
  maxReplicaCount: 10
  triggers:
  - type: external
    metadata: {threshold: "0.7"}
  - type: prometheus
    name: queue
    metadata: {threshold: "10", query: "sum(dynamo_frontend_queued_requests)"}
)yaml";

// Idle from the start: the poll at t=0 finds nothing active, and as nothing was ever
// active the first poll after creation (t=30) scales to zero. At t=200 the frontend
// queue holds 5: the poll at t=210 finds the queue trigger active and KEDA wakes the
// workload to 1 (the scaler's own trigger reads 0 with no worker). Demand ends at
// t=400; the last active poll was t=390, so the cooldown ends after 690: the poll at
// t=720 scales to zero.
TEST(ReplayTest, ScaleToZeroAndBackOnAnotherTrigger) {
  const Trace trace{{At(0, 0, {{"queue", 0.0}}), At(200, 0.5, {{"queue", 5.0}}),
                     At(400, 0, {{"queue", 0.0}}), At(900, 0, {{"queue", 0.0}})}};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kToZero), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Events(*result),
            (std::vector<Event>{
                {30, 1, 0, Actor::kKeda}, {210, 0, 1, Actor::kKeda}, {720, 1, 0, Actor::kKeda}}));
  // From t=200 to the wake-up at 210 the demand waits with nothing ready.
  EXPECT_NEAR(result->seconds[205].waiting, 0.5 * 64, 1e-9);
  EXPECT_DOUBLE_EQ(result->seconds[210].waiting, 0);
  EXPECT_TRUE(result->warnings.empty());
}

TEST(ReplayTest, WarnsThatThisScalerAloneCannotWakeFromZero) {
  const std::string yaml =
      std::string(kToZero).substr(0, std::string(kToZero).find("  - type: prometheus"));
  const Trace trace{{At(0, 0), At(300, 2)}};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(yaml), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_EQ(result->seconds.back().replicas, 0);  // demand waits, and nothing wakes
}

constexpr char kFallback[] = R"yaml(
kind: ScaledObject
metadata: {name: decode}
spec:
  minReplicaCount: 1
  fallback: {failureThreshold: 3, replicas: 4}
  triggers:
  - type: external
    metadata: {threshold: "0.7"}
)yaml";

// The fleet cannot be read from t=100. Reads fail at the HPA's t=105 (1), the poll
// and the sync at t=120 (2, 3) and the sync at t=135 (4 > 3): KEDA hands the HPA
// 4 x 0.7, which is ceil(2.8 / 0.7) = 4 replicas.
TEST(ReplayTest, FallbackOnceFailuresPassTheThreshold) {
  const Trace trace{{At(0, 0.7), At(100, std::nullopt), At(200, std::nullopt)}};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kFallback), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Events(*result), (std::vector<Event>{{135, 1, 4, Actor::kHpa}}));
  EXPECT_EQ(result->events[0].reason, "metric above target, a trigger in fallback");
}

// Whatever the replica count does, served demand plus waiting requests is the demand.
TEST(ReplayTest, DemandIsConservedEverySecond) {
  Trace trace;
  for (int t = 0; t <= 3600; t += 60) {
    trace.samples.push_back(At(t, 3 + 2.5 * std::sin(t / 600.0)));
  }
  const ReplayOptions options{.startup_delay_seconds = 90};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kLoadAvg), options);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const Second& second : result->seconds) {
    EXPECT_NEAR(second.unit_load * second.ready + second.waiting / options.load.slots_per_unit,
                *second.demand, 1e-9)
        << second.time;
  }
}

// 4.2 over 6 pods is 0.7000000000000001 in doubles; the HPA is handed 0.700, at
// its target, and so is the summary.
TEST(ReplayTest, AtTargetIsNotAboveItInThousandths) {
  const Trace trace{{At(0, 4.2), At(600, 4.2)}};
  absl::StatusOr<ReplayResult> result =
      Replay(trace, Parse(kLoadAvg), ReplayOptions{.initial_replicas = 6});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->events.empty());
  EXPECT_EQ(result->summary.seconds_above_target, 0);
}

TEST(ReplayTest, SecondsWithoutAReadingAreWarnedOf) {
  const Trace trace{{At(0, 0.7), At(100, std::nullopt), At(400, 0.7)}};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kLoadAvg), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_NE(result->warnings[0].find("300 of its 400 s"), std::string::npos) << result->warnings[0];
}

// Replay holds every second: a trace beyond a month, or a demand no fleet has, is
// refused before any of it is held.
TEST(ReplayTest, TracesTooLongOrDemandsOutOfRangeAreRefused) {
  for (const Trace& trace : {Trace{{At(0, 1), At(1e12, 1)}}, Trace{{At(0, 1), At(1e308, 1)}},
                             Trace{{At(0, 1), At(31 * 86400 + 1, 1)}}}) {
    absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kLoadAvg), ReplayOptions{});
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find("at most 2678400 s"), std::string::npos)
        << result.status();
  }
  absl::StatusOr<ReplayResult> huge =
      Replay(Trace{{At(0, 1e308), At(60, 1)}}, Parse(kLoadAvg), ReplayOptions{});
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("worker capacities"), std::string::npos);
}

// llm_load_avg stops at 1 per pod, and 0.95 x 1.1 is above it: this never scales up.
TEST(ReplayTest, WarnsOfAThresholdTheFigureCannotPassOutOfTolerance) {
  std::string yaml = kLoadAvg;
  yaml.replace(yaml.find("\"0.7\""), 5, "\"0.95\"");
  absl::StatusOr<ReplayResult> result =
      Replay(Trace{{At(0, 3), At(300, 3)}}, Parse(yaml), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_NE(result->warnings[0].find("never scales up"), std::string::npos);
  EXPECT_TRUE(result->events.empty());  // 3 capacities queue on 1 pod, as warned
  EXPECT_TRUE(
      Replay(Trace{{At(0, 3), At(300, 3)}}, Parse(kLoadAvg), ReplayOptions{})->warnings.empty());
}

// The trigger's metricType tells the HPA how to read the answer; the metadata's
// tells the scaler what to answer. Apart, the HPA reads N x F as one value.
TEST(ReplayTest, WarnsOfAMetricTypeTheMetadataDoesNotShare) {
  std::string yaml = kLoadAvg;
  yaml.replace(yaml.find("  - type: external\n"), 19,
               "  - type: external\n    metricType: Value\n");
  absl::StatusOr<ReplayResult> result =
      Replay(Trace{{At(0, 1), At(60, 1)}}, Parse(yaml), ReplayOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_EQ(result->warnings[0],
            "trigger 0: its metricType is Value but its metadata's is AverageValue: the scaler "
            "answers N x F and the HPA reads it as one value; set metadata metricType: Value too");
}

TEST(ReplayTest, ATriggerWithoutItsColumnIsRefused) {
  const Trace trace{{At(0, 1)}};
  absl::StatusOr<ReplayResult> result = Replay(trace, Parse(kToZero), ReplayOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("queue"), std::string::npos);
}

}  // namespace
}  // namespace mk::replay
