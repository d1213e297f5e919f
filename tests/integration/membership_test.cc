// Who counts, and what may be said about them, on a real nats-server: workers
// that answer but cannot be read are never an idle fleet; data-parallel ranks
// replying one by one are all heard every round; a push stream never sends a
// state from a picture older than the staleness bound.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

// A one-second staleness bound keeps these tests short; rounds every 0.2 s.
const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl",     "0.2",
                                        "--scrape-window",  "0.2", "--max-staleness", "1"};
constexpr auto kStaleness = 1s;

std::string StatsReply(const std::string& lease_hex, const std::string& data) {
  return R"({"type":"io.nats.micro.v1.stats_response","name":"dynamo_llm-worker","endpoints":[)"
         R"({"subject":"dynamo_llm-worker.generate-)" +
         lease_hex + R"(","data":null},{"subject":"dynamo_llm-worker.kv-router-)" + lease_hex +
         R"(","data":)" + data + "}]}";
}

// What Dynamo workers answer since October 2025: no load on the endpoint.
std::string NullReply(const std::string& lease_hex) { return StatsReply(lease_hex, "null"); }

// KV usage sent as a percent where a fraction belongs, with no block capacity.
std::string PercentReply(const std::string& lease_hex) {
  return StatsReply(lease_hex,
                    R"({"request_active_slots":0,"request_total_slots":0,"kv_active_blocks":0,)"
                    R"("kv_total_blocks":0,"gpu_cache_usage_perc":45.0})");
}

// One rank's report: kv_active of 4 blocks, no slot total.
std::string RankReply(const std::string& lease_hex, int rank, int kv_active) {
  return StatsReply(lease_hex, R"({"data_parallel_rank":)" + std::to_string(rank) +
                                   R"(,"request_active_slots":0,"request_total_slots":0,)"
                                   R"("kv_active_blocks":)" +
                                   std::to_string(kv_active) + R"(,"kv_total_blocks":4})");
}

class MembershipTest : public ::testing::Test {
 protected:
  TempDir dir_;
  NatsServer nats_{dir_};
};

