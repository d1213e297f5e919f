// dynamo-mock-worker: one process standing in for K Dynamo LLM workers of one
// target, with the real wire formats, so that the scaler can be driven in demos,
// integration tests and benchmarks:
//   - on NATS it answers the micro PING / INFO / STATS verbs (Dynamo 0.1 - 0.5). A
//     handful of subscriptions serve the whole simulated fleet: each request is
//     answered with one reply per simulated worker, then flushed;
//   - with --events it publishes the workers' load on the event plane as one of
//     Dynamo's generations did (event_plane.h): over ZMQ (one PUB socket for the whole
//     fleet, bound or connected to a broker) or NATS;
//   - with --etcd-endpoints it registers each worker in etcd as Dynamo does
//     (etcd_registration.h, discovery_payloads.h): one lease per worker, whose id is
//     the worker's id, and its instance, model card and event channel records;
//   - with --metrics-port it serves each worker's Prometheus page, Dynamo's and vLLM's
//     gauges per rank (metrics_page.h), as a worker's system port does: one HTTP port
//     for the whole fleet, a path per worker.
// The load follows --pattern and the control subject in every form. With
// --write-trace it connects nowhere: it writes the per-unit trace the workers' figures
// make over a day (or --trace-seconds) of --pattern (unit_trace.h), for replay, and
// exits.
#include <nats/nats.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>

#include "common/decimal.h"
#include "dynamo/service_name.h"
#include "mock_worker/discovery_payloads.h"
#include "mock_worker/etcd_registration.h"
#include "mock_worker/event_plane.h"
#include "mock_worker/load_pattern.h"
#include "mock_worker/metrics_page.h"
#include "mock_worker/unit_trace.h"
#include "mock_worker/worker_payloads.h"
#include "nats/nats_connection.h"
#include "observability/http_server.h"

namespace mk::mock {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kProgram[] = "dynamo-mock-worker";
constexpr int kConnectGiveUpSeconds = 10;

enum class FormOption { kFlat, kNested, kMixed, kNull };

struct Config {
  std::string nats_server = "nats://localhost:4222";
  std::string dynamo_namespace = "dynamo";
  std::string component = "llm-worker";
  std::string endpoint = "kv-router";
  size_t workers = 4;
  FormOption form = FormOption::kFlat;
  std::string pattern_spec = "constant:0.5";
  double spread = 0;
  uint64_t kv_total_blocks = 8192;
  uint64_t slots_total = 64;
  uint32_t dp_ranks = 1;
  uint64_t lease_base = 0;  // from --lease-base
  bool legacy_names = false;
  std::string control_subject;
  double duration_seconds = 0;

  // --write-trace: the file ("-": stdout), its times 0, step, 2 step, ... <= seconds.
  std::string write_trace;
  uint64_t trace_seconds = 86400;
  uint64_t trace_step = 60;

  // The event plane (--events and what goes with it).
  EventForm events = EventForm::kNone;
  uint16_t zmq_port = 0;  // 0: a free port
  int metrics_port = -1;  // -1: no /metrics pages; 0: a free port
  // Where the pages listen: one address per simulated pod when a test runs several.
  std::string metrics_host = "127.0.0.1";
  std::string zmq_broker_xsub;  // --zmq-broker's xsub address
  double event_heartbeat_seconds = 10;
  bool publisher_id_is_worker = false;
  bool forward_pass_metrics = false;
  bool router_noise = false;

  // Registration in etcd (--etcd-endpoints; none: no registration).
  std::vector<std::string> etcd_endpoints;
  int64_t lease_ttl_seconds = 10;
  bool no_revoke = false;

  bool uses_nats() const { return !nats_server.empty(); }
};

// A usage error: one line naming the flag, exit code 2.
[[noreturn]] void UsageError(const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "%s: %s\n", kProgram, line.c_str());
  std::exit(2);
}

