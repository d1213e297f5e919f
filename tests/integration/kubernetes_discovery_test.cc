// The scaler on Kubernetes with the Dynamo operator's discovery, against the tests'
// own API server speaking the real list/watch protocol over HTTPS: workers are
// DynamoWorkerMetadata objects that count while their pod is ready in an
// EndpointSlice, and publish their load over ZMQ. A KEDA-like client reads the
// answers while pods turn ready and unready, metadata comes and goes, the token
// rotates, the API server goes down and back, and watches stall or expire.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>
#include <zmq.hpp>

#include "cluster.h"
#include "event_worker.h"
#include "kube_api_server.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

const Metadata kUnits = {{"metricType", "AverageValue"}};  // N x F: F idle is 0

class KubernetesDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(MakeCertificates(dir_.path()), "");
    KubeApiServerOptions options;
    options.tls_dir = dir_.path();
    api_ = std::make_unique<KubeApiServer>(options);
    // Bookmarks now and then, as a real API server sends them.
    api_->set_bookmark_interval(500ms);
    WriteToken("test-token");
    kubeconfig_ = dir_.path() + "/kubeconfig";
    std::ofstream(kubeconfig_) << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                               << "clusters:\n- name: kind\n  cluster:\n    server: " << api_->url()
                               << "\n    certificate-authority: " << api_->ca_path() << "\n"
                               << "contexts:\n- name: test\n  context: {cluster: kind, user: "
                                  "scaler, namespace: llm}\n"
                               << "users:\n- name: scaler\n  user:\n    tokenFile: token\n";
  }

  // The token file, replaced at once as the kubelet rotates a projected token.
  void WriteToken(const std::string& token) {
    const std::string path = dir_.path() + "/token";
    std::ofstream(path + ".new") << token;
    std::rename((path + ".new").c_str(), path.c_str());
  }

  std::unique_ptr<Scaler> StartScaler(std::vector<std::string> extra = {"--source", "events"}) {
    std::vector<std::string> args = {
        "--discovery-backend",  "kubernetes", "--kubeconfig",     kubeconfig_,
        "--component-name",     "backend",    "--endpoint-name",  "generate",
        "--cache-ttl",          "1",          "--check-interval", "1",
        "--kube-watch-timeout", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Scaler>(dir_, kNoNats, args);
  }

  // A worker pod: its publisher, and its DynamoWorkerMetadata (not yet its
  // readiness: SetReady).
  EventWorker& AddWorker(const std::string& pod, uint64_t id) {
    workers_[pod] = std::make_unique<EventWorker>(context_, id, EventWorkerSpec{});
    PutMetadata(pod, 1000);
    return *workers_[pod];
  }
  // The pod's DynamoWorkerMetadata, its model card saying `kv_blocks`.
  void PutMetadata(const std::string& pod, uint64_t kv_blocks) {
    const EventWorker& worker = *workers_.at(pod);
    WorkerMetadataSpec spec;
    spec.pod = pod;
    spec.instance_id = worker.id();
    spec.total_kv_blocks = kv_blocks;
    spec.event_channel_endpoint = worker.pub_endpoint();
    spec.event_publisher_id = worker.publisher_id();
    api_->Put(KubeResource::kDynamoWorkerMetadata, DynamoWorkerMetadataJson(spec));
  }

  // The workers' EndpointSlice: `pods` and whether each is ready, each at its own
  // loopback address (AddressOf).
  void SetReady(std::vector<std::pair<std::string, bool>> pods, int system_port = 9090) {
    EndpointSliceSpec slice;
    slice.name = "vllm-agg-0-backend-x7k2p";
    slice.system_port = system_port;
    for (const auto& [pod, ready] : pods) slice.pods.push_back({pod, AddressOf(pod), ready});
    api_->Put(KubeResource::kEndpointSlice, EndpointSliceJson(slice));
  }
  // pod-a at 127.0.0.2, pod-b at 127.0.0.3, ...: a pod IP each, as in a cluster.
  static std::string AddressOf(const std::string& pod) {
    return "127.0.0." + std::to_string(2 + (pod.back() - 'a'));
  }

  std::string Status(Scaler& scaler) { return scaler.Http("/status"); }

  TempDir dir_;
  std::unique_ptr<KubeApiServer> api_;
  std::string kubeconfig_;
  zmq::context_t context_{1};
  std::map<std::string, std::unique_ptr<EventWorker>> workers_;
};

