// Today's Dynamo against the scaler, on real servers: workers registered in a real
// etcd publish their load over ZMQ (or NATS), and a KEDA-like client reads the
// scaler's answers. No NATS server at all where Dynamo 1.4 has none.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "cluster.h"
#include "etcd_server.h"
#include "event_worker.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

class EventPlaneTest : public ::testing::Test {
 protected:
  std::unique_ptr<Scaler> StartScaler(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--discovery-backend", "etcd",    "--etcd-endpoints", etcd_.url(),
        "--component-name",    "backend", "--endpoint-name",  "generate",
        "--cache-ttl",         "1",       "--check-interval", "1"};
    // Events alone unless the test says otherwise.
    if (std::find(extra.begin(), extra.end(), "--source") == extra.end()) {
      args.insert(args.end(), {"--source", "events"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Scaler>(dir_, kNoNats, args);
  }

  TempDir dir_;
  EtcdServer etcd_{dir_};
  zmq::context_t context_{1};
};

TEST_F(EventPlaneTest, RegisteredWorkersPublishingOverZmqAreReadWithTheirCardsCapacity) {
  EventWorker a(context_, etcd_, {});
  EventWorker b(context_, etcd_, {});
  auto scaler = StartScaler();
  // ZMQ drops what a publisher sends before the subscriber has connected: publish
  // until the scaler has heard, as a worker's 10 s heartbeat would.
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 40,
                           [&] {
                             a.PublishLoad(600);
                             b.PublishLoad(200);
                           }))
      << GetMetrics(scaler->stub(), kKvPercent).status.error_message() << "\n"
      << scaler->Http("/status");
  // A change is seen within milliseconds, not a check interval.
  a.PublishLoad(1000);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 60, 2s));
  // N counts both: AverageValue gives N x F.
  EXPECT_TRUE(ValueBecomes(*scaler, {{"metricName", "llm_kv_blocks_usage_percent"}}, 120, 2s));
  const std::string status = scaler->Http("/status");
  EXPECT_TRUE(Contains(status, R"("source":"events")")) << status;
  EXPECT_TRUE(Contains(status, R"("name":"etcd","role":"discovery","connected":true)")) << status;
}

TEST_F(EventPlaneTest, RouterRecordsAndGarbageNeverShiftTheFigures) {
  EventWorker a(context_, etcd_, {});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 25, [&] { a.PublishLoad(250); }));
  for (int i = 0; i < 50; ++i) {
    // A router's prediction about the worker.
    ActiveLoadFields router;
    router.active_decode_blocks = 990;
    router.active_prefill_tokens = 40000;
    a.PublishActiveLoad(router);
    // Garbage: wrong frame counts, a bad header, a truncated envelope.
    a.SendFrames({"kv_metrics", "x"});
    a.SendFrames({"kv_metrics", std::string(8, '\0'), std::string(8, '\0'),
                  std::string("\x02\0\0\0\x01\x80", 6)});
    a.SendFrames({"kv_metrics", std::string(8, '\0'), std::string(8, '\0'),
                  std::string("\x01\0\0\0\x09\x85", 6)});
  }
  // Every router record has been seen (and counted) once the counter says 50; the
  // figure is still the worker's own.
  const std::string routers =
      "metrics_keda_router_records_total{namespace=\"dynamo\",component=\"backend\","
      "endpoint=\"generate\"} 50\n";
  EXPECT_TRUE(Eventually([&] { return Contains(scaler->Http("/metrics"), routers); }, 5s))
      << scaler->Http("/metrics");
  const MetricReply reply = GetMetrics(scaler->stub(), kKvPercent);
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_DOUBLE_EQ(reply.value, 25);
  EXPECT_FALSE(Contains(scaler->Http("/metrics"),
                        "metrics_keda_source_event_messages_dropped_total{source=\"zmq\"} 0\n"));
  // The worker's next record still counts.
  a.PublishLoad(300);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 30, 5s));
}

