// Limits: beyond each the scaler refuses with RESOURCE_EXHAUSTED, or drops and
// counts, and keeps serving everyone else.
#include <gtest/gtest.h>

#include <thread>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl", "0.2",
                                        "--scrape-window",  "0.2"};

std::vector<std::string> Fast(std::vector<std::string> more) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

class LimitsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  NatsServer nats_{dir_};
};

TEST_F(LimitsTest, OversizedMetadataIsRefusedOthersServed) {
  MockFleet fleet(dir_, nats_, {.workers = 1});
  Scaler scaler(dir_, nats_, Fast({"--max-metadata-bytes", "1024"}));
  MetricReply big = GetMetrics(scaler.stub(), {{"note", std::string(2000, 'x')}});
  EXPECT_EQ(big.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Contains(big.status.error_message(), "--max-metadata-bytes"));
  EXPECT_TRUE(GetMetrics(scaler.stub(), {}).status.ok());
  EXPECT_TRUE(Contains(scaler.Http("/metrics"),
                       "metrics_keda_limit_rejections_total{limit=\"metadata_bytes\"} 1"));
}

TEST_F(LimitsTest, TargetsBeyondTheLimitAreRefusedKnownOnesServed) {
  MockFleet fleet(dir_, nats_, {.workers = 1, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, Fast({"--max-targets", "2"}));
  EXPECT_TRUE(GetMetrics(scaler.stub(), {{"component", "second"}}).status.ok());
  MetricReply third = GetMetrics(scaler.stub(), {{"component", "third"}});
  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Contains(third.status.error_message(), "dynamo/third/kv-router"));
  EXPECT_EQ(GetMetrics(scaler.stub(), {}).value, 0.5);
  EXPECT_TRUE(Contains(scaler.Http("/metrics"),
                       "metrics_keda_limit_rejections_total{limit=\"targets\"} 1"));
}

TEST_F(LimitsTest, StreamsBeyondTheLimitAreRefusedOpenOnesKept) {
  MockFleet fleet(dir_, nats_, {.workers = 1});
  Scaler scaler(dir_, nats_, Fast({"--max-streams", "2"}));
  grpc::ClientContext first_context, second_context, third_context;
  auto first = scaler.stub().StreamIsActive(&first_context, Ref({}));
  auto second = scaler.stub().StreamIsActive(&second_context, Ref({}));
  externalscaler::IsActiveResponse message;
  ASSERT_TRUE(first->Read(&message));
  ASSERT_TRUE(second->Read(&message));
  auto third = scaler.stub().StreamIsActive(&third_context, Ref({}));
  EXPECT_FALSE(third->Read(&message));
  EXPECT_EQ(third->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(first->Read(&message));  // the open ones carry on (heartbeat)
  EXPECT_TRUE(Contains(scaler.Http("/metrics"),
                       "metrics_keda_limit_rejections_total{limit=\"streams\"} 1"));
  first_context.TryCancel();
  second_context.TryCancel();
}

TEST_F(LimitsTest, OversizedRepliesAreDroppedAndCounted) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  const std::string huge =
      R"({"type":"io.nats.micro.v1.stats_response","name":"dynamo_llm-worker","padding":")" +
      std::string(200000, 'x') +
      R"(","endpoints":[{"subject":"dynamo_llm-worker.kv-router-99","data":{)"
      R"("request_active_slots":0,"request_total_slots":4,"kv_active_blocks":0,)"
      R"("kv_total_blocks":8}}]})";
  RawResponder flood(nats_, "$SRV.STATS.dynamo_llm-worker", {huge});
  Scaler scaler(dir_, nats_, Fast({"--max-message-bytes", "65536"}));
  ASSERT_TRUE(Eventually(
      [&] {
        MetricReply reply = GetMetrics(scaler.stub(), {});
        return reply.status.ok() && reply.value == 1.0;
      },
      10s));
  EXPECT_TRUE(Contains(scaler.Http("/metrics"), "reason=\"oversized\"} "));
  EXPECT_FALSE(Contains(scaler.Http("/metrics"), "reason=\"oversized\"} 0\n"));
  EXPECT_FALSE(Contains(scaler.Http("/metrics"), "worker_id=\"99\""));
}

TEST_F(LimitsTest, WorkersBeyondThePerTargetLimitAreRefusedCountedAndNeverUndercounted) {
  MockFleet fleet(dir_, nats_, {.workers = 5, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, Fast({"--max-workers-per-target", "3"}));
  // 3 units kept, 2 refused: 3 x 0.5 would undercount the fleet, so no figure.
  MetricReply reply = GetMetricsUntil(scaler, {}, grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_EQ(reply.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << reply.status.error_message() << " value " << reply.value;
  EXPECT_TRUE(Contains(reply.status.error_message(), "3 kept, 2 more refused"))
      << reply.status.error_message();
  const std::string metrics = scaler.Http("/metrics");
  EXPECT_TRUE(Contains(metrics, "reason=\"over_worker_limit\"} ")) << metrics;
  EXPECT_FALSE(Contains(metrics, "reason=\"over_worker_limit\"} 0\n")) << metrics;
}

}  // namespace
}  // namespace mk::testing
