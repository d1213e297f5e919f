// Counts of the scaler's RPCs by method and status code, and their latency, for
// the Prometheus exposition. Recorded lock-free from gRPC's threads.
#ifndef METRICS_KEDA_KEDA_RPC_COUNTERS_H_
#define METRICS_KEDA_KEDA_RPC_COUNTERS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "common/duration_histogram.h"

namespace mk::keda {

enum class Rpc { kGetMetricSpec, kGetMetrics, kIsActive, kStreamIsActive };
inline constexpr std::array<Rpc, 4> kAllRpcs = {Rpc::kGetMetricSpec, Rpc::kGetMetrics,
                                                Rpc::kIsActive, Rpc::kStreamIsActive};
std::string_view RpcName(Rpc rpc);

// gRPC status codes 0 (OK) to 16 (UNAUTHENTICATED).
inline constexpr int kStatusCodes = 17;
std::string_view StatusCodeName(int code);

class RpcCounters {
 public:
  void Record(Rpc rpc, int code, std::chrono::nanoseconds latency) {
    const size_t method = static_cast<size_t>(rpc);
    const size_t index = code >= 0 && code < kStatusCodes ? static_cast<size_t>(code) : 2;
    counts_[method][index].fetch_add(1, std::memory_order_relaxed);
    latency_[method].Record(latency);
  }
  uint64_t Count(Rpc rpc, int code) const {
    return counts_[static_cast<size_t>(rpc)][static_cast<size_t>(code)].load(
        std::memory_order_relaxed);
  }
  const DurationHistogram& Latency(Rpc rpc) const { return latency_[static_cast<size_t>(rpc)]; }

  // Triggers refused for metadata over --max-metadata-bytes.
  void RecordMetadataRejected() { metadata_rejected_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t metadata_rejected() const { return metadata_rejected_.load(std::memory_order_relaxed); }

 private:
  std::array<std::array<std::atomic<uint64_t>, kStatusCodes>, kAllRpcs.size()> counts_{};
  std::array<DurationHistogram, kAllRpcs.size()> latency_;
  std::atomic<uint64_t> metadata_rejected_{0};
};

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_RPC_COUNTERS_H_
