// event_flood: many Dynamo workers of today publishing their load over ZMQ at once,
// and a count-only subscriber to measure what ZMQ alone delivers on this machine.
//
//   event_flood publish [--publishers 1000] [--rate 100000] [--duration 60]
//               [--etcd-endpoints URL] [--subscribers 1] [--endpoints-out FILE]
//               [--threads 1] [--io-threads 1] [--sndhwm 1000] [--wait 120] [--hold 600]
//   event_flood count --endpoints-file FILE [--sockets one|each] [--duration 60]
//               [--idle 3] [--give-up 600] [--rcvhwm 1000] [--io-threads 1]
//
// publish: binds one socket per publisher on 127.0.0.1 (XPUB, which sends exactly as
// the PUB socket Dynamo binds, and also reads subscriptions); with --etcd-endpoints
// registers each publisher as a worker under one lease (instance, model card with
// total_kv_blocks, endpoint-scoped kv_metrics event channel), over etcd's gRPC API
// (KV.Put from several threads, the lease kept alive). Prints
//   registered publishers=P seconds=S
// then waits until every socket has --subscribers subscriptions to kv_metrics,
//   subscribed seconds=S
// then sends ActiveLoad envelopes (four frames, as Dynamo's publisher) round robin
// over the publishers at a total --rate for --duration seconds, and prints
//   published sent=N refused=R seconds=D rate=X cpu_s=C
// `sent` counts messages ZMQ accepted: beyond a subscriber's high-water mark a PUB
// drops them silently, so what arrived is for the subscriber to say. Then it holds
// its sockets and registrations until SIGTERM/SIGINT or --hold seconds, and
// revokes the lease (every key goes with it).
//
// count: connects to every endpoint of FILE (one per line), subscribes to kv_metrics
// and counts whole messages, nothing else: with --sockets one, one SUB socket
// connected to all (ZMQ's own fair queueing: the ceiling); with --sockets each, one
// SUB socket per endpoint polled as the scaler polls them. Prints `connected`, then,
// once no message came for --idle seconds after the first,
//   received=N window_received=W window_s=D window_rate=X four_frames=F cpu_s=C
// where the window is the --duration seconds from the first message.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "etcd/rpc.grpc.pb.h"
#include "event_worker_records.h"
#include "mock_worker/etcd_registration.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  // publish
  size_t publishers = 1000;
  double rate = 100000;
  double duration = 60;
  std::vector<std::string> etcd_endpoints;
  int subscribers = 1;
  std::string endpoints_out;
  int threads = 1;
  int io_threads = 1;
  int sndhwm = 1000;
  double wait = 120;
  double hold = 600;
  int put_threads = 8;
  mk::bench::WorkerSpec worker;
  // count
  std::string endpoints_file;
  std::string sockets = "one";
  double idle = 3;
  double give_up = 600;
  int rcvhwm = 1000;
};

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "event_flood: %s\n", why.c_str());
  std::exit(2);
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A context that may hold `sockets` sockets (libzmq's default is 1023).
std::unique_ptr<zmq::context_t> MakeContext(int io_threads, size_t sockets) {
  auto context = std::make_unique<zmq::context_t>(io_threads);
  context->set(zmq::ctxopt::max_sockets, static_cast<int>(sockets + 16));
  return context;
}

// Puts every record under `lease`, from several threads (etcd batches concurrent
// proposals; one after another, each would wait for its own commit).
void PutAll(const std::shared_ptr<grpc::Channel>& channel, int64_t lease,
            const std::vector<mk::mock::DiscoveryEntry>& records, int threads) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto stub = etcdserverpb::KV::NewStub(channel);
      for (size_t i = next++; i < records.size() && !failed; i = next++) {
        etcdserverpb::PutRequest request;
        request.set_key(records[i].key);
        request.set_value(records[i].value);
        request.set_lease(lease);
        etcdserverpb::PutResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        context.set_wait_for_ready(true);
        const grpc::Status status = stub->Put(&context, request, &response);
        if (!status.ok()) {
          std::fprintf(stderr, "event_flood: put %s: %s\n", records[i].key.c_str(),
                       status.error_message().c_str());
          failed = true;
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  if (failed) Fail("cannot register the publishers in etcd");
}

// True when SIGTERM or SIGINT (blocked in main) is pending or arrives within `wait`.
bool StopSignal(const sigset_t& signals, std::chrono::milliseconds wait) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(wait.count() / 1000);
  ts.tv_nsec = static_cast<long>(wait.count() % 1000) * 1000000L;
  return sigtimedwait(&signals, nullptr, &ts) > 0;
}

int Publish(const Config& c, const sigset_t& signals) {
  const auto started = Clock::now();
  auto context = MakeContext(c.io_threads, c.publishers);
  std::vector<zmq::socket_t> sockets;
  std::vector<std::string> endpoints(c.publishers);
  sockets.reserve(c.publishers);
  for (size_t i = 0; i < c.publishers; ++i) {
    sockets.push_back(mk::bench::BindPublisher(*context, c.sndhwm, endpoints[i]));
  }
  if (!c.endpoints_out.empty()) {
    std::ofstream out(c.endpoints_out);
    for (const std::string& endpoint : endpoints) out << endpoint << '\n';
    if (!out) Fail("cannot write " + c.endpoints_out);
  }

  // Worker and publisher ids: distinct, non-zero, 53 bits at most, as Dynamo's.
  const uint64_t base = 0x10000000000ULL + (static_cast<uint64_t>(getpid()) << 20);
  std::vector<uint64_t> worker_ids(c.publishers), publisher_ids(c.publishers);
  for (size_t i = 0; i < c.publishers; ++i) {
    worker_ids[i] = base + i;
    publisher_ids[i] = (base << 1) + i;
  }
  std::unique_ptr<mk::mock::EtcdRegistration> etcd;
  if (!c.etcd_endpoints.empty()) {
    auto created = mk::mock::EtcdRegistration::Create({c.etcd_endpoints, 10});
    if (!created.ok()) Fail(std::string(created.status().message()));
    etcd = std::move(*created);
    const absl::StatusOr<int64_t> lease = etcd->Grant();
    if (!lease.ok()) Fail("cannot grant a lease: " + std::string(lease.status().message()));
    std::vector<mk::mock::DiscoveryEntry> records;
    for (size_t i = 0; i < c.publishers; ++i) {
      for (auto& record :
           mk::bench::WorkerRecords(c.worker, worker_ids[i], publisher_ids[i], endpoints[i])) {
        records.push_back(std::move(record));
      }
    }
    PutAll(grpc::CreateChannel(mk::mock::EtcdTarget(c.etcd_endpoints.front()),
                               grpc::InsecureChannelCredentials()),
           *lease, records, c.put_threads);
  }
  std::printf("registered publishers=%zu seconds=%.2f\n", c.publishers, Since(started));
  std::fflush(stdout);

  // Until every publisher has its subscribers.
  std::vector<int> subscribed(c.publishers, 0);
  size_t complete = 0;
  const auto wait_since = Clock::now();
  std::vector<zmq::pollitem_t> items;
  for (zmq::socket_t& socket : sockets) items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
  while (complete < c.publishers) {
    if (Since(wait_since) > c.wait) {
      Fail("only " + std::to_string(complete) + " of " + std::to_string(c.publishers) +
           " publishers had their subscribers after " + std::to_string(c.wait) + " s");
    }
    if (StopSignal(signals, std::chrono::milliseconds(0))) return 1;
    zmq::poll(items, std::chrono::milliseconds(100));
    complete = 0;
    for (size_t i = 0; i < c.publishers; ++i) {
      if (items[i].revents & ZMQ_POLLIN) subscribed[i] += mk::bench::ReadSubscriptions(sockets[i]);
      if (subscribed[i] >= c.subscribers) ++complete;
    }
  }
  std::printf("subscribed seconds=%.2f\n", Since(wait_since));
  std::fflush(stdout);

  // The flood: thread t sends for publishers t, t + T, ... at rate R / T.
  const double cpu0 = CpuSeconds();
  std::atomic<uint64_t> sent{0}, refused{0};
  std::atomic<bool> stop{false};
  const auto begin = Clock::now();
  const auto end = begin + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(c.duration));
  std::vector<std::thread> threads;
  const size_t t_count = static_cast<size_t>(c.threads);
  for (size_t t = 0; t < t_count; ++t) {
    threads.emplace_back([&, t] {
      std::vector<size_t> mine;
      for (size_t i = t; i < c.publishers; i += t_count) mine.push_back(i);
      if (mine.empty()) return;
      std::vector<uint64_t> sequence(mine.size(), 0);
      const double rate = c.rate / static_cast<double>(t_count);
      uint64_t done = 0, my_refused = 0;
      size_t next = 0;
      while (!stop) {
        const auto now = Clock::now();
        if (now >= end) break;
        const auto due =
            static_cast<uint64_t>(std::chrono::duration<double>(now - begin).count() * rate);
        if (done >= due) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        // At most a millisecond's worth at once, so that a late thread catches up
        // smoothly rather than in one burst.
        const uint64_t batch =
            std::min<uint64_t>(due - done, static_cast<uint64_t>(std::max(1.0, rate / 1000)));
        for (uint64_t k = 0; k < batch; ++k) {
          const size_t j = next;
          next = next + 1 == mine.size() ? 0 : next + 1;
          const size_t i = mine[j];
          const uint64_t seq = sequence[j]++;
          const auto frames = mk::bench::ActiveLoadFrames(
              worker_ids[i], publisher_ids[i], seq, (seq * 37 + i) % c.worker.kv_total_blocks);
          if (!mk::bench::SendFrames(sockets[i], frames)) ++my_refused;
          ++done;
        }
      }
      sent += done - my_refused;
      refused += my_refused;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = Since(begin);
  std::printf("published sent=%llu refused=%llu seconds=%.3f rate=%.0f cpu_s=%.2f\n",
              static_cast<unsigned long long>(sent.load()),
              static_cast<unsigned long long>(refused.load()), seconds,
              static_cast<double>(sent.load()) / seconds, CpuSeconds() - cpu0);
  std::fflush(stdout);

  // Hold the registrations (and sockets) until told to stop.
  const auto hold_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(c.hold));
  while (Clock::now() < hold_until && !StopSignal(signals, std::chrono::milliseconds(200))) {
  }
  if (etcd) {
    const absl::Status status = etcd->Stop(mk::mock::EtcdRegistration::StopMode::kRevoke);
    if (!status.ok())
      std::fprintf(stderr, "event_flood: %s\n", std::string(status.message()).c_str());
  }
  sockets.clear();
  return 0;
}

int Count(const Config& c) {
  std::vector<std::string> endpoints;
  {
    std::ifstream in(c.endpoints_file);
    if (!in) Fail("cannot read " + c.endpoints_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) endpoints.push_back(line);
    }
  }
  if (endpoints.empty()) Fail("no endpoint in " + c.endpoints_file);
  const bool each = c.sockets == "each";
  auto context = MakeContext(c.io_threads, endpoints.size());
  std::vector<zmq::socket_t> sockets;
  const auto make = [&] {
    zmq::socket_t socket(*context, zmq::socket_type::sub);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::rcvhwm, c.rcvhwm);
    socket.set(zmq::sockopt::subscribe, std::string(mk::mock::kKvMetricsTopic));
    return socket;
  };
  if (each) {
    for (const std::string& endpoint : endpoints) {
      sockets.push_back(make());
      sockets.back().connect(endpoint);
    }
  } else {
    sockets.push_back(make());
    for (const std::string& endpoint : endpoints) sockets.back().connect(endpoint);
  }
  std::printf("connected sockets=%zu endpoints=%zu\n", sockets.size(), endpoints.size());
  std::fflush(stdout);

  std::vector<zmq::pollitem_t> items;
  for (zmq::socket_t& socket : sockets) items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
  uint64_t received = 0, window_received = 0, four_frames = 0;
  std::optional<Clock::time_point> first;
  const auto started = Clock::now();
  Clock::time_point last = started;
  const auto window =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.duration));
  double cpu0 = 0;
  zmq::message_t frame;
  while (true) {
    zmq::poll(items, std::chrono::milliseconds(100));
    bool any = false;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      // As the scaler: up to 256 messages from one socket, then the others' turn.
      for (int n = 0; n < 256; ++n) {
        if (!sockets[i].recv(frame, zmq::recv_flags::dontwait)) break;
        size_t frames = 1;
        while (frame.more()) {
          (void)sockets[i].recv(frame, zmq::recv_flags::none);
          ++frames;
        }
        if (!first) {
          first = Clock::now();
          cpu0 = CpuSeconds();
        }
        ++received;
        four_frames += frames == 4;
        any = true;
      }
    }
    const auto now = Clock::now();
    if (any) {
      last = now;
      if (now - *first <= window) window_received = received;
    }
    if (first && now - last > std::chrono::duration<double>(c.idle)) break;
    if (!first && now - started > std::chrono::duration<double>(c.give_up)) {
      Fail("no message within " + std::to_string(c.give_up) + " s");
    }
  }
  const double window_s = std::chrono::duration<double>(window).count();
  std::printf(
      "received=%llu window_received=%llu window_s=%.3f window_rate=%.0f four_frames=%llu "
      "cpu_s=%.2f\n",
      static_cast<unsigned long long>(received), static_cast<unsigned long long>(window_received),
      window_s, static_cast<double>(window_received) / window_s,
      static_cast<unsigned long long>(four_frames), CpuSeconds() - cpu0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"Many ZMQ publishers of Dynamo ActiveLoad events, and a count-only subscriber",
               "event_flood"};
  app.require_subcommand(1);
  CLI::App* publish = app.add_subcommand("publish", "bind, register and flood");
  publish->add_option("--publishers", c.publishers)->check(CLI::Range(1, 100000));
  publish->add_option("--rate", c.rate, "events per second, all publishers")
      ->check(CLI::Range(1.0, 1e8));
  publish->add_option("--duration", c.duration, "seconds")->check(CLI::Range(0.1, 86400.0));
  publish->add_option("--etcd-endpoints", c.etcd_endpoints)->delimiter(',');
  publish->add_option("--subscribers", c.subscribers, "per publisher, before the flood")
      ->check(CLI::Range(0, 1000));
  publish->add_option("--endpoints-out", c.endpoints_out, "write the PUB endpoints here");
  publish->add_option("--threads", c.threads, "sending threads")->check(CLI::Range(1, 64));
  publish->add_option("--io-threads", c.io_threads)->check(CLI::Range(1, 64));
  publish->add_option("--sndhwm", c.sndhwm, "ZMQ send high-water mark per subscriber")
      ->check(CLI::Range(0, 10000000));
  publish->add_option("--wait", c.wait, "seconds to wait for the subscribers");
  publish->add_option("--hold", c.hold, "seconds to hold the registrations after the flood");
  publish->add_option("--put-threads", c.put_threads)->check(CLI::Range(1, 256));
  publish->add_option("--namespace", c.worker.dynamo_namespace);
  publish->add_option("--component", c.worker.component);
  publish->add_option("--endpoint", c.worker.endpoint);
  publish->add_option("--kv-total-blocks", c.worker.kv_total_blocks)
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  CLI::App* count = app.add_subcommand("count", "count what ZMQ delivers");
  count->add_option("--endpoints-file", c.endpoints_file)->required();
  count->add_option("--sockets", c.sockets)->check(CLI::IsMember({"one", "each"}));
  count->add_option("--duration", c.duration, "seconds of the window")
      ->check(CLI::Range(0.1, 86400.0));
  count->add_option("--idle", c.idle, "seconds without a message that end the count");
  count->add_option("--give-up", c.give_up, "seconds to wait for the first message");
  count->add_option("--rcvhwm", c.rcvhwm)->check(CLI::Range(0, 10000000));
  count->add_option("--io-threads", c.io_threads)->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);

  // publish: SIGTERM/SIGINT are taken by sigtimedwait (blocked before any thread
  // starts, so every thread inherits the mask); count simply dies of them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (publish->parsed()) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    return publish->parsed() ? Publish(c, signals) : Count(c);
  } catch (const zmq::error_t& error) {
    Fail(std::string("ZMQ: ") + error.what());
  }
}
