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
    EtcdWatchSettings watch, const std::vector<std::string>& namespaces, OnChange on_change,
    std::chrono::milliseconds coalesce) {
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
                      if (changed) self->NotifyLocked();
                    },
                .on_state_change =
                    [self, i](bool connected) {
                      std::lock_guard lock(self->mutex_);
                      if (!connected || self->listed_each_[i]) return;
                      self->listed_each_[i] = true;
                      // Membership is known once every layout has been read.
                      if (std::all_of(self->listed_each_.begin(), self->listed_each_.end(),
                                      [](bool listed) { return listed; })) {
                        self->SetListedLocked();
                      }
                    }});
    if (!started.ok()) return started.status();
    registry->watches_.push_back(std::move(*started));
  }
  return registry;
}

EtcdRegistry::~EtcdRegistry() {
  StopNotifying();
  watches_.clear();
}

void EtcdRegistry::AddConnectionStats(RegistryStats& stats) const {
  stats.connected = !watches_.empty();
  for (const std::unique_ptr<EtcdWatch>& watch : watches_) {
    stats.connected = stats.connected && watch->connected();
    stats.reconnects += watch->reconnects();
  }
}

}  // namespace mk::discovery
