// The collectors of all targets: one per target, created on first use and
// dropped once unqueried for the idle timeout (the default target is kept, and
// so is any collector still held elsewhere, e.g. by an open stream).
// Thread-safe.
#ifndef METRICS_KEDA_FLEET_TARGET_REGISTRY_H_
#define METRICS_KEDA_FLEET_TARGET_REGISTRY_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fleet/collector.h"
#include "fleet/load_source.h"
#include "fleet/target.h"

namespace mk::fleet {

class TargetRegistry {
 public:
  TargetRegistry(Target default_target, CollectorSettings settings, ScraperFactory make_scraper,
                 std::chrono::nanoseconds idle_timeout);
  ~TargetRegistry();
  TargetRegistry(const TargetRegistry&) = delete;
  TargetRegistry& operator=(const TargetRegistry&) = delete;

  // The target's collector, created if needed; marks the target as used now.
  std::shared_ptr<Collector> CollectorFor(const Target& target);

  std::vector<std::shared_ptr<Collector>> All() const;

  const Target& default_target() const { return default_target_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::shared_ptr<Collector> collector;
    Clock::time_point last_used;
  };

  void DropIdleUntilStopped();

  const Target default_target_;
  const CollectorSettings settings_;
  const ScraperFactory make_scraper_;
  const std::chrono::nanoseconds idle_timeout_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<Target, Entry> entries_;
  std::thread janitor_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_TARGET_REGISTRY_H_