// A NATS subject to subscribe to: printable, no spaces, no empty tokens.
bool IsValidSubject(std::string_view subject) {
  if (subject.empty() || subject.front() == '.' || subject.back() == '.') return false;
  char prev = 0;
  for (const char c : subject) {
    if (c <= ' ' || c == 0x7f || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

std::optional<uint64_t> ParseHexU64(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, 16);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// The xsub address out of `xsub=tcp://...,xpub=tcp://...` (Dynamo's
// DYN_ZMQ_BROKER_URL; either order); empty when there is none.
std::string BrokerXsub(std::string_view url) {
  std::string xsub;
  while (!url.empty()) {
    const size_t comma = url.find(',');
    const std::string_view part = url.substr(0, comma);
    if (part.starts_with("xsub=")) xsub = std::string(part.substr(5));
    if (comma == std::string_view::npos) break;
    url.remove_prefix(comma + 1);
  }
  return xsub.starts_with("tcp://") && xsub.size() > 6 ? xsub : std::string();
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// A name that can stand as one token of a NATS subject without encoding.
bool IsSubjectToken(std::string_view name) {
  return IsValidSubject(name) && name.find_first_of(".*>") == std::string_view::npos;
}

struct ParsedCommandLine {
  Config config;
  std::optional<LoadPattern> pattern;
};

ParsedCommandLine ParseCommandLine(int argc, char** argv) {
  Config c;
  std::string form = "flat";
  std::string lease_base = "7587867c5a2d0000";
  std::string events = "none";
  std::string zmq_broker;
  std::string publisher_id = "random";
  std::string etcd_endpoints;
  CLI::App app{
      "Simulates K NVIDIA Dynamo LLM workers of one target: answers $SRV.PING, $SRV.INFO and "
      "$SRV.STATS on NATS with ForwardPassMetrics that follow a load pattern, publishes their "
      "load on Dynamo's event plane (--events) and registers them in etcd (--etcd-endpoints).",
      kProgram};
  app.option_defaults()->always_capture_default();
  app.add_option("--nats-server", c.nats_server,
                 "NATS server URL(s), comma separated; empty: no NATS (no $SRV answers, no "
                 "control subject)")
      ->envname("NATS_SERVER");
  app.add_option("--namespace", c.dynamo_namespace, "Dynamo namespace")->envname("DYN_NAMESPACE");
  app.add_option("--component", c.component, "Dynamo component");
  app.add_option("--endpoint", c.endpoint,
                 "Endpoint whose stats carry ForwardPassMetrics; also the endpoint the events "
                 "(endpoint scope) and the etcd records name");
  app.add_option("--workers", c.workers, "Number of simulated workers")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  app.add_option("--form", form,
                 "ForwardPassMetrics layout (mixed: even workers flat; null: no load data, "
                 "as Dynamo workers answer since October 2025)")
      ->check(CLI::IsMember({"flat", "nested", "mixed", "null"}));
  app.add_option("--pattern", c.pattern_spec,
                 "Fleet load: constant:V, ramp:FROM:TO:SECONDS, sine:MIN:MAX:PERIOD, "
                 "step:LOW:HIGH:PERIOD or csv:PATH");
  app.add_option("--spread", c.spread,
                 "Load difference between the last and the first worker, in [-1, 1]")
      ->check(CLI::Range(-1.0, 1.0));
  app.add_option("--kv-total-blocks", c.kv_total_blocks,
                 "KV cache blocks per worker (0: report only gpu_cache_usage_perc)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1'000'000'000'000}));
  app.add_option("--slots-total", c.slots_total, "Request slots per worker")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1'000'000'000'000}));
  app.add_option("--dp-ranks", c.dp_ranks, "Data-parallel ranks per worker")
      ->check(CLI::Range(uint32_t{1}, uint32_t{64}));
  app.add_option("--lease-base", lease_base,
                 "Lease id of worker 0 in hex, optional 0x prefix (worker i gets base + i)");
  app.add_flag("--legacy-names", c.legacy_names,
               "Dynamo 0.1 service names: '-' mapped to '_' and a hash suffix");
  app.add_option("--control-subject", c.control_subject,
                 "Subject accepting 'load V', 'pattern SPEC', 'pause', 'resume'");
  app.add_option("--duration", c.duration_seconds, "Seconds to run; 0 runs until a signal")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--events", events,
                 "Event-plane form: none; zmq (MessagePack envelope + ActiveLoad on a bound ZMQ "
                 "PUB socket); zmq-broker (the same through a broker, frame 0 the full "
                 "subject); nats (envelope on the endpoint subject, Dynamo 1.4 on); "
                 "nats-namespace (envelope on namespace.<ns>.kv_metrics, 0.9 - 1.3); "
                 "json-active-load (Dec 2025 - Jan 2026); json-load-event (Aug - Dec 2025)")
      ->check(CLI::IsMember({"none", "zmq", "zmq-broker", "nats", "nats-namespace",
                             "json-active-load", "json-load-event"}));
  app.add_option("--metrics-port", c.metrics_port,
                 "Serve each worker's Prometheus page on this port (of --metrics-host): worker i's "
                 "at /metrics/<i>, worker 0's also at /metrics (0: a free port; the ready "
                 "line says which); -1: none")
      ->check(CLI::Range(-1, 65535));
  app.add_option("--metrics-host", c.metrics_host,
                 "The address --metrics-port listens on, e.g. 127.0.0.2: a pod IP of its own "
                 "when a test runs several simulated pods on one port")
      ->capture_default_str();
  app.add_option("--zmq-port", c.zmq_port,
                 "--events zmq: the port of the PUB socket on 127.0.0.1 (0: a free one)");
  app.add_option("--zmq-broker", zmq_broker,
                 "--events zmq-broker: the broker, xsub=tcp://HOST:PORT,xpub=tcp://HOST:PORT")
      ->envname("DYN_ZMQ_BROKER_URL");
  app.add_option("--event-heartbeat", c.event_heartbeat_seconds,
                 "Seconds between republications of an unchanged record; 0: never (as "
                 "releases before the heartbeat)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--publisher-id", publisher_id,
                 "Envelope publisher_id: random (a random 53-bit number per publisher, "
                 "Dynamo's newest) or worker (the worker id, early 2026)")
      ->check(CLI::IsMember({"random", "worker"}));
  app.add_flag("--forward-pass-metrics", c.forward_pass_metrics,
               "Also publish ForwardPassMetrics (topic forward-pass-metrics) about once a second "
               "(MessagePack forms)");
  app.add_flag("--router-noise", c.router_noise,
               "Also publish router-style ActiveLoad records about the workers with random "
               "figures, which a scaler must ignore (ActiveLoad forms)");
  app.add_option("--etcd-endpoints", etcd_endpoints,
                 "etcd endpoints, http://HOST:PORT, comma separated: register each worker "
                 "there with its own lease, whose id becomes the worker id (empty: no "
                 "registration, ids from --lease-base)");
  app.add_option("--lease-ttl", c.lease_ttl_seconds, "TTL of the workers' etcd leases, seconds")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app.add_flag("--no-revoke", c.no_revoke,
               "On SIGTERM/SIGINT leave the etcd keys and leases to expire, as after a crash");
  app.add_option("--write-trace", c.write_trace,
                 "Connect nowhere: write the workers' per-unit trace under --pattern to this "
                 "file (-: stdout), time,unit,kv_used,kv_total,slots_used,slots_total,waiting, "
                 "units named by their lease ids from --lease-base, and exit");
  app.add_option(
         "--trace-seconds", c.trace_seconds,
         "--write-trace: seconds the trace covers, its times 0, step, 2 step, ... up to this")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1'000'000'000}));
  app.add_option("--trace-step", c.trace_step, "--write-trace: seconds between the trace's times")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) std::exit(app.exit(e));  // --help
    UsageError(e.what());
  }

  // CLI11's Range lets NaN through (every comparison with it is false).
  if (!std::isfinite(c.spread)) UsageError("--spread: expected a number in [-1, 1]");
  if (!std::isfinite(c.duration_seconds)) {
    UsageError("--duration: expected a number of seconds in [0, 1e9]");
  }
  c.form = form == "nested"  ? FormOption::kNested
           : form == "mixed" ? FormOption::kMixed
           : form == "null"  ? FormOption::kNull
                             : FormOption::kFlat;
  const std::optional<uint64_t> base = ParseHexU64(lease_base);
  if (!base) {
    UsageError("--lease-base: expected 1 to 16 hex digits (optional 0x prefix), got '" +
               lease_base + "'");
  }
  c.lease_base = *base;
  if (c.lease_base > std::numeric_limits<uint64_t>::max() - (c.workers - 1)) {
    UsageError("--lease-base: base + workers - 1 must fit in 64 bits");
  }
  if (!mk::dynamo::IsSubjectSafeName(c.endpoint)) {
    UsageError("--endpoint: expected 1 to 128 characters of [A-Za-z0-9_-], got '" + c.endpoint +
               "'");
  }
  if (c.dynamo_namespace.empty()) UsageError("--namespace: must not be empty");
  if (c.component.empty()) UsageError("--component: must not be empty");
  if (ServiceName(c.dynamo_namespace, c.component, false).empty()) {
    UsageError("--namespace/--component: the service name is empty after slugify");
  }
  if (!c.control_subject.empty() && !IsValidSubject(c.control_subject)) {
    UsageError(
        "--control-subject: expected a NATS subject (dot-separated tokens, no spaces), "
        "got '" +
        c.control_subject + "'");
  }

  c.events = *ParseEventForm(events);
  c.publisher_id_is_worker = publisher_id == "worker";
  c.etcd_endpoints = SplitList(etcd_endpoints);
  const bool envelope = IsEnvelopeForm(c.events);
  if (!std::isfinite(c.event_heartbeat_seconds)) {
    UsageError("--event-heartbeat: expected a number of seconds in [0, 1e6]");
  }
  if (c.zmq_port != 0 && c.events != EventForm::kZmq) {
    UsageError("--zmq-port: only with --events zmq");
  }
  if (c.events == EventForm::kZmqBroker) {
    c.zmq_broker_xsub = BrokerXsub(zmq_broker);
    if (c.zmq_broker_xsub.empty()) {
      UsageError("--zmq-broker: expected xsub=tcp://HOST:PORT,xpub=tcp://HOST:PORT, got '" +
                 zmq_broker + "'");
    }
  }
  if (c.forward_pass_metrics && !envelope) {
    UsageError(
        "--forward-pass-metrics: only with --events zmq, zmq-broker, nats or nats-namespace");
  }
  if (c.router_noise && !envelope && c.events != EventForm::kJsonActiveLoad) {
    UsageError(
        "--router-noise: only with --events zmq, zmq-broker, nats, nats-namespace or "
        "json-active-load");
  }
  if (c.publisher_id_is_worker && !envelope) {
    UsageError("--publisher-id: only with --events zmq, zmq-broker, nats or nats-namespace");
  }
  if (!c.uses_nats()) {
    if (!c.control_subject.empty()) UsageError("--control-subject: needs --nats-server");
    if (c.events != EventForm::kNone && !IsZmqForm(c.events)) {
      UsageError("--events " + events + ": needs --nats-server");
    }
  }
  // Before Dynamo 1.4 the names stood in subjects as they are.
  if (c.events == EventForm::kNatsNamespace || c.events == EventForm::kJsonActiveLoad ||
      c.events == EventForm::kJsonLoadEvent) {
    if (!IsSubjectToken(c.dynamo_namespace)) {
      UsageError("--namespace: --events " + events +
                 " puts it in a subject as it is: no '.', '*', '>' or spaces, got '" +
                 c.dynamo_namespace + "'");
    }
    if (c.forward_pass_metrics && !IsSubjectToken(c.component)) {
      UsageError("--component: --events " + events +
                 " puts it in a subject as it is: no '.', '*', '>' or spaces, got '" + c.component +
                 "'");
    }
  }
  if (!c.etcd_endpoints.empty()) {
    for (const std::string& endpoint : c.etcd_endpoints) {
      if (EtcdTarget(endpoint).empty()) {
        UsageError("--etcd-endpoints: expected http://HOST:PORT entries, got '" + endpoint + "'");
      }
    }
    // The v1/instances and v1/mdc keys hold the names as they are.
    if (c.dynamo_namespace.find('/') != std::string::npos ||
        c.component.find('/') != std::string::npos) {
      UsageError("--namespace/--component: no '/' in names registered in etcd");
    }
  } else if (c.no_revoke) {
    UsageError("--no-revoke: only with --etcd-endpoints");
  }
  if (c.write_trace.empty()) {
    for (const char* flag : {"--trace-seconds", "--trace-step"}) {
      if (app.count(flag) > 0) UsageError(std::string(flag) + ": only with --write-trace");
    }
  } else {
    // Nothing runs live while a trace is written.
    for (const char* flag : {"--events", "--metrics-port", "--control-subject", "--duration"}) {
      if (app.count(flag) > 0) {
        UsageError(std::string(flag) + ": not with --write-trace, which serves nothing and exits");
      }
    }
    // Leases are granted at run time only; the trace names its units from --lease-base.
    if (!c.etcd_endpoints.empty()) {
      UsageError("--etcd-endpoints: not with --write-trace, whose unit ids come from --lease-base");
    }
    // Replay takes each unit of the trace for one replica; a worker's data-parallel
    // ranks are units of their own but not replicas.
    if (c.dp_ranks > 1) {
      UsageError("--dp-ranks: --write-trace makes each worker one unit, so 1 rank only");
    }
    // A worker without block counts reports its KV usage as a fraction, which the
    // trace has no column for; and its slot total converts waiting requests to demand.
    if (c.kv_total_blocks == 0) UsageError("--kv-total-blocks: --write-trace needs > 0");
    if (c.slots_total == 0) UsageError("--slots-total: --write-trace needs > 0");
  }

  ParsedCommandLine parsed{std::move(c), std::nullopt};
  PatternResult pattern = ParseLoadPattern(parsed.config.pattern_spec);
  if (auto* error = std::get_if<PatternError>(&pattern)) {
    UsageError("--pattern: " + error->message);
  }
  parsed.pattern = std::get<LoadPattern>(std::move(pattern));
  return parsed;
}

