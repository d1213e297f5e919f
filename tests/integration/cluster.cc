#include "cluster.h"

#include <arpa/inet.h>
#include <nats/nats.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace mk::testing {

using namespace std::chrono_literals;

NatsServer::NatsServer(const TempDir& dir, std::string config)
    : dir_(dir), config_(std::move(config)), port_(FreePort()) {
  Start();
}

void NatsServer::Start() {
  std::vector<std::string> argv = {NatsServerPath(), "-a", "127.0.0.1", "-p",
                                   std::to_string(port_)};
  if (!config_.empty()) {
    const std::string path = dir_.path() + "/nats.conf";
    std::ofstream(path) << config_;
    argv.insert(argv.end(), {"-c", path});
  }
  process_ = std::make_unique<Process>(argv, dir_.path() + "/nats-server.log");
  if (!process_->WaitForOutput("Server is ready", 10s)) {
    throw std::runtime_error("nats-server did not start: " + process_->Output());
  }
}

void NatsServer::Kill() { process_->Stop(SIGKILL, 5s); }

std::string NatsServer::Request(const std::string& subject, const std::string& text) {
  natsConnection* connection = nullptr;
  if (natsConnection_ConnectTo(&connection, url().c_str()) != NATS_OK) {
    throw std::runtime_error("cannot connect to " + url());
  }
  natsMsg* reply = nullptr;
  const natsStatus status =
      natsConnection_RequestString(&reply, connection, subject.c_str(), text.c_str(), 5000);
  std::string answer = status == NATS_OK
                           ? std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply))
                           : std::string("error: ") + natsStatus_GetText(status);
  natsMsg_Destroy(reply);
  natsConnection_Destroy(connection);
  return answer;
}

MockFleet::MockFleet(const TempDir& dir, const NatsServer& nats, FleetSpec spec) {
  static int fleets = 0;
  control_subject_ = "mock.control." + std::to_string(++fleets);
  std::vector<std::string> argv = {BinaryPath("dynamo-mock-worker"),
                                   "--nats-server",
                                   nats.url(),
                                   "--workers",
                                   std::to_string(spec.workers),
                                   "--form",
                                   spec.form,
                                   "--pattern",
                                   spec.pattern,
                                   "--component",
                                   spec.component,
                                   "--endpoint",
                                   spec.endpoint,
                                   "--control-subject",
                                   control_subject_};
  if (!spec.lease_base.empty()) {
    argv.push_back("--lease-base");
    argv.push_back(spec.lease_base);
  }
  argv.insert(argv.end(), spec.extra.begin(), spec.extra.end());
  process_ =
      std::make_unique<Process>(argv, dir.path() + "/mock-" + std::to_string(fleets) + ".log");
  if (!process_->WaitForOutput("ready", 15s)) {
    throw std::runtime_error("dynamo-mock-worker did not start: " + process_->Output());
  }
}

RawResponder::RawResponder(const NatsServer& nats, const std::string& subject,
                           std::vector<std::string> payloads, std::chrono::milliseconds delay)
    : payloads_(std::move(payloads)), delay_(delay) {
  if (natsConnection_ConnectTo(&connection_, nats.url().c_str()) != NATS_OK ||
      natsConnection_Subscribe(&subscription_, connection_, subject.c_str(), OnRequest, this) !=
          NATS_OK ||
      natsConnection_Flush(connection_) != NATS_OK) {
    throw std::runtime_error("responder cannot subscribe to " + subject);
  }
}

RawResponder::~RawResponder() {
  // A callback may be running on the library's thread: stop its delays, and wait
  // for the drain to finish it before `this` goes.
  stopping_ = true;
  if (natsSubscription_Drain(subscription_) == NATS_OK) {
    natsSubscription_WaitForDrainCompletion(subscription_, 10000);
  }
  natsSubscription_Destroy(subscription_);
  natsConnection_Destroy(connection_);
}

void RawResponder::OnRequest(natsConnection* connection, natsSubscription*, natsMsg* message,
                             void* self) {
  const char* reply = natsMsg_GetReply(message);
  auto* responder = static_cast<RawResponder*>(self);
  if (reply != nullptr && !responder->stopping_) {
    std::this_thread::sleep_for(responder->delay_);
    for (const std::string& payload : responder->payloads_) {
      natsConnection_Publish(connection, reply, payload.data(), static_cast<int>(payload.size()));
    }
    natsConnection_Flush(connection);
  }
  natsMsg_Destroy(message);
}