TEST_F(MembershipTest, AllUnreadableFleetIsFailedPreconditionNeverIdle) {
  RawResponder workers(nats_, "$SRV.STATS.dynamo_llm-worker",
                       {NullReply("a1"), NullReply("a2"), PercentReply("a3")});
  Scaler scaler(dir_, nats_, kFast);
  MetricReply reply = GetMetricsUntil(scaler, {}, grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_EQ(reply.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << reply.status.error_message() << " value " << reply.value;
  const std::string message = reply.status.error_message();
  EXPECT_TRUE(Contains(message, "dynamo/llm-worker/kv-router")) << message;
  EXPECT_TRUE(Contains(message, "all 3 present worker units are unreadable")) << message;
  EXPECT_TRUE(Contains(message, "no_data")) << message;
  // Well past the staleness bound they are still present, still unreadable: the
  // answer never becomes an idle 0, nor inactive.
  const auto until = std::chrono::steady_clock::now() + 3 * kStaleness;
  while (std::chrono::steady_clock::now() < until) {
    reply = GetMetrics(scaler.stub(), {});
    ASSERT_EQ(reply.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << reply.status.error_message() << " value " << reply.value;
    ActiveReply active = IsActive(scaler.stub(), {});
    ASSERT_EQ(active.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    std::this_thread::sleep_for(100ms);
  }
  const std::string metrics = scaler.Http("/metrics");
  EXPECT_TRUE(Contains(metrics, R"(worker_id="a1",dp_rank="",reason="no_data"} 1)")) << metrics;
  EXPECT_TRUE(Contains(metrics, R"(worker_id="a3",dp_rank="",reason="out_of_range"} 1)"))
      << metrics;
  EXPECT_TRUE(Contains(metrics, R"(endpoint="kv-router",state="unreadable"} 3)")) << metrics;
  EXPECT_TRUE(Contains(metrics, "\nmetrics_keda_workers{")) << metrics;
  EXPECT_FALSE(Contains(metrics, "\nllm_load_avg{")) << "an undefined figure is absent, not 0";
  const std::string status = scaler.Http("/status");
  EXPECT_TRUE(Contains(status, R"("worker_id":"a2","dp_rank":null,"state":"unreadable",)"
                               R"("drop_reason":"no_data")"))
      << status;
  EXPECT_TRUE(Contains(status, R"("llm_load_avg":null)")) << status;
}

TEST_F(MembershipTest, TodaysWorkersWithoutLoadDataAreNeverAnIdleFleet) {
  // The simulated fleet answering as Dynamo workers do since October 2025: three
  // workers of two ranks each, `data: null` everywhere.
  MockFleet fleet(dir_, nats_, {.workers = 3, .form = "null", .extra = {"--dp-ranks", "2"}});
  Scaler scaler(dir_, nats_, kFast);
  MetricReply reply = GetMetricsUntil(scaler, {}, grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_EQ(reply.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << reply.status.error_message() << " value " << reply.value;
  EXPECT_TRUE(Contains(reply.status.error_message(), "all 6 present worker units are unreadable"))
      << reply.status.error_message();
  EXPECT_EQ(IsActive(scaler.stub(), {}).status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(MembershipTest, PartlyUnreadableFleetCountsEveryUnitAndSaysWhatFCovers) {
  MockFleet readable(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  RawResponder unreadable(nats_, "$SRV.STATS.dynamo_llm-worker",
                          {NullReply("b1"), NullReply("b2")});
  Scaler scaler(dir_, nats_, kFast);
  // N = 4 present units, F = 0.5 over the 2 readable ones: 4 x 0.5.
  ASSERT_TRUE(ValueBecomes(scaler, {}, 2.0)) << scaler.Http("/status");
  const std::string status = scaler.Http("/status");
  EXPECT_TRUE(Contains(status, "F = 0.5 over 2 of 4 units; 2 unreadable: no_data")) << status;
}

TEST_F(MembershipTest, DataParallelRanksReplyingSeparatelyStayInTheFleet) {
  // One worker, four ranks, one reply each: 0.25 each, N x F = 4 x 0.25 = 1.
  RawResponder ranks(
      nats_, "$SRV.STATS.dynamo_llm-worker",
      {RankReply("c1", 0, 1), RankReply("c1", 1, 1), RankReply("c1", 2, 1), RankReply("c1", 3, 1)});
  // A short bound, so that a rank heard only now and then would leave within it.
  std::vector<std::string> args = kFast;
  args.back() = "0.6";
  Scaler scaler(dir_, nats_, args);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 1.0));
  // Rounds end early only once every rank has replied: N holds at 4, round after round.
  const auto until = std::chrono::steady_clock::now() + 5s;
  int polls = 0;
  while (std::chrono::steady_clock::now() < until) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
    ASSERT_DOUBLE_EQ(reply.value, 1.0) << "after " << polls << " polls";
    ++polls;
    std::this_thread::sleep_for(50ms);
  }
}

TEST_F(MembershipTest, RanksAnsweringWithoutARankCountOneUnitEach) {
  // Ranks 0 and 1 report 0.5 each; two more ranks answer `data: null`, which
  // carries no rank. N = 4 units from the first round on, F = 0.5: 4 x 0.5.
  RawResponder ranks(
      nats_, "$SRV.STATS.dynamo_llm-worker",
      {RankReply("d1", 0, 2), RankReply("d1", 1, 2), NullReply("d1"), NullReply("d1")});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 2.0)) << scaler.Http("/status");
  for (int i = 0; i < 20; ++i) {
    MetricReply reply = GetMetrics(scaler.stub(), {});
    ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
    ASSERT_DOUBLE_EQ(reply.value, 2.0) << "poll " << i;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(
      Contains(scaler.Http("/metrics"), R"(worker_id="d1",dp_rank="",reason="no_data"} 2)"));
}

TEST_F(MembershipTest, ServingEndpointWithoutDataIsReadFromLoadMetrics) {
  // Dynamo 0.4 - 0.5: `generate` carries no stats, `load_metrics` carries them. A
  // target naming the serving endpoint reads them from there: 2 workers at 0.25.
  auto reply = [](const std::string& lease_hex) {
    return R"({"type":"io.nats.micro.v1.stats_response","name":"dynamo_llm-worker",)"
           R"("endpoints":[{"subject":"dynamo_llm-worker.generate-)" +
           lease_hex + R"(","data":null},{"subject":"dynamo_llm-worker.load_metrics-)" + lease_hex +
           R"(","data":{"worker_stats":{"request_active_slots":0,"request_total_slots":0},)"
           R"("kv_stats":{"kv_active_blocks":1,"kv_total_blocks":4}}}]})";
  };
  RawResponder workers(nats_, "$SRV.STATS.dynamo_llm-worker", {reply("e1"), reply("e2")});
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--endpoint-name", "generate"});
  Scaler scaler(dir_, nats_, args);
  ASSERT_TRUE(ValueBecomes(scaler, {}, 0.5)) << scaler.Http("/status");
}

TEST_F(MembershipTest, PushSendsNothingOnceThePictureIsPastTheStalenessBound) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(Eventually([&] { return GetMetrics(scaler.stub(), {}).status.ok(); }, 10s));
  StreamReader stream(scaler.stub(), {});
  std::vector<bool> messages = stream.WaitFor(3, 5s);  // the state, then heartbeats
  ASSERT_GE(messages.size(), 3u);
  EXPECT_TRUE(messages.back());

  nats_.Kill();
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        return IsActive(scaler.stub(), {}).status.error_code() == grpc::StatusCode::UNAVAILABLE;
      },
      10s));
  const auto unavailable = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(3 * kStaleness);
  // The last picture was taken before the kill: nothing may be sent from it once
  // it is older than the bound (slack for a message already on its way on a busy
  // machine; the fault this catches pushes for as long as NATS stays down).
  for (const auto& arrival : stream.ArrivalTimes()) {
    EXPECT_LT(arrival, killed + kStaleness + 500ms)
        << "a state was pushed " << std::chrono::duration<double>(arrival - killed).count()
        << " s after NATS died";
    EXPECT_LT(arrival, unavailable + 500ms) << "a state was pushed after IsActive was UNAVAILABLE";
  }
}

}  // namespace
}  // namespace mk::testing