TEST_F(EventPlaneTest, WorkersLeaveAtOnceWhenDeregisteredOrTheirLeaseGoes) {
  EventWorker a(context_, etcd_, {});
  EventWorker b(context_, etcd_, {});
  EventWorker c(context_, etcd_, {});
  auto scaler = StartScaler();
  const Metadata average = {{"metricName", "llm_kv_blocks_usage_percent"}};
  ASSERT_TRUE(PublishUntil(*scaler, average, 150, [&] {
    a.PublishLoad(500);
    b.PublishLoad(500);
    c.PublishLoad(500);
  }));
  // "At once": well within the 10 s lease and the 15 s silence bound, with room for a
  // busy machine.
  b.Deregister();  // stopped cleanly
  EXPECT_TRUE(ValueBecomes(*scaler, average, 100, 5s))
      << GetMetrics(scaler->stub(), average).status.error_message() << "\n"
      << scaler->Http("/status");
  c.RevokeLease();  // killed: its lease runs out
  EXPECT_TRUE(ValueBecomes(*scaler, average, 50, 5s))
      << GetMetrics(scaler->stub(), average).status.error_message() << "\n"
      << scaler->Http("/status");
}

TEST_F(EventPlaneTest, AWorkerWhoseChannelIsDownReadsUnreadableNotItsLastLoad) {
  EventWorker a(context_, etcd_, {});
  auto scaler = StartScaler({"--max-staleness", "2"});
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }));
  // Still registered, but its publisher cannot be reached: its last figure (idle)
  // is not believed past the staleness bound.
  a.ClosePublisher();
  const MetricReply down =
      GetMetricsUntil(*scaler, kKvPercent, grpc::StatusCode::FAILED_PRECONDITION, 10s);
  EXPECT_EQ(down.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << down.status.error_message();
  EXPECT_TRUE(Contains(down.status.error_message(), "channel_down")) << down.status.error_message();
  a.ReopenPublisher();
  EXPECT_TRUE(PublishUntil(*scaler, kKvPercent, 70, [&] { a.PublishLoad(700); }))
      << scaler->Http("/status");
}

TEST_F(EventPlaneTest, ARegisteredWorkerWhoseChannelNeverConnectsIsNotTakenAsIdle) {
  EventWorker a(context_, etcd_, {});
  EventWorker unreachable(context_, etcd_, {});
  unreachable.ClosePublisher();  // registered, its channel never reachable
  auto scaler = StartScaler({"--max-staleness", "2"});
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 50, [&] { a.PublishLoad(500); }))
      << scaler->Http("/status");
  // Past the settle period it is not idle: unreadable, and F stays over the one heard.
  ASSERT_TRUE(Eventually(
      [&] { return Contains(scaler->Http("/status"), R"("drop_reason":"channel_down")"); }, 10s))
      << scaler->Http("/status");
  const MetricReply reply = GetMetrics(scaler->stub(), kKvPercent);
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_DOUBLE_EQ(reply.value, 50);
  EXPECT_FALSE(Contains(scaler->Http("/status"), R"("source":"assumed_idle")"));
}

TEST_F(EventPlaneTest, ASilentRegisteredWorkerSettlesThenCountsAsIdle) {
  EventWorker a(context_, etcd_, {});
  EventWorker silent(context_, etcd_, {});
  auto scaler = StartScaler({"--max-staleness", "3"});
  const Metadata average = {{"metricName", "llm_kv_blocks_usage_percent"}};
  // Until the settle period passes, F is over the worker heard; N counts both.
  ASSERT_TRUE(PublishUntil(*scaler, average, 160, [&] { a.PublishLoad(800); }))
      << scaler->Http("/status");
  EXPECT_TRUE(Contains(scaler->Http("/status"), R"("state":"pending")"));
  // Then the silent one is taken as idle: 800 of 2000 blocks.
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 40, 6s)) << scaler->Http("/status");
  EXPECT_TRUE(Contains(scaler->Http("/status"), R"("source":"assumed_idle")"));
}

