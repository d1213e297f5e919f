// dynamo-mock-worker: one process standing in for K Dynamo LLM workers of one
// target, answering the NATS micro PING / INFO / STATS verbs with the real wire
// format so that the scaler can be driven in demos, integration tests and
// benchmarks. A handful of subscriptions serve the whole simulated fleet: each
// request is answered with one reply per simulated worker, then flushed.
#include <nats/nats.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "common/decimal.h"
#include "dynamo/service_name.h"
#include "mock_worker/load_pattern.h"
#include "mock_worker/worker_payloads.h"
#include "nats/nats_connection.h"

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

struct ParsedCommandLine {
  Config config;
  std::optional<LoadPattern> pattern;
};

ParsedCommandLine ParseCommandLine(int argc, char** argv) {
  Config c;
  std::string form = "flat";
  std::string lease_base = "7587867c5a2d0000";
  CLI::App app{
      "Simulates K NVIDIA Dynamo LLM workers of one target on NATS: answers $SRV.PING, "
      "$SRV.INFO and $SRV.STATS with ForwardPassMetrics that follow a load pattern.",
      kProgram};
  app.option_defaults()->always_capture_default();
  app.add_option("--nats-server", c.nats_server, "NATS server URL(s), comma separated")
      ->envname("NATS_SERVER");
  app.add_option("--namespace", c.dynamo_namespace, "Dynamo namespace")->envname("DYN_NAMESPACE");
  app.add_option("--component", c.component, "Dynamo component");
  app.add_option("--endpoint", c.endpoint, "Endpoint whose stats carry ForwardPassMetrics");
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
  MockFleet(const Config& config, LoadPattern pattern)
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
      workers_.push_back(MakeWorkerIdentity(service_, config.endpoint, config.lease_base + i,
                                            InstanceId(seed, i)));
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

int Run(int argc, char** argv) {
  ParsedCommandLine parsed = ParseCommandLine(argc, argv);
  const Config& config = parsed.config;

  // Block the stop signals before the NATS library starts its threads, so they all
  // inherit the mask and the main thread alone collects the signals.
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

  if (nats_Open(-1) != NATS_OK) {
    std::fprintf(stderr, "%s: cannot initialise the NATS library\n", kProgram);
    return 1;
  }
  MockFleet fleet(config, std::move(*parsed.pattern));

  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, config.nats_server.c_str());
  natsOptions_SetName(opts, kProgram);
  natsOptions_SetTimeout(opts, 2000);
  natsOptions_SetMaxReconnect(opts, -1);  // a test may restart the server under us
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetDisconnectedCB(opts, &OnDisconnected, nullptr);
  natsOptions_SetReconnectedCB(opts, &OnReconnected, nullptr);
  natsOptions_SetErrorHandler(opts, &OnAsyncError, nullptr);

  natsConnection* nc = nullptr;
  const auto give_up = Clock::now() + std::chrono::seconds(kConnectGiveUpSeconds);
  while (true) {
    const natsStatus s = natsConnection_Connect(&nc, opts);
    if (s == NATS_OK) break;
    nc = nullptr;
    if (Clock::now() >= give_up) {
      std::fprintf(stderr, "%s: cannot connect to %s within %d s: %s\n", kProgram,
                   mk::nats::RedactServerList(config.nats_server).c_str(), kConnectGiveUpSeconds,
                   natsStatus_GetText(s));
      natsOptions_Destroy(opts);
      nats_Close();
      return 1;
    }
    if (WaitForSignal(stop_signals, std::chrono::milliseconds(250))) {
      natsOptions_Destroy(opts);
      nats_Close();
      return 0;
    }
  }

  natsStatus s = fleet.Subscribe(nc);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 5000);
  if (s != NATS_OK) {
    std::fprintf(stderr, "%s: cannot subscribe: %s\n", kProgram, natsStatus_GetText(s));
    fleet.Unsubscribe();
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_CloseAndWait(5000);
    return 1;
  }
  std::printf("ready workers=%zu service=%s\n", config.workers, fleet.service().c_str());
  std::fflush(stdout);

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

  g_closing.store(true);
  fleet.Unsubscribe();
  natsConnection_Close(nc);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  // Waits for the library's delivery threads, which call into `fleet`.
  nats_CloseAndWait(5000);
  return 0;
}

}  // namespace
}  // namespace mk::mock

int main(int argc, char** argv) { return mk::mock::Run(argc, argv); }
