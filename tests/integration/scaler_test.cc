// The scaler end to end: a real nats-server, simulated Dynamo workers and the
// metrics-keda process, queried over gRPC the way KEDA queries it. Covers the
// design's "Fleet metrics", "Trigger metadata", "Freshness and failure" and
// "Push activation" rules.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

// Fast rounds so that the staleness bound (3 x TTL = 0.6 s) passes quickly.
const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl", "0.2",
                                        "--scrape-window",  "0.2"};

class ScalerTest : public ::testing::Test {
 protected:
  TempDir dir_;
  NatsServer nats_{dir_};
};

TEST_F(ScalerTest, AnswersFleetTotalForAverageValueAndFigureForValue) {
  MockFleet fleet(dir_, nats_, {.workers = 3, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.5)) << scaler.process().Output();

  MetricReply total = GetMetrics(scaler.stub(), {});
  EXPECT_EQ(total.integer, 2);  // ceil(1.5)
  MetricReply figure = GetMetrics(scaler.stub(), {{"metricType", "Value"}});
  ASSERT_TRUE(figure.status.ok());
  EXPECT_DOUBLE_EQ(figure.value, 0.5);
  EXPECT_EQ(figure.integer, 1);
  MetricReply kv = GetMetrics(scaler.stub(), {{"metricName", "llm_kv_blocks_usage_percent"}});
  ASSERT_TRUE(kv.status.ok());
  EXPECT_DOUBLE_EQ(kv.value, 150);
  MetricReply slots = GetMetrics(
      scaler.stub(), {{"metricName", "llm_request_slots_usage_percent"}, {"metricType", "Value"}});
  ASSERT_TRUE(slots.status.ok());
  EXPECT_DOUBLE_EQ(slots.value, 50);
  MetricReply waiting =
      GetMetrics(scaler.stub(), {{"metricName", "llm_requests_waiting"}, {"threshold", "4"}});
  ASSERT_TRUE(waiting.status.ok());
  EXPECT_DOUBLE_EQ(waiting.value, 0);

  EXPECT_TRUE(IsActive(scaler.stub(), {{"activationThreshold", "0.4"}}).active);
  EXPECT_FALSE(IsActive(scaler.stub(), {{"activationThreshold", "0.5"}}).active);
}

TEST_F(ScalerTest, GetMetricSpecGivesMetricNameAndThresholdInBothFields) {
  Scaler scaler(dir_, nats_, kFast);
  externalscaler::GetMetricSpecResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(scaler.stub()
                  .GetMetricSpec(
                      &context,
                      Ref({{"metricName", "llm_kv_blocks_usage_percent"}, {"threshold", "62.5"}}),
                      &response)
                  .ok());
  ASSERT_EQ(response.metricspecs_size(), 1);
  EXPECT_EQ(response.metricspecs(0).metricname(), "llm_kv_blocks_usage_percent");
  EXPECT_DOUBLE_EQ(response.metricspecs(0).targetsizefloat(), 62.5);
  EXPECT_EQ(response.metricspecs(0).targetsize(), 63);
}

TEST_F(ScalerTest, MixedFormsCountAndNeighbouringEndpointsAndServicesDoNot) {
  MockFleet monitored(dir_, nats_, {.workers = 2, .form = "mixed", .pattern = "constant:0.75"});
  MockFleet other_endpoint(
      dir_, nats_,
      {.workers = 2, .pattern = "constant:0.25", .endpoint = "kv-router_x", .lease_base = "1000"});
  MockFleet other_component(dir_, nats_,
                            {.workers = 3,
                             .pattern = "constant:0.25",
                             .component = "other-worker",
                             .lease_base = "2000"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.5)) << scaler.process().Output();
  // A second target, named by the trigger, is collected on its own.
  ASSERT_TRUE(ValueBecomes(scaler, {{"component", "other-worker"}}, 0.75));
  EXPECT_TRUE(ValueBecomes(scaler, {{"endpoint", "kv-router_x"}}, 0.5));
  // Repeated answers stay exact: noise never shifts the monitored figures.
  for (int i = 0; i < 10; ++i) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok());
    EXPECT_DOUBLE_EQ(reply.value, 1.5);
    std::this_thread::sleep_for(50ms);
  }
}

