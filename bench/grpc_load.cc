// grpc_load: a load generator for the external scaler's unary RPCs, as KEDA would
// call them but much harder. An async client on CompletionQueues: N channels,
// each its own TCP connection, with M calls in flight on each; calls restart as
// they complete, for a warm-up and then a measured duration. A call counts as a
// success only when its status is OK and its value is the expected one; errors
// and wrong values are counted apart. Prints one line of key=value figures.
//
// Steady mode (default): requests/s and latency percentiles of the successes.
// Burst mode (--bursts B): B times, wait --gap-ms, then start --burst K calls at
// once and wait for all: the latency of K callers arriving together.
//
//   grpc_load --address HOST:PORT [--rpc GetMetrics|IsActive|GetMetricSpec]
//             [--channels N] [--inflight M] [--threads T] [--duration S] [--warmup S]
//             [--trigger k=v,k=v,...,expect=X]... [--tolerance REL] [--deadline-ms D]
//             [--bursts B --burst K --gap-ms G]
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "externalscaler.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using externalscaler::ExternalScaler;

enum class Rpc { kGetMetrics, kIsActive, kGetMetricSpec };

struct Trigger {
  externalscaler::GetMetricsRequest metrics;  // its ref serves the other RPCs
  double expect = NAN;                        // GetMetrics value, or IsActive 0/1
};

struct Config {
  std::string address;
  Rpc rpc = Rpc::kGetMetrics;
  int channels = 4;
  int inflight = 16;
  int threads = 1;
  double duration = 10;
  double warmup = 2;
  double tolerance = 1e-9;
  int deadline_ms = 0;  // none: a deadline costs a timer per call
  int bursts = 0;
  int burst = 64;
  int gap_ms = 300;
  std::vector<Trigger> triggers;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "grpc_load: %s\n", why.c_str());
  std::exit(2);
}

// "k=v,k=v,expect=X": trigger metadata plus the expected answer.
Trigger ParseTrigger(const std::string& spec) {
  Trigger trigger;
  trigger.metrics.set_metricname("llm_load_avg");
  auto* ref = trigger.metrics.mutable_scaledobjectref();
  ref->set_namespace_("bench");
  ref->set_name("load-" + std::to_string(std::hash<std::string>{}(spec) % 100000));
  (*ref->mutable_scalermetadata())["scalerAddress"] = "metrics-keda.bench.svc:9090";
  size_t start = 0;
  while (start < spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) Usage("--trigger: expected k=v items, got '" + item + "'");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "expect") {
      trigger.expect = value == "true" ? 1 : value == "false" ? 0 : std::atof(value.c_str());
    } else {
      (*ref->mutable_scalermetadata())[key] = value;
      if (key == "metricName") trigger.metrics.set_metricname(value);
    }
    start = end + 1;
  }
  return trigger;
}