// Set before the connection is closed on purpose, so that neither the close nor a reply
// cut short by it is reported as a failure.
std::atomic<bool> g_closing{false};

// The simulated fleet: identities, current load pattern and the NATS callbacks.
// Callbacks of different subscriptions run on different library threads, so the
// pattern is guarded and the pause switch is atomic; the identities never change.
class MockFleet {
 public:
  // `worker_ids`: one per simulated worker, its lease id.
  MockFleet(const Config& config, LoadPattern pattern, const std::vector<uint64_t>& worker_ids)
      : config_(config),
        service_(ServiceName(config.dynamo_namespace, config.component, config.legacy_names)),
        started_(Rfc3339Utc(std::chrono::system_clock::now())),
        pattern_(std::move(pattern)),
        pattern_start_(Clock::now()) {
    std::random_device rd;
    const uint64_t seed = (uint64_t{rd()} << 32) ^ rd() ^
                          static_cast<uint64_t>(Clock::now().time_since_epoch().count());
    workers_.reserve(config.workers);
    forms_.reserve(config.workers);
    by_instance_id_.reserve(config.workers);
    for (size_t i = 0; i < config.workers; ++i) {
      workers_.push_back(
          MakeWorkerIdentity(service_, config.endpoint, worker_ids[i], InstanceId(seed, i)));
      by_instance_id_.emplace(workers_.back().instance_id, i);
      const bool nested =
          config.form == FormOption::kNested || (config.form == FormOption::kMixed && i % 2 == 1);
      forms_.push_back(config.form == FormOption::kNull ? MetricsForm::kNull
                       : nested                         ? MetricsForm::kNested
                                                        : MetricsForm::kFlat);
    }
  }