TEST_F(KubernetesDiscoveryTest, ReadyPodsWithMetadataAreTheFleet) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  EventWorker& b = AddWorker("pod-b", 0xb2);
  AddWorker("pod-c", 0xc3);  // never ready: not in the fleet
  SetReady({{"pod-a", true}, {"pod-b", true}, {"pod-c", false}});
  auto scaler = StartScaler();
  // 100 + 300 of 2000 blocks.
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 20,
                           [&] {
                             a.PublishLoad(100);
                             b.PublishLoad(300);
                           }))
      << GetMetrics(scaler->stub(), kKvPercent).status.error_message() << "\n"
      << Status(*scaler);
  EXPECT_TRUE(Contains(Status(*scaler), R"("name":"kubernetes")")) << Status(*scaler);
  // pod-b's metadata changes: its card now says 3000 blocks (400 of 4000).
  PutMetadata("pod-b", 3000);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 10, 10s)) << Status(*scaler);
  PutMetadata("pod-b", 1000);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 20, 10s)) << Status(*scaler);

  // pod-b turns unready: it leaves at once, its last load with it.
  SetReady({{"pod-a", true}, {"pod-b", false}, {"pod-c", false}});
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 10, 10s)) << Status(*scaler);
  // pod-a's metadata is deleted (the pod is going): nobody is left, and an empty,
  // healthy fleet is idle.
  api_->Delete(KubeResource::kDynamoWorkerMetadata, "llm", "pod-a");
  EXPECT_TRUE(ValueBecomes(*scaler, kUnits, 0, 10s)) << Status(*scaler);
  // Back: ready again and publishing.
  SetReady({{"pod-a", true}, {"pod-b", true}, {"pod-c", false}});
  EXPECT_TRUE(PublishUntil(*scaler, kKvPercent, 50, [&] { b.PublishLoad(500); }))
      << Status(*scaler);
}

TEST_F(KubernetesDiscoveryTest, ARotatedTokenIsReadAgain) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  SetReady({{"pod-a", true}});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }))
      << Status(*scaler);
  // The kubelet writes a new token and the old one stops being accepted; the
  // watches end (as they do every timeout) and start again with the new token.
  WriteToken("rotated-token");
  api_->SetToken("rotated-token");
  api_->CloseWatches();
  EventWorker& b = AddWorker("pod-b", 0xb2);
  SetReady({{"pod-a", true}, {"pod-b", true}});
  EXPECT_TRUE(PublishUntil(*scaler, kKvPercent, 25, [&] {
    a.PublishLoad(100);
    b.PublishLoad(400);
  })) << Status(*scaler);
  EXPECT_TRUE(
      Contains(Status(*scaler), R"("name":"kubernetes","role":"discovery","connected":true)"))
      << Status(*scaler);
}

TEST_F(KubernetesDiscoveryTest, ApiServerDownKeepsServingAndSaysSoThenCatchesUp) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  EventWorker& b = AddWorker("pod-b", 0xb2);
  SetReady({{"pod-a", true}, {"pod-b", true}});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 30, [&] {
    a.PublishLoad(200);
    b.PublishLoad(400);
  })) << Status(*scaler);

  api_->Stop();
  // Membership frozen, events still heard: the picture stays servable and current.
  EXPECT_TRUE(Eventually(
      [&] {
        return Contains(Status(*scaler),
                        R"("name":"kubernetes","role":"discovery","connected":false)");
      },
      15s))
      << Status(*scaler);
  EXPECT_TRUE(PublishUntil(*scaler, kKvPercent, 40, [&] {
    a.PublishLoad(400);
    b.PublishLoad(400);
  })) << Status(*scaler);

  // While it was down, pod-b went unready; back, the scaler catches up.
  api_->Start();
  SetReady({{"pod-a", true}, {"pod-b", false}});
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 40, 20s)) << Status(*scaler);
  EXPECT_TRUE(ValueBecomes(*scaler, kUnits, 0.4, 5s, 1e-9)) << Status(*scaler);
}