Config ParseArgs(int argc, char** argv) {
  Config c;
  std::vector<std::string> triggers;
  const std::map<std::string, Rpc> rpcs = {{"GetMetrics", Rpc::kGetMetrics},
                                           {"IsActive", Rpc::kIsActive},
                                           {"GetMetricSpec", Rpc::kGetMetricSpec}};
  CLI::App app{"Load generator for the external scaler's unary RPCs", "grpc_load"};
  app.add_option("--address", c.address, "scaler gRPC HOST:PORT")->required();
  app.add_option("--rpc", c.rpc)->transform(CLI::CheckedTransformer(rpcs));
  app.add_option("--channels", c.channels)->check(CLI::Range(1, 1024));
  app.add_option("--inflight", c.inflight)->check(CLI::Range(1, 100000));
  app.add_option("--threads", c.threads)->check(CLI::Range(1, 256));
  app.add_option("--duration", c.duration)->check(CLI::Range(0.001, 86400.0));
  app.add_option("--warmup", c.warmup)->check(CLI::Range(0.0, 3600.0));
  app.add_option("--tolerance", c.tolerance)->check(CLI::Range(0.0, 1.0));
  app.add_option("--deadline-ms", c.deadline_ms)->check(CLI::Range(0, 600000));
  app.add_option("--bursts", c.bursts)->check(CLI::Range(0, 1000000));
  app.add_option("--burst", c.burst)->check(CLI::Range(1, 100000));
  app.add_option("--gap-ms", c.gap_ms)->check(CLI::Range(0, 600000));
  app.add_option("--trigger", triggers, "k=v,...,expect=X (repeatable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  for (const std::string& spec : triggers) c.triggers.push_back(ParseTrigger(spec));
  if (c.triggers.empty()) c.triggers.push_back(ParseTrigger(""));
  return c;
}

// One call slot: a call in flight, restarted as it completes.
struct Call {
  int channel = 0;
  size_t trigger = 0;
  Clock::time_point started;
  std::unique_ptr<grpc::ClientContext> context;
  grpc::Status status;
  externalscaler::GetMetricsResponse metrics;
  externalscaler::IsActiveResponse active;
  externalscaler::GetMetricSpecResponse spec;
  std::unique_ptr<grpc::ClientAsyncResponseReader<externalscaler::GetMetricsResponse>> r_metrics;
  std::unique_ptr<grpc::ClientAsyncResponseReader<externalscaler::IsActiveResponse>> r_active;
  std::unique_ptr<grpc::ClientAsyncResponseReader<externalscaler::GetMetricSpecResponse>> r_spec;
};

struct Tally {
  uint64_t ok = 0;
  uint64_t wrong_value = 0;
  std::map<int, uint64_t> errors;  // by status code
  std::vector<uint32_t> latency_us;
  void Merge(const Tally& o) {
    ok += o.ok;
    wrong_value += o.wrong_value;
    for (auto [code, n] : o.errors) errors[code] += n;
    latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
  }
};

class Load {
 public:
  explicit Load(Config config) : c_(std::move(config)) {
    for (int i = 0; i < c_.channels; ++i) {
      grpc::ChannelArguments args;
      // A connection of its own: no subchannel shared with the other channels.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("mk.bench.channel_index", i);
      // The generator must outrun the server on an equal core: no retry filter.
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
      auto channel =
          grpc::CreateCustomChannel(c_.address, grpc::InsecureChannelCredentials(), args);
      if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
        Usage("cannot connect to " + c_.address);
      }
      stubs_.push_back(ExternalScaler::NewStub(channel));
      channels_.push_back(std::move(channel));
    }
  }

  void Start(Call& call, grpc::CompletionQueue& cq) {
    call.context = std::make_unique<grpc::ClientContext>();
    if (c_.deadline_ms > 0) {
      call.context->set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(c_.deadline_ms));
    }
    call.trigger = (call.trigger + 1) % c_.triggers.size();
    const Trigger& t = c_.triggers[call.trigger];
    ExternalScaler::Stub& stub = *stubs_[call.channel];
    call.started = Clock::now();
    switch (c_.rpc) {
      case Rpc::kGetMetrics:
        call.metrics.Clear();
        call.r_metrics = stub.PrepareAsyncGetMetrics(call.context.get(), t.metrics, &cq);
        call.r_metrics->StartCall();
        call.r_metrics->Finish(&call.metrics, &call.status, &call);
        break;
      case Rpc::kIsActive:
        call.r_active =
            stub.PrepareAsyncIsActive(call.context.get(), t.metrics.scaledobjectref(), &cq);
        call.r_active->StartCall();
        call.r_active->Finish(&call.active, &call.status, &call);
        break;
      case Rpc::kGetMetricSpec:
        call.spec.Clear();
        call.r_spec =
            stub.PrepareAsyncGetMetricSpec(call.context.get(), t.metrics.scaledobjectref(), &cq);
        call.r_spec->StartCall();
        call.r_spec->Finish(&call.spec, &call.status, &call);
        break;
    }
  }

  // Classifies a completed call; true when it counts as a success.
  bool Check(const Call& call, Tally& tally) const {
    if (!call.status.ok()) {
      ++tally.errors[static_cast<int>(call.status.error_code())];
      if (first_error_.exchange(true) == false) {
        std::fprintf(stderr, "grpc_load: first error: %d %s\n",
                     static_cast<int>(call.status.error_code()),
                     call.status.error_message().c_str());
      }
      return false;
    }
    const double expect = c_.triggers[call.trigger].expect;
    bool right = true;
    switch (c_.rpc) {
      case Rpc::kGetMetrics:
        if (call.metrics.metricvalues_size() != 1) {
          right = false;
        } else if (!std::isnan(expect)) {
          const auto& v = call.metrics.metricvalues(0);
          right = std::fabs(v.metricvaluefloat() - expect) <=
                      c_.tolerance * std::max(1.0, std::fabs(expect)) &&
                  v.metricvalue() == static_cast<int64_t>(std::ceil(expect - 1e-9));
        }
        break;
      case Rpc::kIsActive:
        right = std::isnan(expect) || call.active.result() == (expect != 0);
        break;
      case Rpc::kGetMetricSpec:
        right = call.spec.metricspecs_size() >= 1;
        break;
    }
    if (!right) {
      ++tally.wrong_value;
      if (first_wrong_.exchange(true) == false) {
        std::fprintf(stderr, "grpc_load: first wrong value: %s\n",
                     c_.rpc == Rpc::kGetMetrics ? call.metrics.ShortDebugString().c_str()
                                                : "(not GetMetrics)");
      }
    }
    return right;
  }

  void Steady() {
    const auto begin = Clock::now();
    measure_from_ = begin + ToDuration(c_.warmup);
    measure_to_ = measure_from_ + ToDuration(c_.duration);
    std::vector<Tally> tallies(c_.threads);
    std::vector<std::thread> threads;
    rusage usage_before{};
    rusage usage_after{};
    for (int t = 0; t < c_.threads; ++t) {
      threads.emplace_back([&, t] {
        grpc::CompletionQueue cq;
        std::vector<std::unique_ptr<Call>> calls;
        for (int slot = t; slot < c_.channels * c_.inflight; slot += c_.threads) {
          calls.push_back(std::make_unique<Call>());
          calls.back()->channel = slot % c_.channels;
          calls.back()->trigger = static_cast<size_t>(slot);
          Start(*calls.back(), cq);
        }
        Tally& tally = tallies[t];
        tally.latency_us.reserve(1 << 20);
        size_t running = calls.size();
        void* tag = nullptr;
        bool ok = false;
        while (running > 0 && cq.Next(&tag, &ok)) {
          Call& call = *static_cast<Call*>(tag);
          const auto now = Clock::now();
          if (call.started >= measure_from_ && now <= measure_to_) {
            if (Check(call, tally)) {
              ++tally.ok;
              tally.latency_us.push_back(static_cast<uint32_t>(
                  std::chrono::duration_cast<std::chrono::microseconds>(now - call.started)
                      .count()));
            }
          }
          if (now < measure_to_) {
            Start(call, cq);
          } else {
            --running;
          }
        }
        cq.Shutdown();
        while (cq.Next(&tag, &ok)) {
        }
      });
    }
    std::this_thread::sleep_until(measure_from_);
    getrusage(RUSAGE_SELF, &usage_before);
    std::this_thread::sleep_until(measure_to_);
    getrusage(RUSAGE_SELF, &usage_after);
    for (auto& thread : threads) thread.join();
    Tally all;
    for (const Tally& t : tallies) all.Merge(t);
    Report(all, c_.duration, CpuSeconds(usage_after) - CpuSeconds(usage_before));
  }

  void Bursts() {
    grpc::CompletionQueue cq;
    std::vector<std::unique_ptr<Call>> calls;
    for (int i = 0; i < c_.burst; ++i) {
      calls.push_back(std::make_unique<Call>());
      calls.back()->channel = i % c_.channels;
      calls.back()->trigger = static_cast<size_t>(i);
    }
    Tally tally;
    double busy = 0;
    for (int b = 0; b < c_.bursts; ++b) {
      std::this_thread::sleep_for(std::chrono::milliseconds(c_.gap_ms));
      const auto t0 = Clock::now();
      for (auto& call : calls) Start(*call, cq);
      for (int done = 0; done < c_.burst; ++done) {
        void* tag = nullptr;
        bool ok = false;
        if (!cq.Next(&tag, &ok)) Usage("completion queue shut down");
        const Call& call = *static_cast<Call*>(tag);
        if (Check(call, tally)) {
          ++tally.ok;
          tally.latency_us.push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
        }
      }
      busy += std::chrono::duration<double>(Clock::now() - t0).count();
    }
    cq.Shutdown();
    Report(tally, busy, 0);
  }

  void Run() { c_.bursts > 0 ? Bursts() : Steady(); }

 private:
  static Clock::duration ToDuration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }
  static double CpuSeconds(const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
  }

  void Report(Tally& tally, double seconds, double cpu_seconds) const {
    std::sort(tally.latency_us.begin(), tally.latency_us.end());
    const auto pct = [&](double p) -> double {
      if (tally.latency_us.empty()) return 0;
      const size_t i =
          static_cast<size_t>(std::ceil(p * static_cast<double>(tally.latency_us.size())) - 1);
      return tally.latency_us[std::min(i, tally.latency_us.size() - 1)];
    };
    uint64_t errors = 0;
    std::string by_code;
    for (auto [code, n] : tally.errors) {
      errors += n;
      if (!by_code.empty()) by_code.push_back('/');
      by_code.append(std::to_string(code)).push_back(':');
      by_code.append(std::to_string(n));
    }
    std::printf(
        "rps=%.0f ok=%llu errors=%llu wrong=%llu p50_us=%.0f p90_us=%.0f p99_us=%.0f "
        "max_us=%.0f client_cpu=%.2f seconds=%.2f error_codes=%s\n",
        static_cast<double>(tally.ok) / seconds, static_cast<unsigned long long>(tally.ok),
        static_cast<unsigned long long>(errors), static_cast<unsigned long long>(tally.wrong_value),
        pct(0.5), pct(0.9), pct(0.99), pct(1.0), seconds > 0 ? cpu_seconds / seconds : 0, seconds,
        by_code.empty() ? "none" : by_code.c_str());
    std::fflush(stdout);
  }

  Config c_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<ExternalScaler::Stub>> stubs_;
  Clock::time_point measure_from_, measure_to_;
  mutable std::atomic<bool> first_error_{false}, first_wrong_{false};
};

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil checks every gRPC mutex for lock cycles; a load generator
  // has better use for its core.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Load load(ParseArgs(argc, argv));
  load.Run();
  return 0;
}
