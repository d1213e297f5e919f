// What a simulated Dynamo worker says on NATS: its names (service name, endpoint
// subjects, instance id), the ForwardPassMetrics figures it derives from a load in
// [0, 1], and the NATS micro PING / INFO / STATS reply JSON built from those.
// Everything here is a pure function of its arguments, so the wire format can be
// tested without a server; safe to call from any thread.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_WORKER_PAYLOADS_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_WORKER_PAYLOADS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mk::mock {

// Dynamo's slugify: lowercase; keep [a-z0-9_-]; any other character becomes '_';
// leading '_' trimmed.
std::string Slugify(std::string_view text);

// 32-bit FNV-1a; the stable hash behind legacy service name suffixes.
uint32_t Fnv1a32(std::string_view text);

// The micro service name of (namespace, component): slugify(ns + "_" + component).
// `legacy` gives the Dynamo 0.1 form: '-' also mapped to '_', then '_' and 8
// lowercase hex digits of Fnv1a32 of that slug.
std::string ServiceName(std::string_view dynamo_namespace, std::string_view component, bool legacy);

// A lease id as Dynamo prints it in subjects: lowercase hex, no padding.
std::string LeaseHex(uint64_t lease_id);

// A 22-character [A-Za-z0-9] instance id, like a NATS nuid: 11 characters from
// `process_seed` then 11 from a bijective mix of `index` and the seed, so ids of one
// process never collide and two processes with different seeds are very unlikely to.
std::string InstanceId(uint64_t process_seed, uint64_t index);

struct Endpoint {
  std::string name;     // `subject` with '.' replaced by '-'
  std::string subject;  // <service>.<endpoint>-<lease hex>
};
Endpoint EndpointOf(std::string_view service, std::string_view endpoint, uint64_t lease_id);

// Everything constant about one simulated worker.
struct WorkerIdentity {
  std::string service;
  std::string instance_id;
  uint64_t lease_id = 0;
  Endpoint generate;  // the `generate` endpoint every Dynamo LLM worker serves
  Endpoint load;      // the endpoint whose stats carry ForwardPassMetrics
};
WorkerIdentity MakeWorkerIdentity(std::string_view service, std::string_view load_endpoint,
                                  uint64_t lease_id, std::string instance_id);

// The load of worker `index` of `count` under fleet load `fleet_load`: spread
// linearly by `spread` around the fleet load (first worker lowest when spread > 0),
// clamped to [0, 1]. A single worker gets the fleet load.
double WorkerLoadShare(double fleet_load, double spread, size_t index, size_t count);

struct WorkerFigures {
  uint64_t request_active_slots = 0;
  uint64_t request_total_slots = 0;
  uint64_t kv_active_blocks = 0;
  uint64_t kv_total_blocks = 0;
  uint64_t num_requests_waiting = 0;
  double gpu_cache_usage_perc = 0;
  double gpu_prefix_cache_hit_rate = 0;
};

// Figures of a worker at `load` (clamped to [0, 1]): kv blocks round(load * T),
// active slots floor(load * S), waiting round(max(0, load - 0.8) * 100), cache usage
// blocks / T, or `load` itself when T is 0.
WorkerFigures FiguresForLoad(double load, uint64_t kv_total_blocks, uint64_t slots_total);

// What a stats reply's load endpoint carries: ForwardPassMetrics, flat (Dynamo 0.1 -
// 0.3) or nested worker_stats / kv_stats (0.4 - 0.5); or no load at all, `null`, as
// every endpoint of Dynamo workers since October 2025.
enum class MetricsForm { kFlat, kNested, kNull };

// The ForwardPassMetrics JSON object (`null` for kNull); `dp_rank` nullopt prints a
// null rank.
std::string ForwardPassMetricsJson(const WorkerFigures& figures, MetricsForm form,
                                   std::optional<uint32_t> dp_rank);

// The `$SRV.STATS` reply of one worker. With dp_ranks > 1 the load endpoint is
// listed once per rank, each carrying its rank; with 1 it is listed once, rank null.
// Appends to `out` so a caller answering many workers can reuse one buffer.
void AppendStatsReply(std::string& out, const WorkerIdentity& worker, std::string_view started,
                      const WorkerFigures& figures, MetricsForm form, uint32_t dp_ranks);
std::string StatsReply(const WorkerIdentity& worker, std::string_view started,
                       const WorkerFigures& figures, MetricsForm form, uint32_t dp_ranks);

std::string PingReply(const WorkerIdentity& worker);
std::string InfoReply(const WorkerIdentity& worker);

// Appends `s` as a JSON string: quotes, backslashes and control characters escaped,
// other bytes as they are.
void AppendJsonString(std::string& out, std::string_view s);

// RFC 3339 UTC with microseconds, e.g. 2025-03-01T12:00:00.000000Z.
std::string Rfc3339Utc(std::chrono::system_clock::time_point time);

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_WORKER_PAYLOADS_H_
