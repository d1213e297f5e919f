// Micro-benchmarks of the scaler's pure hot paths: decoding one $SRV.STATS reply
// (both ForwardPassMetrics forms), decoding one ZMQ ActiveLoad event, aggregating a fleet into its
// four figures, the per-round bookkeeping of a collector, and the per-RPC work of GetMetrics
// outside gRPC (metadata parsing, answer, trigger log).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dynamo/active_load.h"
#include "dynamo/event_envelope.h"
#include "dynamo/service_name.h"
#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "externalscaler.pb.h"
#include "fleet/fleet_figures.h"
#include "fleet/fleet_model.h"
#include "fleet/worker_table.h"
#include "keda/metric_answer.h"
#include "keda/rpc_counters.h"
#include "keda/trigger_config.h"
#include "keda/trigger_log.h"

namespace {

std::string ReadFile(const std::string& name) {
  const std::string path = std::string(MK_TEST_DATA_DIR) + "/stats/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string body = text.str();
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body;
}

// Decodes one reply; fails the benchmark unless it yields exactly one unit.
void DecodeReply(benchmark::State& state, const std::string& file, const char* component,
                 const char* endpoint) {
  const std::string reply = ReadFile(file);
  mk::dynamo::StatsDecoder decoder(mk::dynamo::EndpointMatcher("dynamo", component, endpoint,
                                                               /*accept_legacy_names=*/false));
  if (decoder.Decode(reply).units.size() != 1) {
    state.SkipWithError(("no unit decoded from " + file).c_str());
    return;
  }
  for (auto _ : state) {
    mk::dynamo::DecodedReply decoded = decoder.Decode(reply);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(reply.size()));
}

void BM_DecodeStatsFlat(benchmark::State& state) {
  DecodeReply(state, "flat_v0.3.json", "llm-worker", "kv-router");
}
BENCHMARK(BM_DecodeStatsFlat);

void BM_DecodeStatsNested(benchmark::State& state) {
  DecodeReply(state, "nested_v0.4.json", "backend", "load_metrics");
}
BENCHMARK(BM_DecodeStatsNested);

// The bytes of a hex fixture in tests/data/events/.
std::string ReadHexFile(const std::string& name) {
  const std::string path = std::string(MK_TEST_DATA_DIR) + "/events/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string hex((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.pop_back();
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// One ZMQ event of a worker's ActiveLoad per iteration, as the ZMQ event source
// receives it: four frames -> envelope -> ActiveLoad (decoding only, not applying).
void BM_DecodeZmqActiveLoad(benchmark::State& state) {
  std::vector<std::string> frames;
  for (int i = 0; i < 4; ++i) {
    frames.push_back(ReadHexFile("zmq_activeload_v2_worker.frame" + std::to_string(i) + ".hex"));
  }
  const std::vector<std::string_view> views(frames.begin(), frames.end());
  const auto check = mk::dynamo::DecodeZmqEvent(views);
  if (!check.ok() || !mk::dynamo::DecodeActiveLoad(check.record->envelope.payload).ok()) {
    state.SkipWithError("the ZMQ fixture does not decode");
    return;
  }
  for (auto _ : state) {
    const mk::dynamo::Decoded<mk::dynamo::ZmqEvent> event = mk::dynamo::DecodeZmqEvent(views);
    mk::dynamo::Decoded<mk::dynamo::ActiveLoad> load =
        mk::dynamo::DecodeActiveLoad(event.record->envelope.payload);
    benchmark::DoNotOptimize(load);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(frames[3].size()));
}
BENCHMARK(BM_DecodeZmqActiveLoad);

// One event per iteration all the way into the fleet model, as the ZMQ source and
// the collector do it: four frames -> envelope -> ActiveLoad -> the unit's figures,
// over a fleet of `n` registered workers (each event for the next worker).
void BM_DecodeAndApplyZmqActiveLoad(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<std::string> frames;
  for (int i = 0; i < 4; ++i) {
    frames.push_back(ReadHexFile("zmq_activeload_v2_worker.frame" + std::to_string(i) + ".hex"));
  }
  const std::vector<std::string_view> views(frames.begin(), frames.end());
  const auto check = mk::dynamo::DecodeZmqEvent(views);
  const auto first = mk::dynamo::DecodeActiveLoad(check.record->envelope.payload);
  if (!first.ok()) {
    state.SkipWithError("the ZMQ fixture does not decode");
    return;
  }
  mk::fleet::FleetModel model(n + 1, std::chrono::seconds(15));
  std::vector<mk::fleet::Registration> registrations;
  for (size_t i = 0; i < n; ++i) {
    mk::fleet::Registration r;
    r.instance_id = first.record->worker_id + i;
    r.total_kv_blocks = 8192;
    registrations.push_back(r);
  }
  const auto now = std::chrono::steady_clock::now();
  model.SetRegistrations(registrations, now);
  size_t i = 0;
  for (auto _ : state) {
    const mk::dynamo::Decoded<mk::dynamo::ZmqEvent> event = mk::dynamo::DecodeZmqEvent(views);
    mk::dynamo::Decoded<mk::dynamo::ActiveLoad> load =
        mk::dynamo::DecodeActiveLoad(event.record->envelope.payload);
    load.record->worker_id += i;
    benchmark::DoNotOptimize(model.ApplyActiveLoad(*load.record, now));
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DecodeAndApplyZmqActiveLoad)->Arg(1000)->Arg(10000);

// What one snapshot of an event-fed target costs: the model's units at a moment and
// their fleet figures, for `n` registered workers that have all published.
void BM_EventSnapshot(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  mk::fleet::FleetModel model(n, std::chrono::seconds(15));
  std::vector<mk::fleet::Registration> registrations;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    mk::fleet::Registration r;
    r.instance_id = 1000 + i;
    r.total_kv_blocks = 8192;
    registrations.push_back(r);
  }
  model.SetRegistrations(registrations, now);
  for (size_t i = 0; i < n; ++i) {
    mk::dynamo::ActiveLoad load;
    load.worker_id = 1000 + i;
    load.kv_used_blocks = i % 8192;
    model.ApplyActiveLoad(load, now);
  }
  for (auto _ : state) {
    const std::vector<mk::fleet::Unit> units = model.Units(now);
    mk::fleet::FleetFigures figures = mk::fleet::Aggregate(units);
    benchmark::DoNotOptimize(figures);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EventSnapshot)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// A fleet of `n` units with varied, valid figures (some without a KV total, some
// without a slot total), as the decoder would produce them.
std::vector<mk::dynamo::WorkerLoad> MakeReports(size_t n) {
  std::mt19937_64 random(42);
  std::uniform_int_distribution<uint64_t> blocks(0, 8192), slots(0, 64), waiting(0, 20);
  std::vector<mk::dynamo::WorkerLoad> units(n);
  for (size_t i = 0; i < n; ++i) {
    mk::dynamo::WorkerLoad& u = units[i];
    u.key.lease_id = 0x7587867c5a2d0000ULL + i;
    u.kv_total_blocks = i % 17 == 0 ? 0 : 8192;
    u.kv_active_blocks = u.kv_total_blocks == 0 ? 0 : blocks(random);
    u.gpu_cache_usage_perc = static_cast<double>(blocks(random)) / 8192.0;
    u.request_total_slots = i % 13 == 0 ? 0 : 64;
    u.request_active_slots = u.request_total_slots == 0 ? 0 : slots(random);
    u.num_requests_waiting = waiting(random);
  }
  return units;
}

// The same fleet as the fleet model holds it: every unit reporting.
std::vector<mk::fleet::Unit> MakeFleet(size_t n) {
  std::vector<mk::fleet::Unit> units;
  for (const mk::dynamo::WorkerLoad& report : MakeReports(n)) {
    units.push_back(mk::fleet::Unit::Reporting(report));
  }
  return units;
}

void BM_Aggregate(benchmark::State& state) {
  const std::vector<mk::fleet::Unit> units = MakeFleet(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    mk::fleet::FleetFigures figures = mk::fleet::Aggregate(units);
    benchmark::DoNotOptimize(figures);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Aggregate)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// What a collector does with a round's units besides scraping: record every unit
// in the worker table, evict the silent, copy the units into a snapshot and
// aggregate them, and list the units the next round expects.
void BM_RoundBookkeeping(benchmark::State& state) {
  const std::vector<mk::dynamo::WorkerLoad> reports =
      MakeReports(static_cast<size_t>(state.range(0)));
  mk::fleet::WorkerTable table;
  auto now = std::chrono::steady_clock::now();
  constexpr std::chrono::seconds kStaleness(15);
  table.Record(reports, {}, now);
  for (auto _ : state) {
    now += std::chrono::seconds(1);
    table.Record(reports, {}, now);
    benchmark::DoNotOptimize(table.EvictSilentSince(now - kStaleness));
    std::vector<mk::fleet::Unit> units = table.Units(now, kStaleness);
    mk::fleet::FleetFigures figures = mk::fleet::Aggregate(units);
    benchmark::DoNotOptimize(figures);
    benchmark::DoNotOptimize(table.ExpectedReplies());
  }
}
BENCHMARK(BM_RoundBookkeeping)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

mk::keda::TriggerDefaults Defaults() {
  return {mk::fleet::Target{"dynamo", "llm-worker", "kv-router"}, 0.7};
}

// The metadata a KEDA trigger sends: KEDA's own keys plus the scaler's.
externalscaler::GetMetricsRequest MetricsRequest() {
  externalscaler::GetMetricsRequest request;
  request.set_metricname("llm_load_avg");
  externalscaler::ScaledObjectRef* ref = request.mutable_scaledobjectref();
  ref->set_name("vllm-worker");
  ref->set_namespace_("dynamo");
  auto& metadata = *ref->mutable_scalermetadata();
  metadata["scalerAddress"] = "metrics-keda.dynamo.svc:9090";
  metadata["metricName"] = "llm_load_avg";
  metadata["threshold"] = "0.7";
  metadata["activationThreshold"] = "0.1";
  metadata["component"] = "llm-worker";
  metadata["endpoint"] = "kv-router";
  return request;
}

void BM_ParseTriggerMetadata(benchmark::State& state) {
  const externalscaler::GetMetricsRequest request = MetricsRequest();
  const mk::keda::TriggerDefaults defaults = Defaults();
  for (auto _ : state) {
    auto config =
        mk::keda::ParseTriggerMetadata(request.scaledobjectref().scalermetadata(), defaults);
    benchmark::DoNotOptimize(config);
  }
}
BENCHMARK(BM_ParseTriggerMetadata);

void BM_AnswerFor(benchmark::State& state) {
  const externalscaler::GetMetricsRequest request = MetricsRequest();
  const auto config =
      *mk::keda::ParseTriggerMetadata(request.scaledobjectref().scalermetadata(), Defaults());
  const mk::fleet::FleetFigures figures = mk::fleet::Aggregate(MakeFleet(1000));
  for (auto _ : state) {
    auto answer = mk::keda::AnswerFor(config, figures);
    benchmark::DoNotOptimize(answer);
  }
}
BENCHMARK(BM_AnswerFor);

// The trigger log's bookkeeping, done on every GetMetrics/IsActive answer.
void BM_TriggerLogRecord(benchmark::State& state) {
  const externalscaler::GetMetricsRequest request = MetricsRequest();
  const auto& ref = request.scaledobjectref();
  const absl::StatusOr<mk::keda::TriggerConfig> config =
      mk::keda::ParseTriggerMetadata(ref.scalermetadata(), Defaults());
  const mk::fleet::FleetFigures figures = mk::fleet::Aggregate(MakeFleet(1000));
  const std::optional<mk::keda::MetricAnswer> answer = *mk::keda::AnswerFor(*config, figures);
  mk::keda::TriggerLog log;
  const std::string scaled_object = ref.namespace_() + "/" + ref.name();
  for (auto _ : state) {
    log.Record(scaled_object, ref.scalermetadata(), mk::keda::Rpc::kGetMetrics, config,
               absl::OkStatus(), answer);
  }
}
BENCHMARK(BM_TriggerLogRecord);

}  // namespace

BENCHMARK_MAIN();
