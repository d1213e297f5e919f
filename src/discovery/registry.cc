#include "discovery/registry.h"

namespace mk::discovery {

Registry::Registry(OnChange on_change, std::chrono::milliseconds coalesce)
    : on_change_(std::move(on_change)), coalesce_(coalesce) {
  notifier_ = std::thread([this] { RunNotifier(); });
}

Registry::~Registry() { StopNotifying(); }

void Registry::StopNotifying() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (notifier_.joinable()) notifier_.join();
}

void Registry::NotifyLocked() {
  dirty_ = true;
  last_change_ = std::chrono::steady_clock::now();
  wake_.notify_all();
}

void Registry::SetListedLocked() {
  if (listed_) return;
  listed_ = true;
  NotifyLocked();
}

void Registry::RunNotifier() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || dirty_; });
    if (stopping_) return;
    // Quiet for `coalesce_` since the burst's last change.
    while (!stopping_ && std::chrono::steady_clock::now() < last_change_ + coalesce_) {
      wake_.wait_until(lock, last_change_ + coalesce_);
    }
    if (stopping_) return;
    dirty_ = false;
    lock.unlock();
    if (on_change_) on_change_(*this);
    lock.lock();
  }
}

std::optional<std::vector<fleet::Registration>> Registry::RegistrationsFor(
    const fleet::Target& target) const {
  std::lock_guard lock(mutex_);
  if (!listed_) return std::nullopt;
  return state_.RegistrationsFor(target);
}

std::vector<dynamo::EventChannelRecord> Registry::EventChannels() const {
  std::lock_guard lock(mutex_);
  return state_.EventChannels();
}

RegistryStats Registry::Stats() const {
  RegistryStats stats;
  AddConnectionStats(stats);
  std::lock_guard lock(mutex_);
  stats.listed = listed_;
  stats.instances = state_.instances();
  stats.model_cards = state_.model_cards();
  stats.event_channels = state_.event_channels();
  stats.drops = state_.drops();
  return stats;
}

}  // namespace mk::discovery