namespace {

std::string WithoutBrackets(const std::string& host) {
  return host.size() >= 2 && host.front() == '[' && host.back() == ']'
             ? host.substr(1, host.size() - 2)
             : host;
}

// host:port as gRPC dials it.
std::string Target(const std::string& host, int port) {
  const std::string bare = WithoutBrackets(host);
  const bool ipv6 = bare.find(':') != std::string::npos;
  return (ipv6 ? "[" + bare + "]" : bare) + ":" + std::to_string(port);
}

std::optional<std::string> Failed(std::string* why, const std::string& reason) {
  if (why != nullptr) *why = reason;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> HttpGet(const std::string& host, int port, const std::string& path,
                                   std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* address = nullptr;
  if (const int error = getaddrinfo(WithoutBrackets(host).c_str(), std::to_string(port).c_str(),
                                    &hints, &address);
      error != 0) {
    return Failed(why, std::string("address: ") + gai_strerror(error));
  }
  const int fd = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
  // A server that accepts and never answers fails the fetch instead of hanging it.
  const timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  const bool connected = fd >= 0 && connect(fd, address->ai_addr, address->ai_addrlen) == 0;
  const int connect_error = errno;
  freeaddrinfo(address);
  if (!connected) {
    if (fd >= 0) close(fd);
    return Failed(why, std::string("connect: ") + std::strerror(connect_error));
  }
  std::string response;
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  const bool sent =
      write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size());
  char buffer[65536];
  ssize_t n = 0;
  while (sent && (n = read(fd, buffer, sizeof buffer)) > 0) response.append(buffer, n);
  const int read_error = errno;
  close(fd);
  if (!sent) return Failed(why, "request not sent");
  if (n < 0) return Failed(why, std::string("read: ") + std::strerror(read_error));
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (status_line.rfind("HTTP/1.1 200 ", 0) != 0 && status_line.rfind("HTTP/1.0 200 ", 0) != 0) {
    return Failed(why, response.empty() ? "no answer" : "answered \"" + status_line + "\"");
  }
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return Failed(why, "no end of headers in the answer");
  return response.substr(body + 4);
}

Scaler::Scaler(const TempDir& dir, const NatsServer& nats, std::vector<std::string> args,
               std::string host)
    : Scaler(dir, nats.url(), std::move(args), std::move(host)) {}

Scaler::Scaler(const TempDir& dir, const std::string& nats_url, std::vector<std::string> args,
               std::string host)
    : host_(WithoutBrackets(host)), port_(FreePort()), metrics_port_(FreePort()) {
  std::vector<std::string> argv = {BinaryPath("metrics-keda"),
                                   "--host",
                                   host,
                                   "--port",
                                   std::to_string(port_),
                                   "--metrics-port",
                                   std::to_string(metrics_port_),
                                   "--nats-server",
                                   nats_url};
  // The stats generation unless the test says otherwise: no discovery store, and no
  // event plane that would make a scaler without NATS ready.
  for (const auto& [flag, value] : {std::pair<std::string, std::string>{"--source", "stats"},
                                    {"--discovery-backend", "none"}}) {
    if (std::find(args.begin(), args.end(), flag) == args.end()) {
      argv.insert(argv.end(), {flag, value});
    }
  }
  argv.insert(argv.end(), args.begin(), args.end());
  // One log per scaler: a second scaler in the same directory must not be taken
  // as started on the first one's "serving" line.
  static std::atomic<int> scalers = 0;
  process_ =
      std::make_unique<Process>(argv, dir.path() + "/scaler-" + std::to_string(++scalers) + ".log");
  // Connecting before the port is bound would put the channel into back-off.
  if (!process_->WaitForOutput("serving externalscaler.ExternalScaler", 15s)) {
    throw std::runtime_error("metrics-keda did not start: " + process_->Output());
  }
  stub_ = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel(Target(host_, port_), grpc::InsecureChannelCredentials()));
}

