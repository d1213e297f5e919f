// A fixed-bucket histogram of durations, recorded without locks from any thread
// and read as a consistent-enough copy for exposition (Prometheus tolerates a
// sum read a moment apart from its counts).
#ifndef METRICS_KEDA_COMMON_DURATION_HISTOGRAM_H_
#define METRICS_KEDA_COMMON_DURATION_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace mk {

class DurationHistogram {
 public:
  // Upper bounds in seconds: from a fast RPC (50 us) to a slow scrape (10 s).
  static constexpr std::array<double, 16> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};

  struct Counts {
    std::array<uint64_t, kBounds.size() + 1> per_bucket{};  // the last is +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void Record(std::chrono::nanoseconds duration) {
    const double seconds = std::chrono::duration<double>(duration).count();
    size_t bucket = 0;
    while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_nanos_.fetch_add(static_cast<uint64_t>(duration.count() > 0 ? duration.count() : 0),
                         std::memory_order_relaxed);
  }

  Counts Read() const {
    Counts counts;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      counts.per_bucket[i] = buckets_[i].load(std::memory_order_relaxed);
      counts.count += counts.per_bucket[i];
    }
    counts.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) * 1e-9;
    return counts;
  }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

}  // namespace mk

#endif  // METRICS_KEDA_COMMON_DURATION_HISTOGRAM_H_