TEST_F(ScalerTest, BadMetadataIsInvalidArgumentNamingKeyValueAndRule) {
  Scaler scaler(dir_, nats_, kFast);
  const Metadata bad = {{"threshold", "abc"}};
  MetricReply metrics = GetMetrics(scaler.stub(), bad);
  EXPECT_EQ(metrics.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(metrics.status.error_message().find("threshold"), std::string::npos);
  EXPECT_NE(metrics.status.error_message().find("abc"), std::string::npos);
  EXPECT_NE(metrics.status.error_message().find(">= 0.001"), std::string::npos);
  EXPECT_EQ(IsActive(scaler.stub(), {{"metricType", "Average"}}).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const ActiveReply typo = IsActive(scaler.stub(), {{"metricname", "llm_requests_waiting"}});
  EXPECT_EQ(typo.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(typo.status.error_message().find("did you mean \"metricName\""), std::string::npos)
      << typo.status.error_message();
  externalscaler::GetMetricSpecResponse spec;
  grpc::ClientContext spec_context;
  EXPECT_EQ(scaler.stub()
                .GetMetricSpec(&spec_context, Ref({{"metricName", "llm_requests_waiting"}}), &spec)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext stream_context;
  auto stream = scaler.stub().StreamIsActive(&stream_context, Ref({{"component", "a.b"}}));
  externalscaler::IsActiveResponse message;
  EXPECT_FALSE(stream->Read(&message));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ScalerTest, HealthyNatsWithoutWorkersIsZero) {
  Scaler scaler(dir_, nats_, kFast);
  MetricReply reply = GetMetrics(scaler.stub(), {});
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_EQ(reply.value, 0);
  EXPECT_EQ(reply.integer, 0);
  ActiveReply active = IsActive(scaler.stub(), {});
  ASSERT_TRUE(active.status.ok());
  EXPECT_FALSE(active.active);
}

TEST_F(ScalerTest, UndefinedSlotUsageIsFailedPrecondition) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .extra = {"--slots-total", "0"}});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0));
  MetricReply reply =
      GetMetrics(scaler.stub(), {{"metricName", "llm_request_slots_usage_percent"}});
  EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(reply.status.error_message().find("slot"), std::string::npos);
}

TEST_F(ScalerTest, NatsDownAtStartIsUnavailableWhileSpecStillAnswers) {
  nats_.Kill();
  Scaler scaler(dir_, nats_, kFast);  // waits for GetMetricSpec to answer
  MetricReply reply = GetMetrics(scaler.stub(), {});
  EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(reply.status.error_message().find("dynamo/llm-worker/kv-router"), std::string::npos);
  EXPECT_EQ(IsActive(scaler.stub(), {}).status.error_code(), grpc::StatusCode::UNAVAILABLE);

  nats_.Start();
  MockFleet fleet(dir_, nats_, {.workers = 2});
  EXPECT_TRUE(ValueBecomes(scaler, {}, 1.0, 20s)) << scaler.process().Output();
}

TEST_F(ScalerTest, NatsOutageNeverReportsZeroAndRecovers) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0));

  nats_.Kill();
  const auto killed = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::duration> unavailable_after;
  while (std::chrono::steady_clock::now() - killed < 3s) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    if (reply.status.ok()) {
      // Within the staleness bound the last good picture is served, never a zero.
      ASSERT_DOUBLE_EQ(reply.value, 1.0);
    } else {
      ASSERT_EQ(reply.status.error_code(), grpc::StatusCode::UNAVAILABLE)
          << reply.status.error_message();
      if (!unavailable_after) unavailable_after = std::chrono::steady_clock::now() - killed;
    }
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(unavailable_after.has_value());
  // The bound is 0.6 s; allow for the round in flight and a loaded machine.
  EXPECT_LT(*unavailable_after, 2s);

  nats_.Start();
  EXPECT_TRUE(ValueBecomes(scaler, {}, 1.0, 30s)) << scaler.process().Output();
}