  MockFleet(const MockFleet&) = delete;
  MockFleet& operator=(const MockFleet&) = delete;

  const std::string& service() const { return service_; }
  const std::vector<WorkerIdentity>& workers() const { return workers_; }
  bool paused() const { return paused_.load(std::memory_order_relaxed); }

  // Worker `index`'s figures now, as its stats replies and events carry them. Safe
  // from any thread.
  WorkerFigures FiguresNow(size_t index) {
    const double load = WorkerLoadShare(FleetLoadNow(), config_.spread, index, workers_.size());
    return FiguresForLoad(load, config_.kv_total_blocks, config_.slots_total);
  }

  // Each worker's load now, spread around the fleet load as in the stats replies.
  void LoadsNow(std::vector<double>& loads) {
    const double fleet_load = FleetLoadNow();
    loads.resize(workers_.size());
    for (size_t i = 0; i < workers_.size(); ++i) {
      loads[i] = WorkerLoadShare(fleet_load, config_.spread, i, workers_.size());
    }
  }

  // Subscribes to every verb subject the fleet answers, and the control subject.
  natsStatus Subscribe(natsConnection* nc) {
    std::vector<std::string> subjects = {"$SRV.PING", "$SRV.INFO", "$SRV.STATS",
                                         "$SRV.*." + service_, "$SRV.*." + service_ + ".*"};
    for (const std::string& subject : subjects) {
      natsSubscription* sub = nullptr;
      const natsStatus s = natsConnection_Subscribe(&sub, nc, subject.c_str(), &OnRequest, this);
      if (s != NATS_OK) return s;
      subs_.push_back(sub);
    }
    if (!config_.control_subject.empty()) {
      natsSubscription* sub = nullptr;
      const natsStatus s =
          natsConnection_Subscribe(&sub, nc, config_.control_subject.c_str(), &OnControl, this);
      if (s != NATS_OK) return s;
      subs_.push_back(sub);
    }
    return NATS_OK;
  }

  void Unsubscribe() {
    for (natsSubscription* sub : subs_) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    subs_.clear();
  }

 private:
  enum class Verb { kPing, kInfo, kStats };

  static void OnRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    static_cast<MockFleet*>(closure)->HandleRequest(nc, msg);
    natsMsg_Destroy(msg);
  }

  static void OnControl(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<MockFleet*>(closure);
    const char* data = natsMsg_GetData(msg);
    const int length = natsMsg_GetDataLength(msg);
    const std::string answer = self->HandleControl(
        data == nullptr || length <= 0 ? std::string_view()
                                       : std::string_view(data, static_cast<size_t>(length)));
    if (const char* reply = natsMsg_GetReply(msg); reply != nullptr && reply[0] != '\0') {
      natsConnection_Publish(nc, reply, answer.data(), static_cast<int>(answer.size()));
      natsConnection_FlushTimeout(nc, 2000);
    }
    natsMsg_Destroy(msg);
  }

  // `$SRV.<VERB>[.<service>[.<instance id>]]`: one reply per worker addressed.
  void HandleRequest(natsConnection* nc, natsMsg* msg) {
    const char* reply = natsMsg_GetReply(msg);
    if (reply == nullptr || reply[0] == '\0') return;  // nobody to answer
    std::vector<std::string_view> tokens;
    std::string_view rest(natsMsg_GetSubject(msg));
    while (true) {
      const size_t dot = rest.find('.');
      tokens.push_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    if (tokens.size() < 2 || tokens.size() > 4 || tokens[0] != "$SRV") return;
    Verb verb;
    if (tokens[1] == "PING") {
      verb = Verb::kPing;
    } else if (tokens[1] == "INFO") {
      verb = Verb::kInfo;
    } else if (tokens[1] == "STATS") {
      verb = Verb::kStats;
    } else {
      return;
    }
    if (tokens.size() >= 3 && tokens[2] != service_) return;
    size_t first = 0;
    size_t last = workers_.size();  // exclusive
    if (tokens.size() == 4) {
      const auto it = by_instance_id_.find(std::string(tokens[3]));
      if (it == by_instance_id_.end()) return;
      first = it->second;
      last = first + 1;
    }
    if (verb == Verb::kStats && paused_.load(std::memory_order_relaxed)) return;

    const double fleet_load = verb == Verb::kStats ? FleetLoadNow() : 0;
    std::string payload;
    natsStatus status = NATS_OK;
    for (size_t i = first; i < last && status == NATS_OK; ++i) {
      const WorkerIdentity& worker = workers_[i];
      switch (verb) {
        case Verb::kPing:
          payload = PingReply(worker);
          break;
        case Verb::kInfo:
          payload = InfoReply(worker);
          break;
        case Verb::kStats: {
          const double load = WorkerLoadShare(fleet_load, config_.spread, i, workers_.size());
          payload.clear();
          AppendStatsReply(payload, worker, started_,
                           FiguresForLoad(load, config_.kv_total_blocks, config_.slots_total),
                           forms_[i], config_.dp_ranks);
          break;
        }
      }
      status = natsConnection_Publish(nc, reply, payload.data(), static_cast<int>(payload.size()));
    }
    // Get the batch on the wire now rather than when the library's flusher wakes.
    if (status == NATS_OK) status = natsConnection_FlushTimeout(nc, 5000);
    if (status != NATS_OK && !g_closing.load()) {
      std::fprintf(stderr, "%s: answering %s failed: %s\n", kProgram, natsMsg_GetSubject(msg),
                   natsStatus_GetText(status));
    }
  }

  double FleetLoadNow() {
    std::lock_guard lock(pattern_mu_);
    const std::chrono::duration<double> t = Clock::now() - pattern_start_;
    return pattern_.At(t.count());
  }

  void SetPattern(LoadPattern pattern) {
    std::lock_guard lock(pattern_mu_);
    pattern_ = std::move(pattern);
    pattern_start_ = Clock::now();
  }

  // Control commands: `load V`, `pattern SPEC` (its time starts now), `pause`,
  // `resume`. Returns the reply text; never throws on bad input.
  std::string HandleControl(std::string_view text) {
    const auto is_space = [](char ch) {
      return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
    };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    const size_t space = text.find_first_of(" \t");
    const std::string_view command = text.substr(0, space);
    std::string_view argument =
        space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    while (!argument.empty() && is_space(argument.front())) argument.remove_prefix(1);

    if (command == "pause" || command == "resume") {
      if (!argument.empty()) return "error: " + std::string(command) + " takes no argument";
      paused_.store(command == "pause");
      return "ok";
    }
    if (command == "load") {
      const std::optional<double> v = ParseDecimal(argument);
      if (!v || *v < 0 || *v > 1) {
        return "error: load needs a number in [0, 1], got '" + Printable(argument) + "'";
      }
      SetPattern(LoadPattern::Constant(*v));
      return "ok";
    }
    if (command == "pattern") {
      PatternResult result = ParseLoadPattern(argument);
      if (auto* error = std::get_if<PatternError>(&result)) {
        return "error: " + Printable(error->message, 512);
      }
      SetPattern(std::get<LoadPattern>(std::move(result)));
      return "ok";
    }
    return "error: unknown command '" + Printable(command) +
           "', expected 'load V', 'pattern SPEC', 'pause' or 'resume'";
  }

  // Echoes text that may come from a control message safely: printable ASCII, at
  // most `limit` characters, so that a reply stays one readable line.
  static std::string Printable(std::string_view text, size_t limit = 64) {
    std::string out;
    for (const char ch : text.substr(0, limit)) out.push_back(ch >= ' ' && ch < 0x7f ? ch : '?');
    if (text.size() > limit) out.append("...");
    return out;
  }

  const Config config_;
  const std::string service_;
  const std::string started_;
  std::vector<WorkerIdentity> workers_;
  std::vector<MetricsForm> forms_;
  std::unordered_map<std::string, size_t> by_instance_id_;
  std::vector<natsSubscription*> subs_;

  std::mutex pattern_mu_;
  LoadPattern pattern_;  // guarded by pattern_mu_
  Clock::time_point pattern_start_;
  std::atomic<bool> paused_{false};
};