TEST_F(KubernetesDiscoveryTest, AnExpiredWatchListsAgain) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  SetReady({{"pod-a", true}});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }))
      << Status(*scaler);
  const size_t lists = api_->CountRequests(KubeApiServer::Verb::kList);
  // The streams fall behind while the history they need is compacted away: the
  // next thing they say is 410 Expired, and the scaler lists again.
  ASSERT_GT(api_->StallWatches(), 0u);
  EventWorker& b = AddWorker("pod-b", 0xb2);
  SetReady({{"pod-a", true}, {"pod-b", true}});
  api_->Compact();
  api_->ResumeWatches();
  EXPECT_TRUE(PublishUntil(*scaler, kKvPercent, 30, [&] {
    a.PublishLoad(100);
    b.PublishLoad(500);
  })) << Status(*scaler);
  EXPECT_GT(api_->CountRequests(KubeApiServer::Verb::kList), lists);
}

TEST_F(KubernetesDiscoveryTest, AStalledWatchIsNoticedAndResumed) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  SetReady({{"pod-a", true}});
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }))
      << Status(*scaler);
  // A hung API server: the open streams say nothing more, not even their end.
  ASSERT_GT(api_->StallWatches(), 0u);
  EventWorker& b = AddWorker("pod-b", 0xb2);
  SetReady({{"pod-a", true}, {"pod-b", true}});
  // The scaler gives a silent stream the watch timeout and a grace, then watches
  // again from where it was.
  EXPECT_TRUE(PublishUntil(
      *scaler, kKvPercent, 20,
      [&] {
        a.PublishLoad(100);
        b.PublishLoad(300);
      },
      20s))
      << Status(*scaler);
  const std::vector<std::string> resumed =
      api_->WatchResourceVersions(KubeResource::kDynamoWorkerMetadata);
  ASSERT_GE(resumed.size(), 2u);
  EXPECT_NE(resumed.back(), "");  // resumed, not listed afresh
}

TEST_F(KubernetesDiscoveryTest, ObjectsThatDoNotReadAreCountedAndHarmNoOne) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  SetReady({{"pod-a", true}});
  api_->Put(KubeResource::kDynamoWorkerMetadata,
            R"({"metadata":{"name":"pod-x","namespace":"llm"},"spec":{"data":{"endpoints":"x"}}})");
  auto scaler = StartScaler();
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 10, [&] { a.PublishLoad(100); }))
      << Status(*scaler);
  EXPECT_TRUE(Contains(Status(*scaler), R"("objects_dropped":1)")) << Status(*scaler);
}

// A simulated worker pod serving its own /metrics (Dynamo's and vLLM's gauges) at its
// address, on the port every pod shares, with a constant load.
class PagePod {
 public:
  PagePod(const TempDir& dir, const std::string& address, int port, double load) {
    static int pods = 0;
    process_ = std::make_unique<Process>(
        std::vector<std::string>{BinaryPath("dynamo-mock-worker"), "--nats-server", "", "--events",
                                 "none", "--workers", "1", "--kv-total-blocks", "1000", "--pattern",
                                 "constant:" + std::to_string(load), "--metrics-host", address,
                                 "--metrics-port", std::to_string(port)},
        dir.path() + "/pod-" + std::to_string(++pods) + ".log");
    if (!process_->WaitForOutput("ready", 15s)) {
      throw std::runtime_error("dynamo-mock-worker did not start: " + process_->Output());
    }
    const std::string output = process_->Output();
    const size_t at = output.find("metrics=http://" + address + ":");
    if (at == std::string::npos) throw std::runtime_error("no metrics URL: " + output);
    port_ =
        std::stoi(output.substr(at + std::string("metrics=http://").size() + address.size() + 1));
  }
  int port() const { return port_; }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

TEST_F(KubernetesDiscoveryTest, TheWorkersOwnPagesAreASource) {
  AddWorker("pod-a", 0xa1);
  AddWorker("pod-b", 0xb2);
  PagePod a(dir_, AddressOf("pod-a"), 0, 0.3);
  auto b = std::make_unique<PagePod>(dir_, AddressOf("pod-b"), a.port(), 0.5);
  // The slice names the pods' system port, as the operator's does: it is where
  // their pages are read.
  SetReady({{"pod-a", true}, {"pod-b", true}}, a.port());
  auto scaler = StartScaler({"--source", "metrics", "--max-staleness", "3"});
  // 300 + 500 of 2000 blocks.
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 40, 15s, 1e-6))
      << GetMetrics(scaler->stub(), kKvPercent).status.error_message() << "\n"
      << Status(*scaler);
  EXPECT_TRUE(Contains(Status(*scaler), R"("source":"metrics")")) << Status(*scaler);
  // The engine's queue is on the page too.
  const Metadata waiting = {
      {"metricName", "llm_requests_waiting"}, {"metricType", "Value"}, {"threshold", "5"}};
  EXPECT_TRUE(GetMetrics(scaler->stub(), waiting).status.ok())
      << GetMetrics(scaler->stub(), waiting).status.error_message();
  // pod-b's worker restarts busier: its new page is read at the next poll.
  b.reset();
  b = std::make_unique<PagePod>(dir_, AddressOf("pod-b"), a.port(), 0.9);
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 60, 15s, 1e-6)) << Status(*scaler);
}

