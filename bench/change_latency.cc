// change_latency: how long a load change at the workers takes to reach KEDA.
// Each trial waits a random phase, tells the simulated fleet a new load over
// NATS (`load V` on its control subject), then watches two things at once:
// GetMetrics polled every --poll-ms until it returns the new figure, and a
// StreamIsActive stream until it pushes the new activation state. The load
// alternates between --low (inactive) and --high (active, activation threshold
// halfway), so every trial flips the trigger. Prints per-trial times and one
// line of key=value figures.
//
//   change_latency --address HOST:PORT --nats URL --control SUBJECT
//                  [--trials 10] [--phase-ms 1000] [--poll-ms 1] [--timeout-ms 5000]
//                  [--low 0.25] [--high 0.75] [--component C] [--endpoint E]
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "latency_probe.h"

namespace {

using mk::bench::Clock;
using mk::bench::Ms;
using mk::bench::Percentile;
using mk::bench::StreamWatch;

struct Config {
  std::string address, nats, control;
  std::string component, endpoint;
  int trials = 10;
  int phase_ms = 1000;
  int poll_ms = 1;
  int timeout_ms = 5000;
  double low = 0.25, high = 0.75;
};

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "change_latency: %s\n", why.c_str());
  std::exit(2);
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  CLI::App app{"How long a load change at the workers takes to reach KEDA", "change_latency"};
  app.add_option("--address", c.address, "scaler gRPC HOST:PORT")->required();
  app.add_option("--nats", c.nats, "NATS URL of the simulated fleet")->required();
  app.add_option("--control", c.control, "the fleet's control subject")->required();
  app.add_option("--component", c.component, "trigger component (default: the scaler's)");
  app.add_option("--endpoint", c.endpoint, "trigger endpoint (default: the scaler's)");
  app.add_option("--trials", c.trials)->check(CLI::Range(1, 10000));
  app.add_option("--phase-ms", c.phase_ms)->check(CLI::Range(1, 600000));
  app.add_option("--poll-ms", c.poll_ms)->check(CLI::Range(1, 60000));
  app.add_option("--timeout-ms", c.timeout_ms)->check(CLI::Range(1, 600000));
  app.add_option("--low", c.low)->check(CLI::Range(0.0, 1.0));
  app.add_option("--high", c.high)->check(CLI::Range(0.0, 1.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return c;
}

// The trigger: F = mean load (metricType Value, so the value is F itself),
// active when F is above the midpoint of the two loads.
externalscaler::ScaledObjectRef Ref(const Config& c) {
  externalscaler::ScaledObjectRef ref;
  ref.set_namespace_("bench");
  ref.set_name("change-latency");
  auto& m = *ref.mutable_scalermetadata();
  m["metricName"] = "llm_load_avg";
  m["metricType"] = "Value";
  m["threshold"] = "0.5";
  m["activationThreshold"] = std::to_string((c.low + c.high) / 2);
  if (!c.component.empty()) m["component"] = c.component;
  if (!c.endpoint.empty()) m["endpoint"] = c.endpoint;
  return ref;
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = ParseArgs(argc, argv);
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, c.nats.c_str()) != NATS_OK) Fail("cannot connect to " + c.nats);
  const auto set_load = [&](double load) {
    natsMsg* reply = nullptr;
    const std::string command = "load " + std::to_string(load);
    if (natsConnection_RequestString(&reply, nc, c.control.c_str(), command.c_str(), 2000) !=
        NATS_OK) {
      Fail("no answer on " + c.control);
    }
    natsMsg_Destroy(reply);
  };

  auto stub = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel(c.address, grpc::InsecureChannelCredentials()));
  const externalscaler::ScaledObjectRef ref = Ref(c);
  externalscaler::GetMetricsRequest request;
  request.set_metricname("llm_load_avg");
  *request.mutable_scaledobjectref() = ref;
  // The figure GetMetrics answers now; nothing on an error.
  const auto poll = [&]() -> std::optional<double> {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    externalscaler::GetMetricsResponse response;
    if (!stub->GetMetrics(&context, request, &response).ok() || response.metricvalues_size() != 1) {
      return std::nullopt;
    }
    return response.metricvalues(0).metricvaluefloat();
  };
  const auto wait_value = [&](double want,
                              Clock::time_point deadline) -> std::optional<Clock::time_point> {
    while (Clock::now() < deadline) {
      const std::optional<double> value = poll();
      const auto now = Clock::now();
      if (value && std::fabs(*value - want) < 1e-9) return now;
      std::this_thread::sleep_for(std::chrono::milliseconds(c.poll_ms));
    }
    return std::nullopt;
  };

  // Settle at the low load first.
  set_load(c.low);
  if (!wait_value(c.low, Clock::now() + std::chrono::seconds(15))) {
    Fail("GetMetrics never showed the starting load");
  }
  StreamWatch stream(*stub, ref);
  if (!stream.WaitFor(false, Clock::time_point::min(), Clock::now() + std::chrono::seconds(15))) {
    Fail("StreamIsActive never reported the starting state");
  }

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> phase(0, std::max(0, c.phase_ms - 1));
  std::vector<double> metrics_ms, stream_ms;
  int missed = 0;
  bool high = false;
  for (int trial = 0; trial < c.trials; ++trial) {
    std::this_thread::sleep_for(std::chrono::milliseconds(phase(random)));
    high = !high;
    const double load = high ? c.high : c.low;
    const auto t0 = Clock::now();
    set_load(load);
    const auto deadline = t0 + std::chrono::milliseconds(c.timeout_ms);
    const std::optional<Clock::time_point> seen = wait_value(load, deadline);
    const std::optional<Clock::time_point> pushed = stream.WaitFor(high, t0, deadline);
    if (seen) metrics_ms.push_back(Ms(*seen - t0));
    if (pushed) stream_ms.push_back(Ms(*pushed - t0));
    if (!seen || !pushed) ++missed;
    std::fprintf(stderr, "trial %d: load %.2f: GetMetrics %s ms, StreamIsActive %s ms\n", trial + 1,
                 load, seen ? std::to_string(Ms(*seen - t0)).c_str() : "timeout",
                 pushed ? std::to_string(Ms(*pushed - t0)).c_str() : "timeout");
  }
  std::printf(
      "trials=%d missed=%d getmetrics_p50_ms=%.1f getmetrics_max_ms=%.1f stream_p50_ms=%.1f "
      "stream_max_ms=%.1f\n",
      c.trials, missed, Percentile(metrics_ms, 0.5), Percentile(metrics_ms, 1.0),
      Percentile(stream_ms, 0.5), Percentile(stream_ms, 1.0));
  natsConnection_Destroy(nc);
  return missed == 0 ? 0 : 1;
}