std::optional<std::string> Scaler::TryHttp(const std::string& path, std::string* why) const {
  return HttpGet(host_, metrics_port_, path, why);
}

std::string Scaler::Http(const std::string& path) const {
  std::string why;
  std::optional<std::string> body = TryHttp(path, &why);
  if (!body) {
    throw std::runtime_error("GET " + path + " on " + Target(host_, metrics_port_) +
                             " failed: " + why);
  }
  return *std::move(body);
}

externalscaler::ScaledObjectRef Ref(const Metadata& metadata) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("test-scaledobject");
  ref.set_namespace_("default");
  for (const auto& [key, value] : metadata) (*ref.mutable_scalermetadata())[key] = value;
  return ref;
}

MetricReply GetMetrics(externalscaler::ExternalScaler::Stub& stub, const Metadata& metadata) {
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = Ref(metadata);
  auto it = metadata.find("metricName");
  request.set_metricname(it == metadata.end() ? "llm_load_avg" : it->second);
  externalscaler::GetMetricsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 3s);  // KEDA's HPA-path deadline
  MetricReply reply;
  reply.status = stub.GetMetrics(&context, request, &response);
  if (reply.status.ok() && response.metricvalues_size() == 1) {
    reply.value = response.metricvalues(0).metricvaluefloat();
    reply.integer = response.metricvalues(0).metricvalue();
  } else if (reply.status.ok()) {
    reply.status = grpc::Status(grpc::StatusCode::INTERNAL, "expected exactly one metric value");
  }
  return reply;
}

ActiveReply IsActive(externalscaler::ExternalScaler::Stub& stub, const Metadata& metadata) {
  externalscaler::IsActiveResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 3s);
  ActiveReply reply;
  reply.status = stub.IsActive(&context, Ref(metadata), &response);
  reply.active = response.result();
  return reply;
}

StreamReader::StreamReader(externalscaler::ExternalScaler::Stub& stub, const Metadata& metadata)
    : reader_(stub.StreamIsActive(&context_, Ref(metadata))), thread_([this] {
        externalscaler::IsActiveResponse message;
        while (reader_->Read(&message)) {
          std::lock_guard lock(mutex_);
          messages_.push_back(message.result());
          arrivals_.push_back(std::chrono::steady_clock::now());
          changed_.notify_all();
        }
        std::lock_guard lock(mutex_);
        status_ = reader_->Finish();
        ended_ = true;
        changed_.notify_all();
      }) {}

StreamReader::~StreamReader() {
  context_.TryCancel();
  thread_.join();
}

std::vector<bool> StreamReader::WaitFor(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count || ended_; });
  return messages_;
}

std::vector<std::chrono::steady_clock::time_point> StreamReader::ArrivalTimes() {
  std::lock_guard lock(mutex_);
  return arrivals_;
}

std::optional<grpc::Status> StreamReader::WaitForEnd(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return ended_; });
  return ended_ ? std::optional(status_) : std::nullopt;
}

namespace {

bool AnswersValue(Scaler& scaler, const Metadata& metadata, double value, double tolerance) {
  MetricReply reply = GetMetrics(scaler.stub(), metadata);
  return reply.status.ok() && std::abs(reply.value - value) < tolerance;
}

}  // namespace

bool ValueBecomes(Scaler& scaler, const Metadata& metadata, double value,
                  std::chrono::milliseconds timeout, double tolerance) {
  return Eventually([&] { return AnswersValue(scaler, metadata, value, tolerance); }, timeout);
}

bool PublishUntil(Scaler& scaler, const Metadata& metadata, double value,
                  const std::function<void()>& publish, std::chrono::milliseconds timeout) {
  return Eventually(
      [&] {
        publish();
        return AnswersValue(scaler, metadata, value, 1e-9);
      },
      timeout);
}

MetricReply GetMetricsUntil(Scaler& scaler, const Metadata& metadata, grpc::StatusCode code,
                            std::chrono::milliseconds timeout) {
  MetricReply reply;
  Eventually(
      [&] {
        reply = GetMetrics(scaler.stub(), metadata);
        return reply.status.error_code() == code;
      },
      timeout);
  return reply;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

}  // namespace mk::testing
