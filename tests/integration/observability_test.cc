// What an SRE sees of a running scaler: /metrics (valid exposition, per-worker
// series that leave with their worker), /status explaining a decision, gRPC
// health following NATS, and JSON logs.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cluster.h"
#include "health.grpc.pb.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl", "0.2",
                                        "--scrape-window",  "0.2"};

class ObservabilityTest : public ::testing::Test {
 protected:
  TempDir dir_;
  NatsServer nats_{dir_};
};

// For polls: false while /metrics cannot be fetched.
bool MetricsContain(const Scaler& scaler, const std::string& part) {
  const std::optional<std::string> metrics = scaler.TryHttp("/metrics");
  return metrics && Contains(*metrics, part);
}

TEST_F(ObservabilityTest, MetricsPassPromtoolAndCarryTheFleet) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.5"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(Eventually([&] { return MetricsContain(scaler, "llm_worker_load"); }, 10s));
  GetMetrics(scaler.stub(), {});
  const std::string metrics = scaler.Http("/metrics");
  EXPECT_TRUE(Contains(metrics,
                       "llm_load_avg{namespace=\"dynamo\",component=\"llm-worker\","
                       "endpoint=\"kv-router\"} 0.5"));
  EXPECT_TRUE(Contains(metrics,
                       "metrics_keda_workers{namespace=\"dynamo\",component=\"llm-worker\","
                       "endpoint=\"kv-router\"} 2"));
  EXPECT_TRUE(
      Contains(metrics, "metrics_keda_grpc_requests_total{method=\"GetMetrics\",code=\"OK\"}"));
  EXPECT_TRUE(Contains(metrics, "metrics_keda_scrape_duration_seconds_bucket"));
  EXPECT_TRUE(Contains(metrics, "\nmetrics_keda_nats_connected 1\n"));

  const char* promtool = std::getenv("PROMTOOL");
  const std::string tool = promtool != nullptr ? promtool : "/usr/bin/promtool";
  if (access(tool.c_str(), X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  const std::string path = dir_.path() + "/metrics.txt";
  std::ofstream(path) << metrics;
  // promtool reads the exposition on stdin.
  Process shell({"/bin/sh", "-c", tool + " check metrics < " + path},
                dir_.path() + "/promtool.log");
  EXPECT_EQ(shell.Wait(30s), std::optional<int>(0)) << shell.Output();
}

TEST_F(ObservabilityTest, PerWorkerSeriesVanishWhenTheWorkerLeaves) {
  MockFleet staying(dir_, nats_, {.workers = 1, .pattern = "constant:0.5"});
  auto leaving = std::make_unique<MockFleet>(
      dir_, nats_, FleetSpec{.workers = 1, .pattern = "constant:0.25", .lease_base = "abc0"});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(Eventually([&] { return MetricsContain(scaler, "worker_id=\"abc0\""); }, 10s));
  leaving->process().Stop(SIGTERM, 5s);
  EXPECT_TRUE(Eventually(
      [&] {
        const std::optional<std::string> metrics = scaler.TryHttp("/metrics");
        return metrics && !Contains(*metrics, "worker_id=\"abc0\"");
      },
      5s));
  EXPECT_TRUE(Contains(scaler.Http("/metrics"), "worker_id=\"7587867c5a2d0000\""));
}

TEST_F(ObservabilityTest, StatusExplainsTheLastDecisionOfATrigger) {
  MockFleet fleet(dir_, nats_, {.workers = 4, .pattern = "constant:0.75"});
  Scaler scaler(dir_, nats_, kFast);
  const Metadata trigger = {{"threshold", "0.5"}, {"activationThreshold", "0.1"}};
  ASSERT_TRUE(Eventually(
      [&] {
        MetricReply reply = GetMetrics(scaler.stub(), trigger);
        return reply.status.ok() && reply.value == 3.0;
      },
      10s));
  const std::string status = scaler.Http("/status");
  EXPECT_TRUE(Contains(status, "\"scaled_object\":\"default/test-scaledobject\"")) << status;
  EXPECT_TRUE(Contains(status, "\"value\":3")) << status;
  EXPECT_TRUE(Contains(status, "\"desired_replicas\":6")) << status;  // ceil(3 / 0.5)
  EXPECT_TRUE(Contains(status, "\"active\":true")) << status;
  EXPECT_TRUE(Contains(status, "\"workers\":4")) << status;
  EXPECT_TRUE(Contains(status, "4 x 0.75 = 3")) << status;
  const std::string page = scaler.Http("/");
  EXPECT_TRUE(Contains(page, "<table>"));
  EXPECT_TRUE(Contains(page, "default/test-scaledobject"));
}

// Paths match exactly; a page that cannot be fetched fails the test that asks for it
// (Http throws), so no check of what a page lacks passes on a missing page.
TEST_F(ObservabilityTest, PagesThatCannotBeFetchedFailTheFetch) {
  Scaler scaler(dir_, nats_, kFast);
  EXPECT_FALSE(scaler.Http("/status").empty());
  std::string why;
  EXPECT_EQ(scaler.TryHttp("/statusx", &why), std::nullopt);
  EXPECT_TRUE(Contains(why, " 404 ")) << why;
  EXPECT_THROW(scaler.Http("/statusx"), std::runtime_error);
  EXPECT_THROW(scaler.Http("/metrics/"), std::runtime_error);
  ASSERT_EQ(scaler.process().Stop(SIGTERM, 10s), std::optional<int>(0));
  EXPECT_EQ(scaler.TryHttp("/metrics", &why), std::nullopt);
  EXPECT_TRUE(Contains(why, "connect")) << why;
  EXPECT_THROW(scaler.Http("/metrics"), std::runtime_error);
}

bool Ipv6LoopbackAvailable() {
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound =
      fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (fd >= 0) close(fd);
  return bound;
}

// --host with an IPv6 literal, bare or in brackets, serves gRPC and HTTP on it.
TEST_F(ObservabilityTest, ServesGrpcAndHttpOnIpv6Loopback) {
  if (!Ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  MockFleet fleet(dir_, nats_, {.workers = 2, .pattern = "constant:0.25"});
  for (const std::string host : {"::1", "[::1]"}) {
    SCOPED_TRACE("--host " + host);
    Scaler scaler(dir_, nats_, kFast, host);
    EXPECT_TRUE(Eventually(
        [&] {
          const MetricReply reply = GetMetrics(scaler.stub(), {});  // over [::1]
          return reply.status.ok() && reply.value == 0.5;
        },
        10s))
        << scaler.process().Output();
    const std::string metrics = scaler.Http("/metrics");  // over [::1]
    EXPECT_TRUE(Contains(metrics, "\nmetrics_keda_nats_connected 1\n")) << metrics;
    EXPECT_TRUE(Contains(metrics, "llm_load_avg{")) << metrics;
    // Only there: not on the IPv4 loopback.
    std::string why;
    EXPECT_FALSE(HttpGet("127.0.0.1", scaler.metrics_port(), "/metrics", &why).has_value());
    EXPECT_TRUE(Contains(why, "connect")) << why;
  }
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(int port,
                                                            const std::string& service = "") {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok())
    return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return response.status();
}

TEST_F(ObservabilityTest, HealthIsServingOnlyWhileNatsIsConnected) {
  nats_.Kill();
  Scaler scaler(dir_, nats_, kFast);
  EXPECT_EQ(Health(scaler.port()), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  nats_.Start();
  EXPECT_TRUE(Eventually(
      [&] { return Health(scaler.port()) == grpc::health::v1::HealthCheckResponse::SERVING; },
      15s));
  nats_.Kill();
  EXPECT_TRUE(Eventually(
      [&] { return Health(scaler.port()) == grpc::health::v1::HealthCheckResponse::NOT_SERVING; },
      15s));
  // Liveness does not follow NATS: an outage must not get the pod restarted.
  EXPECT_EQ(Health(scaler.port(), "liveness"), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ObservabilityTest, DeployFilesValidateAndTheDashboardQueriesOnlyExportedMetrics) {
  MockFleet fleet(dir_, nats_, {.workers = 2, .extra = {"--dp-ranks", "2"}});
  Scaler scaler(dir_, nats_, kFast);
  ASSERT_TRUE(Eventually([&] { return MetricsContain(scaler, "llm_worker_load"); }, 10s));
  GetMetrics(scaler.stub(), {});
  IsActive(scaler.stub(), {});
  const std::string path = dir_.path() + "/exposition.txt";
  std::ofstream(path) << scaler.Http("/metrics");
  Process check({std::string(MK_SOURCE_DIR) + "/scripts/check-deploy.sh", path},
                dir_.path() + "/check-deploy.log");
  EXPECT_EQ(check.Wait(300s), std::optional<int>(0)) << check.Output();
}

TEST_F(ObservabilityTest, JsonLogsAreOneObjectPerLineWithStateChanges) {
  MockFleet fleet(dir_, nats_, {.workers = 1});
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--log-format", "json"});
  Scaler scaler(dir_, nats_, args);
  ASSERT_TRUE(scaler.process().WaitForOutput("joined", 10s));
  for (int i = 0; i < 20; ++i) GetMetrics(scaler.stub(), {});
  std::istringstream lines(scaler.process().Output());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_TRUE(Contains(line, "\"level\":\"")) << line;
    EXPECT_TRUE(Contains(line, "\"msg\":\"")) << line;
  }
  // Connect, target created, serving, joined: and no line per RPC at info.
  EXPECT_GE(count, 4);
  EXPECT_LT(count, 10);
}

}  // namespace
}  // namespace mk::testing
