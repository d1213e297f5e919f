// The pieces of a real deployment, for integration tests: a nats-server, a
// simulated Dynamo fleet (dynamo-mock-worker), the scaler, and a KEDA-like gRPC
// client. Each runs as its own process on free loopback ports.
#ifndef METRICS_KEDA_TESTS_INTEGRATION_CLUSTER_H_
#define METRICS_KEDA_TESTS_INTEGRATION_CLUSTER_H_

#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "process.h"

namespace mk::testing {

class NatsServer {
 public:
  // `config`: nats-server configuration (authorization, tls, ...) to run with.
  explicit NatsServer(const TempDir& dir, std::string config = "");
  void Start();  // on the same port each time
  void Kill();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // Publishes `text` as a request and waits for the reply (e.g. mock control).
  std::string Request(const std::string& subject, const std::string& text);

 private:
  const TempDir& dir_;
  std::string config_;
  int port_;
  std::unique_ptr<Process> process_;
};

struct FleetSpec {
  int workers = 2;
  std::string form = "flat";
  std::string pattern = "constant:0.5";
  std::string component = "llm-worker";
  std::string endpoint = "kv-router";
  std::string lease_base{};  // hex; empty: the mock's default
  std::vector<std::string> extra{};
};

class MockFleet {
 public:
  MockFleet(const TempDir& dir, const NatsServer& nats, FleetSpec spec);
  // The subject the fleet takes `load V`, `pause`, `resume` on.
  const std::string& control_subject() const { return control_subject_; }
  Process& process() { return *process_; }

 private:
  std::string control_subject_;
  std::unique_ptr<Process> process_;
};

// Answers every request on `subject` with each of `payloads`: a misbehaving or
// hostile publisher on the workers' subjects.
class RawResponder {
 public:
  // Each request is answered after `delay` (a slow worker).
  RawResponder(const NatsServer& nats, const std::string& subject,
               std::vector<std::string> payloads,
               std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  ~RawResponder();
  RawResponder(const RawResponder&) = delete;
  RawResponder& operator=(const RawResponder&) = delete;

 private:
  static void OnRequest(natsConnection* connection, natsSubscription* subscription,
                        natsMsg* message, void* self);
  std::vector<std::string> payloads_;
  std::chrono::milliseconds delay_;
  std::atomic<bool> stopping_ = false;
  natsConnection* connection_ = nullptr;
  natsSubscription* subscription_ = nullptr;
};

// GET `path` from an HTTP server at `host` (an IPv4 or IPv6 address, brackets
// optional) and `port`: the body of a 200 answer, or nothing, with the reason in `why`
// (no connection, another status, no end of headers).
std::optional<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                                   std::string* why = nullptr);

class Scaler {
 public:
  // Starts metrics-keda with `args` added, listening on `host` (--host), and waits
  // until it answers gRPC.
  Scaler(const TempDir& dir, const NatsServer& nats, std::vector<std::string> args,
         std::string host = "127.0.0.1");
  // With `nats_url` as --nats-server (credentials in the URL, tls://).
  Scaler(const TempDir& dir, const std::string& nats_url, std::vector<std::string> args,
         std::string host = "127.0.0.1");
  externalscaler::ExternalScaler::Stub& stub() { return *stub_; }
  Process& process() { return *process_; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  // The body of GET `path` on the HTTP port. A failed fetch throws, failing the test:
  // a check that a page lacks something never passes on a page that never came.
  std::string Http(const std::string& path) const;
  // The same, or nothing when the fetch fails: for polls that may meet a failure
  // before they succeed (Eventually), and for diagnostics.
  std::optional<std::string> TryHttp(const std::string& path, std::string* why = nullptr) const;

 private:
  std::string host_;  // without brackets
  int port_;
  int metrics_port_;
  std::unique_ptr<Process> process_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

using Metadata = std::map<std::string, std::string>;

// Nothing listens here: for a scaler that reads events over ZMQ and needs no NATS.
inline constexpr char kNoNats[] = "nats://127.0.0.1:1";
// KV usage as its figure F (metricType Value), in percent.
inline const Metadata kKvPercent = {{"metricName", "llm_kv_blocks_usage_percent"},
                                    {"metricType", "Value"}};

externalscaler::ScaledObjectRef Ref(const Metadata& metadata);

struct MetricReply {
  grpc::Status status;
  double value = 0;     // metricValueFloat
  int64_t integer = 0;  // metricValue
};
MetricReply GetMetrics(externalscaler::ExternalScaler::Stub& stub, const Metadata& metadata);

struct ActiveReply {
  grpc::Status status;
  bool active = false;
};
ActiveReply IsActive(externalscaler::ExternalScaler::Stub& stub, const Metadata& metadata);

// Reads a StreamIsActive stream on its own thread, noting when each message came.
class StreamReader {
 public:
  StreamReader(externalscaler::ExternalScaler::Stub& stub, const Metadata& metadata);
  ~StreamReader();  // cancels the stream
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // Waits until `count` messages in all have arrived; returns them.
  std::vector<bool> WaitFor(size_t count, std::chrono::milliseconds timeout);
  // The arrival time of every message so far.
  std::vector<std::chrono::steady_clock::time_point> ArrivalTimes();
  std::optional<grpc::Status> WaitForEnd(std::chrono::milliseconds timeout);

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<bool> messages_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
  bool ended_ = false;
  grpc::Status status_;
  std::thread thread_;
};

// Waits until GetMetrics for `metadata` answers OK with `value` (to `tolerance`:
// block counts make figures like 4915 / 8192).
bool ValueBecomes(Scaler& scaler, const Metadata& metadata, double value,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  double tolerance = 1e-9);

// The same, calling `publish` before each poll. ZMQ drops what a publisher sends
// before the subscriber has connected, so the first records may be lost, as a
// worker's periodic republication makes good.
bool PublishUntil(Scaler& scaler, const Metadata& metadata, double value,
                  const std::function<void()>& publish,
                  std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Polls GetMetrics for `metadata` until it fails with `code`; the last reply
// either way (its status says what came instead).
MetricReply GetMetricsUntil(Scaler& scaler, const Metadata& metadata, grpc::StatusCode code,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Whether `text` (a page, a message) contains `part`.
bool Contains(const std::string& text, const std::string& part);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace mk::testing

#endif  // METRICS_KEDA_TESTS_INTEGRATION_CLUSTER_H_