void OnDisconnected(natsConnection*, void*) {
  if (g_closing.load()) return;
  std::fprintf(stderr, "%s: disconnected from NATS, reconnecting\n", kProgram);
}

void OnReconnected(natsConnection*, void*) {
  std::fprintf(stderr, "%s: reconnected to NATS\n", kProgram);
}

void OnAsyncError(natsConnection*, natsSubscription*, natsStatus err, void*) {
  std::fprintf(stderr, "%s: NATS error: %s\n", kProgram, natsStatus_GetText(err));
}

// Waits up to `timeout` for SIGINT/SIGTERM (blocked in every thread, see main);
// true when one arrived.
bool WaitForSignal(const sigset_t& signals, std::chrono::nanoseconds timeout) {
  if (timeout < std::chrono::nanoseconds::zero()) timeout = std::chrono::nanoseconds::zero();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>((timeout - secs).count());
  while (true) {
    const int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0) return true;
    if (errno != EINTR) return false;  // EAGAIN: timed out
  }
}

// Sends the event plane's messages on the ZMQ PUB socket or the NATS connection. Used
// by the event thread alone (a ZMQ socket is not thread-safe). A run of failures is
// reported once, when it starts.
class EventSender {
 public:
  EventSender(zmq::socket_t* socket, natsConnection* nc) : socket_(socket), nc_(nc) {}

  void Send(const EventMessage& message) {
    std::string error;
    if (const auto* frames = std::get_if<ZmqMessage>(&message)) {
      try {
        for (size_t k = 0; k < frames->size(); ++k) {
          const zmq::send_flags flags = k + 1 < frames->size()
                                            ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                            : zmq::send_flags::dontwait;
          if (!socket_->send(zmq::buffer((*frames)[k]), flags)) {
            error = "the ZMQ socket would block";
            break;
          }
        }
      } catch (const zmq::error_t& e) {
        error = e.what();
      }
    } else {
      const auto& nats = std::get<NatsMessage>(message);
      const natsStatus s = natsConnection_Publish(nc_, nats.subject.c_str(), nats.body.data(),
                                                  static_cast<int>(nats.body.size()));
      if (s != NATS_OK) error = natsStatus_GetText(s);
    }
    if (error.empty()) {
      failing_ = false;
    } else if (!failing_ && !g_closing.load()) {
      failing_ = true;
      std::fprintf(stderr, "%s: publishing an event failed: %s\n", kProgram, error.c_str());
    }
  }

 private:
  zmq::socket_t* socket_;
  natsConnection* nc_;
  bool failing_ = false;
};

// The thread that publishes the fleet's events: every tick it asks the EventPlane what
// is due at the workers' current loads and sends it; nothing while the fleet is paused.
class EventLoop {
 public:
  static constexpr auto kTick = std::chrono::milliseconds(100);

  EventLoop(MockFleet& fleet, EventPlane plane, EventSender sender)
      : fleet_(fleet), plane_(std::move(plane)), sender_(sender) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~EventLoop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

 private:
  void Loop() {
    std::vector<double> loads;
    std::vector<EventMessage> messages;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      if (!fleet_.paused()) {
        fleet_.LoadsNow(loads);
        const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        plane_.Collect(Clock::now(), static_cast<uint64_t>(wall.count()), loads, messages);
        for (const EventMessage& message : messages) sender_.Send(message);
        messages.clear();
      }
      lock.lock();
      wake_.wait_for(lock, kTick, [this] { return stopping_; });
    }
  }

  MockFleet& fleet_;
  EventPlane plane_;
  EventSender sender_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

