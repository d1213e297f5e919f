#include "discovery/registry.h"

#include <algorithm>

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
  last_change_ = std::chrono::steady_clock::now();
  if (!dirty_) first_change_ = last_change_;
  dirty_ = true;
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
    // Quiet for `coalesce_` since the burst's last change, but told within a second
    // of its first: a store that never stops changing (pods churning in a rollout)
    // is still told.
    constexpr auto kLongestBurst = std::chrono::seconds(1);
    auto due = [&] { return std::min(last_change_ + coalesce_, first_change_ + kLongestBurst); };
    while (!stopping_ && std::chrono::steady_clock::now() < due()) wake_.wait_until(lock, due());
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
