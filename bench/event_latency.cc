// event_latency: how long one worker's load event takes to reach KEDA over the event
// plane. One worker registers in etcd as Dynamo 1.4 does (its own lease; instance,
// model card with --total blocks, endpoint-scoped kv_metrics channel on its ZMQ PUB
// socket), waits for the scaler to subscribe, then flips its kv_used_blocks between
// --low and --high. The trigger is llm_kv_blocks_usage_percent, metricType Value,
// activationThreshold halfway, so every flip changes the value and the activation.
//
// Two phases of --flips flips each, a random pause of --gap-ms to 2 x --gap-ms before
// each flip, the time taken just before the event is sent:
//   stream      a StreamIsActive stream is open; the time until it pushes the new
//               state. Nothing else calls the scaler.
//   getmetrics  GetMetrics is called back to back (no pause) until it answers the
//               new value; the stream stays open (its pushes are recorded too).
// Prints per-phase figures on stderr and one line of key=value figures:
//   flips=N missed=M stream_p50_ms stream_p99_ms stream_max_ms getmetrics_p50_ms
//   getmetrics_p99_ms getmetrics_max_ms polls_per_flip stream_polled_p50_ms
//   stream_polled_p99_ms
//
//   event_latency --address HOST:PORT --etcd-endpoints URL [--flips 1000] [--gap-ms 5]
//                 [--low 100] [--high 900] [--total 1000] [--timeout-ms 2000]
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
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
#include <zmq.hpp>

#include "event_worker_records.h"
#include "externalscaler.grpc.pb.h"
#include "latency_probe.h"
#include "mock_worker/etcd_registration.h"