// Who the simulated workers are: their ids (leases) and event publisher ids.
struct FleetIdentities {
  std::vector<uint64_t> worker_ids;
  std::vector<int64_t> leases;  // with etcd: one per worker, then the router's if any
  int64_t router_lease = 0;     // with etcd and router noise on a registered channel
  std::vector<EventWorker> event_workers;
  uint64_t router_publisher_id = 0;
};

// Event forms whose publishers register event channels in etcd (Dynamo 1.4 on).
bool RegistersChannels(EventForm form) {
  return form == EventForm::kZmq || form == EventForm::kNats;
}

// Random, distinct, non-zero 53-bit event publisher ids (Dynamo's newest form), or
// the worker ids themselves (--publisher-id worker).
void ChoosePublisherIds(const Config& config, FleetIdentities& ids) {
  std::random_device rd;
  std::mt19937_64 random((uint64_t{rd()} << 32) ^ rd() ^
                         static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<uint64_t> id53(1, (uint64_t{1} << 53) - 1);
  std::unordered_set<uint64_t> used;
  const auto fresh = [&] {
    while (true) {
      const uint64_t id = id53(random);
      if (used.insert(id).second) return id;
    }
  };
  const bool worker = config.publisher_id_is_worker;
  for (const uint64_t worker_id : ids.worker_ids) {
    EventWorker w;
    w.worker_id = worker_id;
    w.kv_publisher_id = worker ? worker_id : fresh();
    if (config.forward_pass_metrics) w.fpm_publisher_id = worker ? worker_id : fresh();
    ids.event_workers.push_back(w);
  }
  if (config.router_noise) {
    ids.router_publisher_id =
        worker && ids.router_lease != 0 ? static_cast<uint64_t>(ids.router_lease) : fresh();
  }
}

// Grants one lease per worker (and one for the router when it registers a channel):
// the lease ids become the worker ids. Reports and returns false on failure.
bool GrantLeases(EtcdRegistration& etcd, const Config& config, FleetIdentities& ids) {
  const size_t count = config.workers + (config.router_noise && RegistersChannels(config.events));
  for (size_t i = 0; i < count; ++i) {
    const absl::StatusOr<int64_t> lease = etcd.Grant();
    if (!lease.ok()) {
      std::fprintf(stderr, "%s: cannot grant an etcd lease: %s\n", kProgram,
                   std::string(lease.status().message()).c_str());
      return false;
    }
    ids.leases.push_back(*lease);
    if (i < config.workers) {
      ids.worker_ids.push_back(static_cast<uint64_t>(*lease));
    } else {
      ids.router_lease = *lease;
    }
  }
  return true;
}

// Puts every worker's records with its lease: instance, model card and, for the forms
// that have them, its event channels (and the router's). Reports and returns false on
// the first failure.
bool RegisterFleet(EtcdRegistration& etcd, const Config& config, const MockFleet& fleet,
                   const FleetIdentities& ids, const std::string& zmq_endpoint) {
  const DiscoveryTarget target{config.dynamo_namespace, config.component, config.endpoint};
  const ModelCardFigures card{config.kv_total_blocks, config.slots_total, config.dp_ranks};
  const auto channel = [&](EventScope scope, std::string_view topic, uint64_t publisher_id) {
    ChannelSpec spec;
    spec.scope = scope;
    spec.topic = topic;
    spec.publisher_id = publisher_id;
    if (config.events == EventForm::kZmq) {
      spec.kind = ChannelKind::kZmq;
      spec.address = zmq_endpoint;
    } else {
      spec.kind = ChannelKind::kNats;
      spec.address = EventSubjectPrefix(scope, config.dynamo_namespace, config.component,
                                        config.endpoint, true);
    }
    return EventChannelEntry(target, spec);
  };
  const auto put = [&](int64_t lease, const DiscoveryEntry& entry) {
    const absl::Status status = etcd.Put(lease, entry.key, entry.value);
    if (!status.ok()) {
      std::fprintf(stderr, "%s: cannot put %s in etcd: %s\n", kProgram, entry.key.c_str(),
                   std::string(status.message()).c_str());
    }
    return status.ok();
  };
  const bool channels = RegistersChannels(config.events);
  for (size_t i = 0; i < config.workers; ++i) {
    const int64_t lease = ids.leases[i];
    const EventWorker& worker = ids.event_workers[i];
    if (!put(lease, InstanceEntry(target, worker.worker_id, fleet.workers()[i].load.subject)) ||
        !put(lease, ModelCardEntry(target, worker.worker_id, card))) {
      return false;
    }
    if (channels &&
        !put(lease, channel(EventScope::kEndpoint, kKvMetricsTopic, worker.kv_publisher_id))) {
      return false;
    }
    if (channels && config.forward_pass_metrics &&
        !put(lease,
             channel(EventScope::kComponent, kForwardPassMetricsTopic, worker.fpm_publisher_id))) {
      return false;
    }
  }
  if (ids.router_lease != 0 &&
      !put(ids.router_lease,
           channel(EventScope::kEndpoint, kKvMetricsTopic, ids.router_publisher_id))) {
    return false;
  }
  return true;
}

std::string HexList(const std::vector<uint64_t>& ids) {
  if (ids.empty()) return "-";
  std::string out;
  for (const uint64_t id : ids) {
    if (!out.empty()) out.push_back(',');
    out.append(LeaseHex(id));
  }
  return out;
}

// The one line a test waits for and parses:
//   ready workers=N service=S events=FORM zmq=ENDPOINT metrics=http://127.0.0.1:PORT
//         lease_ttl=SECONDS worker_ids=H,... publisher_ids=H,... fpm_publisher_ids=H,...
//         router_publisher_id=H
// ids in lowercase hex without padding, in worker order; `-` for what does not apply.
void PrintReady(const Config& config, const MockFleet& fleet, const FleetIdentities& ids,
                const std::string& zmq_endpoint, const std::string& metrics_url,
                int64_t lease_ttl) {
  std::vector<uint64_t> publishers, fpm_publishers;
  if (IsEnvelopeForm(config.events)) {
    for (const EventWorker& w : ids.event_workers) {
      publishers.push_back(w.kv_publisher_id);
      if (config.forward_pass_metrics) fpm_publishers.push_back(w.fpm_publisher_id);
    }
  }
  const std::string router = config.router_noise && IsEnvelopeForm(config.events)
                                 ? LeaseHex(ids.router_publisher_id)
                                 : "-";
  std::printf(
      "ready workers=%zu service=%s events=%s zmq=%s metrics=%s lease_ttl=%s worker_ids=%s "
      "publisher_ids=%s fpm_publisher_ids=%s router_publisher_id=%s\n",
      config.workers, fleet.service().c_str(), std::string(EventFormName(config.events)).c_str(),
      zmq_endpoint.empty() ? "-" : zmq_endpoint.c_str(),
      metrics_url.empty() ? "-" : metrics_url.c_str(),
      lease_ttl > 0 ? std::to_string(lease_ttl).c_str() : "-", HexList(ids.worker_ids).c_str(),
      HexList(publishers).c_str(), HexList(fpm_publishers).c_str(), router.c_str());
  std::fflush(stdout);
}

// The /metrics pages: worker i's at /metrics/<i>, worker 0's also at /metrics (so that a
// one-worker mock is exactly one pod). A route runs on a server thread and reads the
// fleet's load, which is thread-safe.
std::map<std::string, observability::HttpRoute> MetricsRoutes(const Config& config,
                                                              MockFleet& fleet) {
  MetricsPageLabels labels;
  // The names live in `config`, which outlives the server.
  labels.dynamo_namespace = config.dynamo_namespace;
  labels.component = config.component;
  labels.endpoint = config.endpoint;
  const auto page = [&fleet, &config, labels](size_t index) -> observability::HttpRoute {
    return [&fleet, &config, labels, index] {
      // The content type of the text format, version 0.0.4.
      return observability::HttpResponse{
          "text/plain; version=0.0.4; charset=utf-8",
          WorkerMetricsPage(fleet.FiguresNow(index), config.dp_ranks, labels)};
    };
  };
  std::map<std::string, observability::HttpRoute> routes;
  routes.emplace("/metrics", page(0));
  for (size_t i = 0; i < config.workers; ++i) {
    routes.emplace("/metrics/" + std::to_string(i), page(i));
  }
  return routes;
}

enum class Connected { kYes, kFailed, kStopped };

// Connects to NATS, retrying for kConnectGiveUpSeconds; kStopped when a stop signal
// came meanwhile.
Connected ConnectNats(const Config& config, natsOptions* opts, const sigset_t& stop_signals,
                      natsConnection** nc) {
  const auto give_up = Clock::now() + std::chrono::seconds(kConnectGiveUpSeconds);
  while (true) {
    const natsStatus s = natsConnection_Connect(nc, opts);
    if (s == NATS_OK) return Connected::kYes;
    *nc = nullptr;
    if (Clock::now() >= give_up) {
      std::fprintf(stderr, "%s: cannot connect to %s within %d s: %s\n", kProgram,
                   mk::nats::RedactServerList(config.nats_server).c_str(), kConnectGiveUpSeconds,
                   natsStatus_GetText(s));
      return Connected::kFailed;
    }
    if (WaitForSignal(stop_signals, std::chrono::milliseconds(250))) return Connected::kStopped;
  }
}

// The worker ids when no etcd grants them: --lease-base + i.
std::vector<uint64_t> LeaseBaseIds(const Config& config) {
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < config.workers; ++i) ids.push_back(config.lease_base + i);
  return ids;
}