TEST_F(EventPlaneTest, NothingHeardYetIsSettlingNotIdle) {
  EventWorker silent(context_, etcd_, {});
  auto scaler = StartScaler({"--max-staleness", "30"});
  const MetricReply reply = GetMetricsUntil(*scaler, kKvPercent, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Contains(reply.status.error_message(), "settling")) << reply.status.error_message();
}

TEST_F(EventPlaneTest, WithoutACapacityTheKvFigureIsUndefinedUnlessTheTriggerGivesOne) {
  EventWorker a(context_, etcd_, {.total_kv_blocks = std::nullopt});
  auto scaler = StartScaler();
  ASSERT_TRUE(Eventually(
      [&] {
        a.PublishLoad(300);
        const MetricReply reply = GetMetrics(scaler->stub(), kKvPercent);
        return reply.status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
      },
      15s))
      << GetMetrics(scaler->stub(), kKvPercent).status.error_message();
  Metadata with_capacity = kKvPercent;
  with_capacity["kvTotalBlocks"] = "600";
  EXPECT_TRUE(ValueBecomes(*scaler, with_capacity, 50, 5s));
}

TEST_F(EventPlaneTest, APublisherRestartIsCountedAndItsNewRecordsRead) {
  EventWorker a(context_, etcd_, {});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }));
  a.RestartSequence();
  a.PublishLoad(700);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 70, 3s));
  EXPECT_TRUE(Eventually(
      [&] {
        return !Contains(scaler->Http("/metrics"),
                         "metrics_keda_source_publisher_restarts_total{source=\"zmq\"} 0\n");
      },
      3s));
}

TEST_F(EventPlaneTest, ActivationIsPushedWhenLoadCrossesTheThreshold) {
  EventWorker a(context_, etcd_, {});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }));
  Metadata trigger = kKvPercent;
  trigger["activationThreshold"] = "50";
  StreamReader stream(scaler->stub(), trigger);
  ASSERT_EQ(stream.WaitFor(1, 5s), std::vector<bool>{false});
  a.PublishLoad(900);
  EXPECT_EQ(stream.WaitFor(2, 2s), (std::vector<bool>{false, true}));
  a.PublishLoad(100);
  EXPECT_EQ(stream.WaitFor(3, 2s), (std::vector<bool>{false, true, false}));
}

TEST_F(EventPlaneTest, DefaultSettingsNeedNoNats) {
  // --source auto with NATS nowhere to be found, as a Dynamo 1.4 deployment has none.
  EventWorker a(context_, etcd_, {});
  auto scaler = StartScaler({"--source", "auto"});
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 45, [&] { a.PublishLoad(450); }))
      << GetMetrics(scaler->stub(), kKvPercent).status.error_message();
  // Still right after several failed scrape rounds.
  std::this_thread::sleep_for(2500ms);
  const MetricReply reply = GetMetrics(scaler->stub(), kKvPercent);
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_DOUBLE_EQ(reply.value, 45);
}

TEST_F(EventPlaneTest, EtcdDownAndBackKeepsServingAndSaysSo) {
  EventWorker a(context_, etcd_, {.lease_ttl_seconds = 30});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 30, [&] { a.PublishLoad(300); }));
  etcd_.Kill();
  EXPECT_TRUE(Eventually(
      [&] {
        return Contains(scaler->Http("/status"),
                        R"("name":"etcd","role":"discovery","connected":false)");
      },
      10s));
  // Membership is frozen, load still flows.
  a.PublishLoad(800);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 80, 3s));
  etcd_.Start();
  EXPECT_TRUE(Eventually(
      [&] {
        return Contains(scaler->Http("/status"),
                        R"("name":"etcd","role":"discovery","connected":true)");
      },
      15s));
  a.PublishLoad(200);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 20, 3s));
}