TEST_F(ScalerTest, WorkerLeavingLeavesTheFleetAfterTheStalenessBound) {
  MockFleet staying(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  auto leaving = std::make_unique<MockFleet>(
      dir_, nats_, FleetSpec{.workers = 1, .pattern = "constant:0.25", .lease_base = "3000"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.25));
  leaving->process().Stop(SIGTERM, 5s);
  EXPECT_TRUE(ValueBecomes(scaler, {}, 1.0, 5s));
}

TEST_F(ScalerTest, LegacyHashedServiceNamesAreScrapedWhenEnabled) {
  MockFleet fleet(dir_, nats_,
                  {.workers = 2, .pattern = "constant:0.25", .extra = {"--legacy-names"}});
  std::vector<std::string> args = kFast;
  args.push_back("--legacy-service-names");
  Scaler scaler(dir_, nats_, args);
  EXPECT_TRUE(ValueBecomes(scaler, {}, 0.5)) << scaler.process().Output();
}

TEST_F(ScalerTest, GarbageOnTheWorkersSubjectIsDroppedWithoutShiftingAnyone) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  const std::string valid_prefix =
      R"({"type":"io.nats.micro.v1.stats_response","name":"dynamo_llm-worker","endpoints":[)";
  RawResponder garbage(
      nats_, "$SRV.STATS.dynamo_llm-worker",
      {"", "{", "null", "[1,2,3]", std::string("\0\xff\xfe{}", 5), std::string(100000, '{'),
       valid_prefix + R"({"subject":"dynamo_llm-worker.kv-router-bad!","data":{}}]})",
       valid_prefix +
           R"({"subject":"dynamo_llm-worker.kv-router-77","data":{"request_active_slots":-1,)"
           R"("request_total_slots":4,"kv_active_blocks":1,"kv_total_blocks":2}}]})",
       valid_prefix + R"({"subject":"dynamo_llm-worker.kv-router-78","data":"NaN"}]})"});
  Scaler scaler(dir_, nats_, kFast);
  // Workers 77 and 78 answer, unreadably: present, so N = 4, but F stays the
  // readable workers' 0.5. Replies that name no worker count nowhere.
  ASSERT_TRUE(ValueBecomes(scaler, {}, 2.0)) << scaler.process().Output();
  for (int i = 0; i < 10; ++i) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok());
    EXPECT_DOUBLE_EQ(reply.value, 2.0);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(scaler.process().running());
}

TEST_F(ScalerTest, ScrapeEndsOnceEveryKnownWorkerHasAnswered) {
  MockFleet fleet(dir_, nats_, {.workers = 3, .pattern = "constant:0.5"});
  // A 5 s window that the rounds must not wait out; background rounds are rare.
  Scaler scaler(dir_, nats_,
                {"--scrape-window", "5", "--cache-ttl", "0.01", "--check-interval", "600"});
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.5, 15s));  // the first round waits its window
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    MetricReply reply = GetMetrics(scaler.stub(), {});
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
    EXPECT_DOUBLE_EQ(reply.value, 1.5);
    EXPECT_LT(took, 2500ms) << "round " << i << " waited out its window";
  }
}

TEST_F(ScalerTest, StreamSendsStateThenFlipsThenHeartbeatsAndEndsOkOnSigterm) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.25"});
  Scaler scaler(dir_, nats_,
                {"--check-interval", "0.5", "--cache-ttl", "0.5", "--scrape-window", "0.2"});
  ASSERT_TRUE(ValueBecomes(scaler, {}, 0.5));
  StreamReader stream(scaler.stub(), {{"activationThreshold", "0.5"}});
  std::vector<bool> messages = stream.WaitFor(1, 5s);
  ASSERT_FALSE(messages.empty());
  EXPECT_FALSE(messages.front());

  ASSERT_EQ(nats_.Request(fleet.control_subject(), "load 0.75"), "ok");
  messages = stream.WaitFor(messages.size() + 1, 5s);
  // Heartbeats may repeat `false` before the flip; the flip must come.
  ASSERT_TRUE(Eventually(
      [&] {
        messages = stream.WaitFor(messages.size() + 1, 1s);
        return !messages.empty() && messages.back();
      },
      5s));
  const size_t after_flip = messages.size();
  // Heartbeats every check interval (0.5 s) keep the stream alive.
  messages = stream.WaitFor(after_flip + 2, 5s);
  ASSERT_GE(messages.size(), after_flip + 2);
  EXPECT_TRUE(messages.back());

  EXPECT_EQ(scaler.process().Stop(SIGTERM, 10s), std::optional<int>(0));
  std::optional<grpc::Status> end = stream.WaitForEnd(5s);
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->ok()) << end->error_message();
}

}  // namespace
}  // namespace mk::testing
