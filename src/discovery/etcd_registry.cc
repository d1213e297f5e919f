#include "discovery/etcd_registry.h"

#include <spdlog/spdlog.h>

namespace mk::discovery {

absl::StatusOr<std::unique_ptr<EtcdRegistry>> EtcdRegistry::Start(
    EtcdWatchSettings watch, std::function<void()> on_change, std::chrono::milliseconds coalesce) {
  std::unique_ptr<EtcdRegistry> registry(new EtcdRegistry(std::move(on_change), coalesce));
  EtcdRegistry* self = registry.get();
  watch.prefix = "v1/";
  absl::StatusOr<std::unique_ptr<EtcdWatch>> started = EtcdWatch::Start(
      std::move(watch), {.on_change =
                             [self](const EtcdChange& change) {
                               std::lock_guard lock(self->mutex_);
                               const bool changed = change.type == EtcdChange::Type::kPut
                                                        ? self->state_.Put(change.key, change.value)
                                                        : self->state_.Delete(change.key);
                               if (changed) self->Notify();
                             },
                         .on_state_change =
                             [self](bool connected) {
                               std::lock_guard lock(self->mutex_);
                               if (connected && !self->listed_) {
                                 self->listed_ = true;
                                 self->Notify();
                               }
                             }});
  if (!started.ok()) return started.status();
  registry->watch_ = std::move(*started);
  return registry;
}

EtcdRegistry::EtcdRegistry(std::function<void()> on_change, std::chrono::milliseconds coalesce)
    : on_change_(std::move(on_change)), coalesce_(coalesce) {
  notifier_ = std::thread([this] { RunNotifier(); });
}

EtcdRegistry::~EtcdRegistry() {
  watch_.reset();  // no change callback after this
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
    if (on_change_) on_change_();
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
  if (watch_) {
    stats.connected = watch_->connected();
    stats.reconnects = watch_->reconnects();
    stats.revision = watch_->revision();
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