TEST_F(EventPlaneTest, AFloodFromOnePublisherLeavesOthersReadAndMemoryBounded) {
  EventWorker flooder(context_, etcd_, {});
  EventWorker quiet(context_, etcd_, {});
  auto scaler = StartScaler();
  const Metadata average = {{"metricName", "llm_kv_blocks_usage_percent"}};
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] {
    flooder.PublishLoad(100);
    quiet.PublishLoad(100);
  }));
  std::atomic<bool> flooding = true;
  std::thread flood([&] {
    for (uint64_t i = 0; flooding; ++i) {
      flooder.PublishLoad(100 + i % 2);
      // Garbage too: frames of every wrong shape.
      flooder.SendFrames({"kv_metrics", std::string(64 * 1024, 'x')});
    }
  });
  quiet.PublishLoad(900);
  // 100 or 101 of 1000 blocks beside 900 of 1000.
  EXPECT_TRUE(Eventually(
      [&] {
        const MetricReply reply = GetMetrics(scaler->stub(), kKvPercent);
        return reply.status.ok() && reply.value >= 50 && reply.value <= 50.05;
      },
      5s));
  std::this_thread::sleep_for(3s);
  flooding = false;
  flood.join();
  const size_t rss_kib = scaler->process().Usage().rss_kib;
  EXPECT_GT(rss_kib, 0u);
  EXPECT_LT(rss_kib, 512u * 1024) << "the scaler grew to " << rss_kib << " KiB under a flood";
}

// The older generations over NATS, each with its workers registered in etcd.
class NatsEventFormsTest : public EventPlaneTest,
                           public ::testing::WithParamInterface<const char*> {};

TEST_P(NatsEventFormsTest, LoadIsReadFromEveryBodyForm) {
  NatsServer nats(dir_);
  MockFleet fleet(dir_, nats,
                  {.workers = 2,
                   .form = "null",
                   .pattern = "constant:0.5",
                   .component = "backend",
                   .endpoint = "generate",
                   .extra = {"--events", GetParam(), "--etcd-endpoints", etcd_.url(),
                             "--event-heartbeat", "0.2"}});
  Scaler scaler(dir_, nats,
                {"--source", "auto", "--event-plane", "nats", "--discovery-backend", "etcd",
                 "--etcd-endpoints", etcd_.url(), "--component-name", "backend", "--endpoint-name",
                 "generate", "--cache-ttl", "1", "--check-interval", "1"});
  EXPECT_TRUE(ValueBecomes(scaler, kKvPercent, 50, 15s))
      << GetMetrics(scaler.stub(), kKvPercent).status.error_message() << "\n"
      << scaler.Http("/status");
  EXPECT_TRUE(ValueBecomes(scaler, {{"metricName", "llm_kv_blocks_usage_percent"}}, 100, 5s));
  const std::string answer = nats.Request(fleet.control_subject(), "load 0.9");
  // 7373 of 8192 blocks: 90 % to a block.
  EXPECT_TRUE(ValueBecomes(scaler, kKvPercent, 90, 5s, 0.01))
      << answer << ": " << GetMetrics(scaler.stub(), kKvPercent).value << "\n"
      << scaler.Http("/status");
}

INSTANTIATE_TEST_SUITE_P(Forms, NatsEventFormsTest,
                         ::testing::Values("nats", "nats-namespace", "json-active-load",
                                           "json-load-event"),
                         [](const ::testing::TestParamInfo<const char*>& form) {
                           std::string name = form.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// A ZMQ broker as Dynamo's DYN_ZMQ_BROKER_URL names one: XSUB for publishers, XPUB
// for subscribers, forwarding both ways (subscriptions up, messages down).
class ZmqBroker {
 public:
  ZmqBroker() {
    xsub_.bind("tcp://127.0.0.1:*");
    xpub_.bind("tcp://127.0.0.1:*");
    url_ = "xsub=" + xsub_.get(zmq::sockopt::last_endpoint) +
           ",xpub=" + xpub_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] {
      try {
        zmq::proxy(xsub_, xpub_);
      } catch (const zmq::error_t&) {
        // The context was shut down: the broker stops.
      }
    });
  }
  ~ZmqBroker() {
    context_.shutdown();
    thread_.join();
  }
  const std::string& url() const { return url_; }

 private:
  zmq::context_t context_{1};
  zmq::socket_t xsub_{context_, zmq::socket_type::xsub};
  zmq::socket_t xpub_{context_, zmq::socket_type::xpub};
  std::string url_;
  std::thread thread_;
};

