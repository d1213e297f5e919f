#include "discovery/etcd_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mk::discovery {

std::vector<std::string> EtcdRegistry::Prefixes(const std::vector<std::string>& namespaces) {
  // v1/: instances, model cards and event channels of 2026; instances/: May - Oct
  // 2025; <ns>/components/: to May 2025.
  std::vector<std::string> prefixes = {"v1/", "instances/"};
  for (const std::string& ns : namespaces) prefixes.push_back(ns + "/components/");
  return prefixes;
}

absl::StatusOr<std::unique_ptr<EtcdRegistry>> EtcdRegistry::Start(
    EtcdWatchSettings watch, const std::vector<std::string>& namespaces,
    std::function<void(const EtcdRegistry&)> on_change, std::chrono::milliseconds coalesce) {
  std::unique_ptr<EtcdRegistry> registry(new EtcdRegistry(std::move(on_change), coalesce));
  EtcdRegistry* self = registry.get();
  const std::vector<std::string> prefixes = Prefixes(namespaces);
  self->listed_each_.assign(prefixes.size(), false);
  for (size_t i = 0; i < prefixes.size(); ++i) {
    watch.prefix = prefixes[i];
    absl::StatusOr<std::unique_ptr<EtcdWatch>> started = EtcdWatch::Start(
        watch, {.on_change =
                    [self](const EtcdChange& change) {
                      std::lock_guard lock(self->mutex_);
                      const bool changed = change.type == EtcdChange::Type::kPut
                                               ? self->state_.Put(change.key, change.value)
                                               : self->state_.Delete(change.key);
                      if (changed) self->Notify();
                    },
                .on_state_change =
                    [self, i](bool connected) {
                      std::lock_guard lock(self->mutex_);
                      if (!connected || self->listed_each_[i]) return;
                      self->listed_each_[i] = true;
                      // Membership is known once every layout has been read.
                      if (!self->listed_ &&
                          std::all_of(self->listed_each_.begin(), self->listed_each_.end(),
                                      [](bool listed) { return listed; })) {
                        self->listed_ = true;
                        self->Notify();
                      }
                    }});
    if (!started.ok()) return started.status();
    registry->watches_.push_back(std::move(*started));
  }
  return registry;
}

EtcdRegistry::EtcdRegistry(std::function<void(const EtcdRegistry&)> on_change,
                           std::chrono::milliseconds coalesce)
    : on_change_(std::move(on_change)), coalesce_(coalesce) {
  notifier_ = std::thread([this] { RunNotifier(); });
}

EtcdRegistry::~EtcdRegistry() {
  watches_.clear();  // no change callback after this
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  notifier_.join();
}

void EtcdRegistry::Notify() {
  dirty_ = true;
  last_change_ = std::chrono::steady_clock::now();
  wake_.notify_all();
}

void EtcdRegistry::RunNotifier() {
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

std::optional<std::vector<fleet::Registration>> EtcdRegistry::RegistrationsFor(
    const fleet::Target& target) const {
  std::lock_guard lock(mutex_);
  if (!listed_) return std::nullopt;
  return state_.RegistrationsFor(target);
}

std::vector<dynamo::EventChannelRecord> EtcdRegistry::EventChannels() const {
  std::lock_guard lock(mutex_);
  return state_.EventChannels();
}

EtcdRegistryStats EtcdRegistry::Stats() const {
  EtcdRegistryStats stats;
  stats.connected = !watches_.empty();
  for (const std::unique_ptr<EtcdWatch>& watch : watches_) {
    stats.connected = stats.connected && watch->connected();
    stats.reconnects += watch->reconnects();
    stats.revision = std::max(stats.revision, watch->revision());
  }
  std::lock_guard lock(mutex_);
  stats.listed = listed_;
  stats.instances = state_.instances();
  stats.model_cards = state_.model_cards();
  stats.event_channels = state_.event_channels();
  stats.drops = state_.drops();
  return stats;
}

}  // namespace mk::discovery
