// What one Dynamo worker unit reports about itself: the ForwardPassMetrics of one
// lease id (and one data-parallel rank, where the worker reports ranks). Plain data,
// produced by the decoders in this directory and consumed by the fleet model.
#ifndef METRICS_KEDA_DYNAMO_WORKER_LOAD_H_
#define METRICS_KEDA_DYNAMO_WORKER_LOAD_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace mk::dynamo {

// Identity of a worker unit: the worker's etcd lease and, for data-parallel
// workers, the rank. A worker without ranks is one unit with no rank.
struct WorkerKey {
  uint64_t lease_id = 0;
  std::optional<uint32_t> dp_rank;

  friend auto operator<=>(const WorkerKey&, const WorkerKey&) = default;
  friend bool operator==(const WorkerKey&, const WorkerKey&) = default;
};

// The lease id as Dynamo prints it in subjects: lowercase hex, no padding.
std::string LeaseHex(uint64_t lease_id);

struct WorkerLoad {
  WorkerKey key;
  uint64_t request_active_slots = 0;
  uint64_t request_total_slots = 0;
  uint64_t kv_active_blocks = 0;
  uint64_t kv_total_blocks = 0;
  // Requests queued in the engine. Stats replies before March 2025 leave it out and
  // it is then 0; an event record may not carry it at all: none (unknown, not 0).
  std::optional<uint64_t> num_requests_waiting = 0;
  // Prompt tokens of the queued requests (ForwardPassMetrics queued_requests
  // .sum_prefill_tokens); none where the source does not say (every stats reply).
  std::optional<uint64_t> prefill_tokens_queued;
  // KV usage as a fraction in [0, 1], despite its name; used when kv_total_blocks is 0.
  std::optional<double> gpu_cache_usage_perc;
  std::optional<double> gpu_prefix_cache_hit_rate;

  friend bool operator==(const WorkerLoad&, const WorkerLoad&) = default;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_WORKER_LOAD_H_
