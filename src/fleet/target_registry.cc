#include "fleet/target_registry.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "absl/status/status.h"

namespace mk::fleet {

TargetRegistry::TargetRegistry(Target default_target, CollectorSettings settings,
                               ScraperFactory make_scraper, std::chrono::nanoseconds idle_timeout,
                               size_t max_targets, CollectorHook on_created)
    : default_target_(std::move(default_target)),
      settings_(settings),
      make_scraper_(std::move(make_scraper)),
      on_created_(std::move(on_created)),
      idle_timeout_(idle_timeout),
      max_targets_(std::max<size_t>(max_targets, 1)) {
  (void)CollectorFor(default_target_);  // the first target always fits
  janitor_ = std::thread([this] { DropIdleUntilStopped(); });
}

TargetRegistry::~TargetRegistry() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  janitor_.join();
  // Collectors stop outside the lock: their threads may still be finishing a round.
  std::map<Target, Entry> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
    RefreshAllLocked();
  }
}

absl::StatusOr<std::shared_ptr<Collector>> TargetRegistry::CollectorFor(const Target& target) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(target);
  if (it == entries_.end()) {
    if (entries_.size() >= max_targets_) {
      ++rejected_;
      return absl::ResourceExhaustedError(fmt::format(
          "target {} refused: {} targets are collected already (--max-targets); unused ones "
          "are dropped after --target-idle-timeout",
          target.ToString(), entries_.size()));
    }
    auto collector = std::make_shared<Collector>(target, settings_, make_scraper_(target));
    if (on_created_) on_created_(*collector);
    it = entries_.emplace(target, Entry{std::move(collector), Clock::now()}).first;
    RefreshAllLocked();
    spdlog::info("target {}: collector created", target.ToString());
  }
  it->second.last_used = Clock::now();
  return it->second.collector;
}

std::vector<std::shared_ptr<Collector>> TargetRegistry::All() const { return *Current(); }

TargetRegistry::Collectors TargetRegistry::Current() const {
  std::lock_guard lock(mutex_);
  return all_;
}

void TargetRegistry::RefreshAllLocked() {
  auto all = std::make_shared<std::vector<std::shared_ptr<Collector>>>();
  all->reserve(entries_.size());
  for (const auto& [target, entry] : entries_) all->push_back(entry.collector);
  all_ = std::move(all);
}

void TargetRegistry::DropIdleUntilStopped() {
  const auto period =
      std::max<std::chrono::nanoseconds>(idle_timeout_ / 4, std::chrono::seconds(1));
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    std::vector<std::shared_ptr<Collector>> dropped;
    const auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      const bool idle = now - it->second.last_used > idle_timeout_;
      // use_count 2, the entry and the shared list: nobody outside the registry (no
      // stream) holds it.
      if (it->first != default_target_ && idle && it->second.collector.use_count() == 2) {
        spdlog::info(
            "target {}: collector dropped (unqueried for {}s)", it->first.ToString(),
            std::chrono::duration_cast<std::chrono::seconds>(now - it->second.last_used).count());
        dropped.push_back(std::move(it->second.collector));
        it = entries_.erase(it);
        RefreshAllLocked();
      } else {
        ++it;
      }
    }
    lock.unlock();
    dropped.clear();  // joins the collectors' threads without holding the lock
    lock.lock();
  }
}

}  // namespace mk::fleet