namespace {

using mk::bench::Clock;
using mk::bench::Ms;
using mk::bench::Percentile;
using mk::bench::StreamWatch;

struct Config {
  std::string address;
  std::vector<std::string> etcd_endpoints;
  int flips = 1000;
  int gap_ms = 5;
  uint64_t low = 100, high = 900, total = 1000;
  int timeout_ms = 2000;
  mk::bench::WorkerSpec worker;
};

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "event_latency: %s\n", why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"Event -> StreamIsActive and event -> GetMetrics latency over ZMQ", "event_latency"};
  app.add_option("--address", c.address, "scaler gRPC HOST:PORT")->required();
  app.add_option("--etcd-endpoints", c.etcd_endpoints)->required()->delimiter(',');
  app.add_option("--flips", c.flips, "flips per phase")->check(CLI::Range(1, 1000000));
  app.add_option("--gap-ms", c.gap_ms)->check(CLI::Range(0, 60000));
  app.add_option("--low", c.low);
  app.add_option("--high", c.high);
  app.add_option("--total", c.total, "the card's total_kv_blocks");
  app.add_option("--timeout-ms", c.timeout_ms)->check(CLI::Range(1, 600000));
  app.add_option("--namespace", c.worker.dynamo_namespace);
  app.add_option("--component", c.worker.component);
  app.add_option("--endpoint", c.worker.endpoint);
  CLI11_PARSE(app, argc, argv);
  if (!(c.low < c.high && c.high <= c.total)) Fail("need --low < --high <= --total");
  c.worker.kv_total_blocks = c.total;

  zmq::context_t context(1);
  std::string endpoint;
  zmq::socket_t socket = mk::bench::BindPublisher(context, 1000, endpoint);

  auto created = mk::mock::EtcdRegistration::Create({c.etcd_endpoints, 10});
  if (!created.ok()) Fail(std::string(created.status().message()));
  std::unique_ptr<mk::mock::EtcdRegistration> etcd = std::move(*created);
  const absl::StatusOr<int64_t> lease = etcd->Grant();
  if (!lease.ok()) Fail("cannot grant a lease: " + std::string(lease.status().message()));
  const auto worker_id = static_cast<uint64_t>(*lease);
  const uint64_t publisher_id = worker_id & ((uint64_t{1} << 53) - 1);
  for (const auto& record : mk::bench::WorkerRecords(c.worker, worker_id, publisher_id, endpoint)) {
    const absl::Status status = etcd->Put(*lease, record.key, record.value);
    if (!status.ok()) Fail("put " + record.key + ": " + std::string(status.message()));
  }
  // The scaler subscribes once it has read the channel from etcd.
  {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    int subscribed = 0;
    const auto give_up = Clock::now() + std::chrono::seconds(30);
    while (subscribed < 1) {
      if (Clock::now() > give_up) Fail("the scaler never subscribed to " + endpoint);
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (item.revents & ZMQ_POLLIN) subscribed += mk::bench::ReadSubscriptions(socket);
    }
  }
  uint64_t sequence = 0;
  const auto publish = [&](uint64_t kv_used) {
    mk::bench::SendFrames(
        socket, mk::bench::ActiveLoadFrames(worker_id, publisher_id, sequence++, kv_used));
  };

  auto stub = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel(c.address, grpc::InsecureChannelCredentials()));
  const double low_value = 100.0 * static_cast<double>(c.low) / static_cast<double>(c.total);
  const double high_value = 100.0 * static_cast<double>(c.high) / static_cast<double>(c.total);
  externalscaler::ScaledObjectRef ref;
  ref.set_namespace_("bench");
  ref.set_name("event-latency");
  auto& m = *ref.mutable_scalermetadata();
  m["metricName"] = "llm_kv_blocks_usage_percent";
  m["metricType"] = "Value";
  m["threshold"] = "50";
  m["activationThreshold"] = std::to_string((low_value + high_value) / 2);
  m["component"] = c.worker.component;
  m["endpoint"] = c.worker.endpoint;
  m["namespace"] = c.worker.dynamo_namespace;
  externalscaler::GetMetricsRequest request;
  request.set_metricname("llm_kv_blocks_usage_percent");
  *request.mutable_scaledobjectref() = ref;
  const auto poll = [&]() -> std::optional<double> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    externalscaler::GetMetricsResponse response;
    if (!stub->GetMetrics(&ctx, request, &response).ok() || response.metricvalues_size() != 1) {
      return std::nullopt;
    }
    return response.metricvalues(0).metricvaluefloat();
  };

  // Settle at the low load (events sent before the subscription took effect are
  // lost, as with Dynamo: publish until the scaler shows it).
  {
    const auto give_up = Clock::now() + std::chrono::seconds(30);
    while (true) {
      if (Clock::now() > give_up) Fail("GetMetrics never showed the starting load");
      publish(c.low);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::optional<double> value = poll();
      if (value && std::fabs(*value - low_value) < 1e-9) break;
    }
  }
  StreamWatch stream(*stub, ref);
  if (!stream.WaitFor(false, Clock::time_point::min(), Clock::now() + std::chrono::seconds(10))) {
    Fail("StreamIsActive never reported the starting state");
  }

  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> gap(c.gap_ms, 2 * c.gap_ms);
  std::vector<double> stream_ms, metrics_ms, stream_polled_ms;
  int missed = 0;
  uint64_t polls = 0;
  bool high = false;
  for (int phase = 0; phase < 2; ++phase) {
    const bool polling = phase == 1;
    for (int flip = 0; flip < c.flips; ++flip) {
      std::this_thread::sleep_for(std::chrono::milliseconds(gap(random)));
      high = !high;
      const double want = high ? high_value : low_value;
      const auto t0 = Clock::now();
      publish(high ? c.high : c.low);
      const auto deadline = t0 + std::chrono::milliseconds(c.timeout_ms);
      std::optional<Clock::time_point> seen;
      if (polling) {
        while (Clock::now() < deadline) {
          const std::optional<double> value = poll();
          ++polls;
          if (value && std::fabs(*value - want) < 1e-9) {
            seen = Clock::now();
            break;
          }
        }
      }
      const std::optional<Clock::time_point> pushed = stream.WaitFor(high, t0, deadline);
      if (pushed) (polling ? stream_polled_ms : stream_ms).push_back(Ms(*pushed - t0));
      if (seen) metrics_ms.push_back(Ms(*seen - t0));
      if (!pushed || (polling && !seen)) {
        ++missed;
        std::fprintf(stderr, "flip %d of phase %d: %s%s\n", flip + 1, phase + 1,
                     pushed ? "" : "no push ", polling && !seen ? "no GetMetrics value" : "");
      }
    }
    if (polling) {
      std::fprintf(stderr, "getmetrics phase: p50 %.3f p99 %.3f max %.3f ms; %.1f calls a flip\n",
                   Percentile(metrics_ms, 0.5), Percentile(metrics_ms, 0.99),
                   Percentile(metrics_ms, 1.0),
                   static_cast<double>(polls) / static_cast<double>(c.flips));
    } else {
      std::fprintf(stderr, "stream phase: p50 %.3f p99 %.3f max %.3f ms\n",
                   Percentile(stream_ms, 0.5), Percentile(stream_ms, 0.99),
                   Percentile(stream_ms, 1.0));
    }
  }
  std::printf(
      "flips=%d missed=%d stream_p50_ms=%.3f stream_p99_ms=%.3f stream_max_ms=%.3f "
      "getmetrics_p50_ms=%.3f getmetrics_p99_ms=%.3f getmetrics_max_ms=%.3f polls_per_flip=%.1f "
      "stream_polled_p50_ms=%.3f stream_polled_p99_ms=%.3f\n",
      c.flips, missed, Percentile(stream_ms, 0.5), Percentile(stream_ms, 0.99),
      Percentile(stream_ms, 1.0), Percentile(metrics_ms, 0.5), Percentile(metrics_ms, 0.99),
      Percentile(metrics_ms, 1.0), static_cast<double>(polls) / static_cast<double>(c.flips),
      Percentile(stream_polled_ms, 0.5), Percentile(stream_polled_ms, 0.99));
  std::fflush(stdout);
  const absl::Status stopped = etcd->Stop(mk::mock::EtcdRegistration::StopMode::kRevoke);
  if (!stopped.ok())
    std::fprintf(stderr, "event_latency: %s\n", std::string(stopped.message()).c_str());
  return missed == 0 ? 0 : 1;
}
