// The collectors of all targets: one per target, created on first use and
// dropped once unqueried for the idle timeout (the default target is kept, and
// so is any collector still held elsewhere, e.g. by an open stream). At most
// `max_targets` exist at once; asking for another is RESOURCE_EXHAUSTED.
// Thread-safe.
#ifndef METRICS_KEDA_FLEET_TARGET_REGISTRY_H_
#define METRICS_KEDA_FLEET_TARGET_REGISTRY_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "fleet/collector.h"
#include "fleet/load_source.h"
#include "fleet/target.h"

namespace mk::fleet {

class TargetRegistry {
 public:
  // `make_scraper` may return null (the stats source is off). `on_created` (optional)
  // is called with each new collector before anyone else can see it, under the
  // registry's lock: it tells the collector what discovery and the event sources
  // know already, and must not call back into the registry.
  using CollectorHook = std::function<void(Collector&)>;
  TargetRegistry(Target default_target, CollectorSettings settings, ScraperFactory make_scraper,
                 std::chrono::nanoseconds idle_timeout, size_t max_targets = 64,
                 CollectorHook on_created = nullptr);
  ~TargetRegistry();
  TargetRegistry(const TargetRegistry&) = delete;
  TargetRegistry& operator=(const TargetRegistry&) = delete;

  // The target's collector, created if needed; marks the target as used now.
  absl::StatusOr<std::shared_ptr<Collector>> CollectorFor(const Target& target);

  std::vector<std::shared_ptr<Collector>> All() const;
  // The same, as one shared list made when the set changes: cheap enough for every
  // event record an event source routes. Hold it while using its collectors.
  using Collectors = std::shared_ptr<const std::vector<std::shared_ptr<Collector>>>;
  Collectors Current() const;

  const Target& default_target() const { return default_target_; }
  // Requests refused because max_targets collectors existed.
  uint64_t rejected() const { return rejected_.load(); }

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
  const CollectorHook on_created_;
  const std::chrono::nanoseconds idle_timeout_;
  const size_t max_targets_;
  std::atomic<uint64_t> rejected_{0};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<Target, Entry> entries_;
  Collectors all_ = std::make_shared<const std::vector<std::shared_ptr<Collector>>>();
  void RefreshAllLocked();  // remakes all_ from entries_
  std::thread janitor_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_TARGET_REGISTRY_H_