// --write-trace: the header, then the rows of times 0, step, 2 step, ... <= seconds.
// Returns the exit code; a file that could not be written whole is removed, so that
// no truncated trace is taken for a whole one.
int WriteTrace(const Config& config, const LoadPattern& pattern) {
  const bool to_stdout = config.write_trace == "-";
  const std::string where = to_stdout ? "stdout" : config.write_trace;
  std::FILE* file = to_stdout ? stdout : std::fopen(config.write_trace.c_str(), "w");
  if (file == nullptr) {
    std::fprintf(stderr, "%s: --write-trace: cannot create %s: %s\n", kProgram, where.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const UnitTraceFleet fleet{LeaseBaseIds(config), config.spread, config.kv_total_blocks,
                             config.slots_total};
  std::string rows(kUnitTraceHeader);
  bool ok = true;
  for (uint64_t t = 0; ok && t <= config.trace_seconds; t += config.trace_step) {
    AppendUnitTraceRows(rows, t, pattern, fleet);
    ok = std::fwrite(rows.data(), 1, rows.size(), file) == rows.size();
    rows.clear();
  }
  int error = ok ? 0 : errno;
  if ((to_stdout ? std::fflush(file) : std::fclose(file)) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok) {
    std::fprintf(stderr, "%s: --write-trace: cannot write %s: %s\n", kProgram, where.c_str(),
                 std::strerror(error));
    if (!to_stdout) std::remove(config.write_trace.c_str());
    return 1;
  }
  return 0;
}

int Run(int argc, char** argv) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv);
  const Config& config = parsed.config;
  if (!config.write_trace.empty()) return WriteTrace(config, *parsed.pattern);

  // Block the stop signals before the NATS, ZMQ and gRPC libraries start their
  // threads, so they all inherit the mask and the main thread alone collects the
  // signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A shell starting us in the background sets SIGINT to ignored, and an ignored
  // signal is discarded rather than left pending for sigtimedwait.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);

  // The event plane's PUB socket: bound (direct) or connected to the broker's XSUB.
  std::optional<zmq::context_t> zmq_context;
  std::optional<zmq::socket_t> pub;
  std::string zmq_endpoint;
  if (IsZmqForm(config.events)) {
    try {
      zmq_context.emplace(1);
      pub.emplace(*zmq_context, zmq::socket_type::pub);
      pub->set(zmq::sockopt::linger, 500);
      pub->set(zmq::sockopt::sndhwm, 100000);
      if (config.events == EventForm::kZmq) {
        pub->bind("tcp://127.0.0.1:" +
                  (config.zmq_port == 0 ? std::string("*") : std::to_string(config.zmq_port)));
        zmq_endpoint = pub->get(zmq::sockopt::last_endpoint);
      } else {
        pub->connect(config.zmq_broker_xsub);
        zmq_endpoint = config.zmq_broker_xsub;
      }
    } catch (const zmq::error_t& e) {
      std::fprintf(stderr, "%s: cannot set up the ZMQ PUB socket: %s\n", kProgram, e.what());
      return 1;
    }
  }

  // Worker ids: etcd leases, or --lease-base + i.
  FleetIdentities ids;
  std::unique_ptr<EtcdRegistration> etcd;
  // Leaves etcd as a clean stop would (or as a crash would, with --no-revoke).
  const auto release_etcd = [&] {
    if (!etcd) return;
    const absl::Status status = etcd->Stop(config.no_revoke ? EtcdRegistration::StopMode::kAbandon
                                                            : EtcdRegistration::StopMode::kRevoke);
    if (!status.ok()) {
      std::fprintf(stderr, "%s: cannot remove the registration from etcd: %s\n", kProgram,
                   std::string(status.message()).c_str());
    }
    etcd.reset();
  };
  if (!config.etcd_endpoints.empty()) {
    absl::StatusOr<std::unique_ptr<EtcdRegistration>> created =
        EtcdRegistration::Create({config.etcd_endpoints, config.lease_ttl_seconds});
    if (!created.ok()) {
      std::fprintf(stderr, "%s: --etcd-endpoints: %s\n", kProgram,
                   std::string(created.status().message()).c_str());
      return 2;
    }
    etcd = std::move(*created);
    if (!GrantLeases(*etcd, config, ids)) {
      release_etcd();
      return 1;
    }
  } else {
    ids.worker_ids = LeaseBaseIds(config);
  }
  ChoosePublisherIds(config, ids);
  const int64_t lease_ttl = etcd ? etcd->granted_ttl_seconds() : 0;

  MockFleet fleet(config, std::move(*parsed.pattern), ids.worker_ids);

  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  if (config.uses_nats()) {
    if (nats_Open(-1) != NATS_OK) {
      std::fprintf(stderr, "%s: cannot initialise the NATS library\n", kProgram);
      release_etcd();
      return 1;
    }
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, config.nats_server.c_str());
    natsOptions_SetName(opts, kProgram);
    natsOptions_SetTimeout(opts, 2000);
    natsOptions_SetMaxReconnect(opts, -1);  // a test may restart the server under us
    natsOptions_SetReconnectWait(opts, 250);
    natsOptions_SetDisconnectedCB(opts, &OnDisconnected, nullptr);
    natsOptions_SetReconnectedCB(opts, &OnReconnected, nullptr);
    natsOptions_SetErrorHandler(opts, &OnAsyncError, nullptr);

    const Connected connected = ConnectNats(config, opts, stop_signals, &nc);
    if (connected != Connected::kYes) {
      natsOptions_Destroy(opts);
      nats_Close();
      release_etcd();
      return connected == Connected::kStopped ? 0 : 1;
    }
    natsStatus s = fleet.Subscribe(nc);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 5000);
    if (s != NATS_OK) {
      std::fprintf(stderr, "%s: cannot subscribe: %s\n", kProgram, natsStatus_GetText(s));
      fleet.Unsubscribe();
      natsConnection_Destroy(nc);
      natsOptions_Destroy(opts);
      nats_CloseAndWait(5000);
      release_etcd();
      return 1;
    }
  }
  const auto close_nats = [&] {
    if (nc == nullptr) return;
    g_closing.store(true);
    fleet.Unsubscribe();
    natsConnection_Close(nc);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    // Waits for the library's delivery threads, which call into `fleet`.
    nats_CloseAndWait(5000);
    nc = nullptr;
  };

  // Serving: the records go into etcd, then the events start.
  if (etcd && !RegisterFleet(*etcd, config, fleet, ids, zmq_endpoint)) {
    release_etcd();
    close_nats();
    return 1;
  }
  std::unique_ptr<EventLoop> events;
  if (config.events != EventForm::kNone) {
    EventPlaneSettings settings;
    settings.form = config.events;
    settings.dynamo_namespace = config.dynamo_namespace;
    settings.component = config.component;
    settings.endpoint = config.endpoint;
    settings.dp_ranks = config.dp_ranks;
    settings.kv_total_blocks = config.kv_total_blocks;
    settings.slots_total = config.slots_total;
    settings.heartbeat = std::chrono::milliseconds(
        static_cast<int64_t>(std::llround(config.event_heartbeat_seconds * 1000)));
    settings.forward_pass_metrics = config.forward_pass_metrics;
    settings.router_noise = config.router_noise;
    std::random_device rd;
    EventPlane plane(std::move(settings), ids.event_workers, ids.router_publisher_id,
                     (uint64_t{rd()} << 32) ^ rd());
    events = std::make_unique<EventLoop>(fleet, std::move(plane),
                                         EventSender(pub ? &*pub : nullptr, nc));
  }
  std::unique_ptr<observability::HttpServer> metrics;
  std::string metrics_url;
  if (config.metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<observability::HttpServer>> started =
        observability::HttpServer::Start(config.metrics_host, config.metrics_port,
                                         MetricsRoutes(config, fleet));
    if (!started.ok()) {
      std::fprintf(stderr, "%s: --metrics-port: %s\n", kProgram,
                   std::string(started.status().message()).c_str());
      events.reset();
      release_etcd();
      close_nats();
      return 1;
    }
    metrics = std::move(*started);
    metrics_url = "http://" + config.metrics_host + ":" + std::to_string(metrics->port());
  }
  PrintReady(config, fleet, ids, zmq_endpoint, metrics_url, lease_ttl);

  if (config.duration_seconds > 0) {
    const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(config.duration_seconds));
    while (Clock::now() < end) {
      const auto left = end - Clock::now();
      if (WaitForSignal(stop_signals, std::min<Clock::duration>(left, std::chrono::seconds(1)))) {
        break;
      }
    }
  } else {
    while (!WaitForSignal(stop_signals, std::chrono::seconds(3600))) {
    }
  }

  // A clean stop: the pages and events end, the records leave etcd, then the
  // connections close.
  g_closing.store(true);
  metrics.reset();
  events.reset();
  release_etcd();
  close_nats();
  pub.reset();
  zmq_context.reset();
  return 0;
}

}  // namespace
}  // namespace mk::mock

int main(int argc, char** argv) { return mk::mock::Run(argc, argv); }
