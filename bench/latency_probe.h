// What the latency probes (change_latency, event_latency) share: a StreamIsActive
// reader that notes when each pushed state arrived, and the arithmetic of their
// figures. Header-only; each tool is one translation unit.
#ifndef METRICS_KEDA_BENCH_LATENCY_PROBE_H_
#define METRICS_KEDA_BENCH_LATENCY_PROBE_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "externalscaler.grpc.pb.h"

namespace mk::bench {

using Clock = std::chrono::steady_clock;

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())) - 1);
  return v[std::min(i, v.size() - 1)];
}

// The activation states a StreamIsActive stream pushed, with when they arrived.
class StreamWatch {
 public:
  StreamWatch(externalscaler::ExternalScaler::Stub& stub,
              const externalscaler::ScaledObjectRef& ref)
      : reader_(stub.StreamIsActive(&context_, ref)), thread_([this] { Read(); }) {}
  ~StreamWatch() {
    context_.TryCancel();
    thread_.join();
  }

  // The arrival time of the first message at or after `since` saying `state`.
  std::optional<Clock::time_point> WaitFor(bool state, Clock::time_point since,
                                           Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    std::optional<Clock::time_point> found;
    cv_.wait_until(lock, deadline, [&] {
      for (auto it = messages_.rbegin(); it != messages_.rend() && it->first >= since; ++it) {
        if (it->second == state) found = it->first;
      }
      return found.has_value() || ended_;
    });
    return found;
  }

 private:
  void Read() {
    externalscaler::IsActiveResponse message;
    while (reader_->Read(&message)) {
      const auto now = Clock::now();
      std::lock_guard lock(mutex_);
      messages_.emplace_back(now, message.result());
      cv_.notify_all();
    }
    std::lock_guard lock(mutex_);
    ended_ = true;
    cv_.notify_all();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<Clock::time_point, bool>> messages_;
  bool ended_ = false;
  std::thread thread_;
};

}  // namespace mk::bench

#endif  // METRICS_KEDA_BENCH_LATENCY_PROBE_H_
