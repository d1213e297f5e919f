// Chaos on real processes: NATS killed and restarted again and again, workers
// joining and leaving every second, workers answering slowly or twice, garbage
// floods, a KEDA client opening and dropping 1,000 streams. After each: the
// right figures, no crash, and no leak (fds, threads, RSS bounded).
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl", "0.2",
                                        "--scrape-window",  "0.2"};

// A stats reply of one worker with kv_active/kv_total blocks and no slot total.
std::string WorkerReply(const std::string& lease_hex, int kv_active, int kv_total) {
  return R"({"type":"io.nats.micro.v1.stats_response","name":"dynamo_llm-worker","endpoints":[)"
         R"({"subject":"dynamo_llm-worker.kv-router-)" +
         lease_hex + R"(","data":{"request_active_slots":0,"request_total_slots":0,)" +
         R"("kv_active_blocks":)" + std::to_string(kv_active) + R"(,"kv_total_blocks":)" +
         std::to_string(kv_total) + "}}]}";
}

// Resources may grow a little (allocator, gRPC's pools) but must not leak.
void ExpectBounded(const Process::Resources& before, const Process::Resources& after) {
  EXPECT_LE(after.open_fds, before.open_fds + 8) << "fds " << before.open_fds;
  EXPECT_LE(after.threads, before.threads + 4) << "threads " << before.threads;
  EXPECT_LE(after.rss_kib, before.rss_kib * 3 / 2 + 16 * 1024) << "rss " << before.rss_kib;
}

class ChaosTest : public ::testing::Test {
 protected:
  TempDir dir_;
  NatsServer nats_{dir_};
};

TEST_F(ChaosTest, NatsKilledAndRestartedRepeatedly) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0, 10s));
  const Process::Resources before = scaler.process().Usage();
  for (int cycle = 0; cycle < 4; ++cycle) {
    nats_.Kill();
    for (int i = 0; i < 10; ++i) {
      MetricReply reply = GetMetrics(scaler.stub(), {});
      // The last good picture within the bound, else UNAVAILABLE: never a zero.
      if (reply.status.ok()) {
        ASSERT_DOUBLE_EQ(reply.value, 1.0) << "cycle " << cycle;
      } else {
        ASSERT_EQ(reply.status.error_code(), grpc::StatusCode::UNAVAILABLE);
      }
      std::this_thread::sleep_for(100ms);
    }
    nats_.Start();
    ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0, 30s)) << "cycle " << cycle;
  }
  ExpectBounded(before, scaler.process().Usage());
}

TEST_F(ChaosTest, WorkersJoiningAndLeavingEverySecond) {
  MockFleet staying(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0, 10s));
  const Process::Resources before = scaler.process().Usage();
  for (int i = 0; i < 6; ++i) {
    MockFleet passing(
        dir_, nats_,
        {.workers = 3, .pattern = "constant:0.25", .lease_base = std::to_string(1000 + i * 10)});
    std::this_thread::sleep_for(1s);
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok());
    // 2 x 0.5 plus however many passing workers are known: 0.25 each.
    const double passing_part = reply.value - 1.0;
    EXPECT_GE(passing_part, -1e-9);
    EXPECT_NEAR(passing_part / 0.25, std::round(passing_part / 0.25), 1e-9);
  }
  EXPECT_TRUE(ValueBecomes(scaler, {}, 1.0, 5s));
  ExpectBounded(before, scaler.process().Usage());
}

TEST_F(ChaosTest, WorkersAnsweringTwiceCountOnceAndSlowOnesNever) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  RawResponder twice(nats_, "$SRV.STATS.dynamo_llm-worker",
                     {WorkerReply("d1", 2, 8), WorkerReply("d1", 2, 8)});
  // Answers after the 200 ms window closes: its replies reach later rounds,
  // which must ignore them.
  RawResponder slow(nats_, "$SRV.STATS.dynamo_llm-worker", {WorkerReply("e1", 8, 8)}, 350ms);
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.25, 10s))
      << scaler.TryHttp("/status").value_or("(/status could not be fetched)");
  for (int i = 0; i < 15; ++i) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok());
    EXPECT_DOUBLE_EQ(reply.value, 1.25);
    std::this_thread::sleep_for(100ms);
  }
}

TEST_F(ChaosTest, GarbageFloodDoesNotShiftFiguresNorGrowTheProcess) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  std::vector<std::string> garbage;
  for (int i = 0; i < 2000; ++i) garbage.push_back(i % 2 ? "{\"endpoints\":[" : "\x01\x02garbage");
  RawResponder flood(nats_, "$SRV.STATS.dynamo_llm-worker", garbage);
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0, 10s));
  const Process::Resources before = scaler.process().Usage();
  for (int i = 0; i < 20; ++i) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok());
    EXPECT_DOUBLE_EQ(reply.value, 1.0);
    std::this_thread::sleep_for(100ms);
  }
  const std::string metrics = scaler.Http("/metrics");
  EXPECT_NE(metrics.find("reason=\"malformed_json\"} "), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("reason=\"malformed_json\"} 0\n"), std::string::npos) << metrics;
  ExpectBounded(before, scaler.process().Usage());
}

TEST_F(ChaosTest, ThousandStreamsOpenedAndDropped) {
  MockFleet fleet(dir_, nats_, {.workers = 1});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 0.5, 10s));
  const Process::Resources before = scaler.process().Usage();
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>>> streams;
    for (int i = 0; i < 100; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      streams.push_back(scaler.stub().StreamIsActive(contexts.back().get(), Ref({})));
    }
    externalscaler::IsActiveResponse message;
    EXPECT_TRUE(streams.back()->Read(&message));
    for (auto& context : contexts) context->TryCancel();
    for (auto& stream : streams) stream->Finish();
  }
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<std::string> metrics = scaler.TryHttp("/metrics");
        return metrics &&
               metrics->find("\nmetrics_keda_activation_streams 0\n") != std::string::npos;
      },
      10s));
  EXPECT_TRUE(ValueBecomes(scaler, {}, 0.5, 5s));
  ExpectBounded(before, scaler.process().Usage());
}

}  // namespace
}  // namespace mk::testing