TEST_F(EventPlaneTest, WorkersPublishingThroughAZmqBrokerAreRead) {
  ZmqBroker broker;
  NatsServer nats(dir_);
  MockFleet fleet(dir_, nats,
                  {.workers = 2,
                   .form = "null",
                   .pattern = "constant:0.25",
                   .component = "backend",
                   .endpoint = "generate",
                   .extra = {"--events", "zmq-broker", "--zmq-broker", broker.url(),
                             "--etcd-endpoints", etcd_.url(), "--event-heartbeat", "0.2"}});
  auto scaler = StartScaler({"--zmq-broker", broker.url()});
  // 2048 of 8192 blocks.
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 25, 15s))
      << GetMetrics(scaler->stub(), kKvPercent).status.error_message() << "\n"
      << scaler->Http("/status");
  EXPECT_TRUE(Contains(scaler->Http("/status"), R"x("role":"events (broker)")x"));
}

TEST_F(EventPlaneTest, AFleetOfMixedGenerationsIsOneFleet) {
  // Two old workers answering $SRV.STATS with their load, two new ones publishing
  // over ZMQ and registered in etcd (answering scrapes with data: null meanwhile).
  NatsServer nats(dir_);
  MockFleet old_fleet(dir_, nats,
                      {.workers = 2,
                       .form = "nested",
                       .pattern = "constant:0.2",
                       .component = "backend",
                       .endpoint = "generate",
                       .lease_base = "1000"});
  MockFleet new_fleet(
      dir_, nats,
      {.workers = 2,
       .form = "null",
       .pattern = "constant:0.6",
       .component = "backend",
       .endpoint = "generate",
       .extra = {"--events", "zmq", "--etcd-endpoints", etcd_.url(), "--event-heartbeat", "0.2"}});
  Scaler scaler(dir_, nats,
                {"--source", "auto", "--discovery-backend", "etcd", "--etcd-endpoints", etcd_.url(),
                 "--component-name", "backend", "--endpoint-name", "generate", "--cache-ttl", "1",
                 "--check-interval", "1"});
  const Metadata load = {{"metricType", "Value"}};
  // 1638 and 4915 of 8192 blocks: 0.2 and 0.6 to a block.
  EXPECT_TRUE(ValueBecomes(scaler, load, 0.4, 15s, 1e-3))
      << GetMetrics(scaler.stub(), load).status.error_message() << "\n"
      << scaler.Http("/status");
  // Four units: N x F = 1.6.
  EXPECT_TRUE(ValueBecomes(scaler, {}, 1.6, 5s, 4e-3)) << scaler.Http("/status");
  const std::string status = scaler.Http("/status");
  EXPECT_TRUE(Contains(status, R"("source":"stats")")) << status;
  EXPECT_TRUE(Contains(status, R"("source":"events")")) << status;
  EXPECT_FALSE(Contains(status, R"("state":"unreadable")")) << status;

  // A trigger may read one source alone: the events are the new workers' load;
  // the scrapes are the old workers' (the new ones answer them without load data).
  const Metadata events = {{"metricType", "Value"}, {"source", "events"}};
  EXPECT_TRUE(ValueBecomes(scaler, events, 0.6, 5s, 2e-3))
      << GetMetrics(scaler.stub(), events).status.error_message();
  const Metadata stats = {{"metricType", "Value"}, {"source", "stats"}};
  EXPECT_TRUE(ValueBecomes(scaler, stats, 0.2, 5s, 2e-3))
      << GetMetrics(scaler.stub(), stats).status.error_message();
  EXPECT_TRUE(Contains(scaler.Http("/status"), "llm_load_avg (stats source alone) F = 0.2"))
      << scaler.Http("/status");
}

}  // namespace
}  // namespace mk::testing