TEST_F(KubernetesDiscoveryTest, APodThatStopsAnsweringIsNotTakenAsIdle) {
  AddWorker("pod-a", 0xa1);
  AddWorker("pod-b", 0xb2);
  PagePod a(dir_, AddressOf("pod-a"), 0, 0.2);
  auto b = std::make_unique<PagePod>(dir_, AddressOf("pod-b"), a.port(), 0.8);
  // A slice without a system port: the pages are read on --worker-metrics-port.
  SetReady({{"pod-a", true}, {"pod-b", true}}, 0);
  auto scaler = StartScaler({"--source", "metrics", "--worker-metrics-port",
                             std::to_string(a.port()), "--max-staleness", "3"});
  ASSERT_TRUE(ValueBecomes(*scaler, kKvPercent, 50, 15s, 1e-6)) << Status(*scaler);
  // pod-b's worker dies while the pod still reads ready: once its last page is past
  // the staleness bound its unit is unknown, and F is over pod-a alone; N still
  // counts it. Never 0.8 read as idle.
  b.reset();
  EXPECT_TRUE(ValueBecomes(*scaler, kKvPercent, 20, 15s, 1e-6)) << Status(*scaler);
  EXPECT_TRUE(ValueBecomes(*scaler, kUnits, 0.4, 5s, 1e-6)) << Status(*scaler);  // N 2 x F 0.2
  EXPECT_TRUE(Contains(Status(*scaler), R"("state":"pending")")) << Status(*scaler);
}

TEST_F(KubernetesDiscoveryTest, WithAutoThePagesKeepAWorkerReadableWhenItsEventsCannotBeHeard) {
  EventWorker& a = AddWorker("pod-a", 0xa1);
  EventWorker& b = AddWorker("pod-b", 0xb2);
  // pod-b's event channel cannot be reached (its ZMQ port partitioned away) from the
  // start; both pods serve their pages.
  b.ClosePublisher();
  PagePod page_a(dir_, AddressOf("pod-a"), 0, 0.1);
  PagePod page_b(dir_, AddressOf("pod-b"), page_a.port(), 0.7);
  SetReady({{"pod-a", true}, {"pod-b", true}}, page_a.port());
  auto scaler = StartScaler({"--source", "auto", "--max-staleness", "3"});
  // A load change comes through the events at once, and pod-b's page speaks for it:
  // (300 + 700) of 2000 blocks.
  ASSERT_TRUE(PublishUntil(*scaler, kKvPercent, 50, [&] { a.PublishLoad(300); }))
      << Status(*scaler);
  // Past the staleness bound (pod-b's channel down) it stays readable from its page.
  std::this_thread::sleep_for(4s);
  const MetricReply reply = GetMetrics(scaler->stub(), kKvPercent);
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message() << "\n" << Status(*scaler);
  EXPECT_TRUE(Contains(Status(*scaler), R"("source":"metrics")")) << Status(*scaler);
  EXPECT_FALSE(Contains(Status(*scaler), R"("state":"unreadable")")) << Status(*scaler);
}

}  // namespace
}  // namespace mk::testing
