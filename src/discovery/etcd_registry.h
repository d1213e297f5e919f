// Dynamo's discovery store in etcd (DYN_DISCOVERY_BACKEND=etcd): follows the keys of
// every layout (`v1/` instances, model cards and event channels; `instances/` of May -
// Oct 2025; `<ns>/components/` before), one EtcdWatch per prefix, and keeps what they
// say in a DiscoveryState. Membership is known once every prefix has been read. Changes come in
// bursts (a listing, a worker's three keys at start): `on_change` is called once per burst, after
// `coalesce` without another change, on the registry's own thread, and once when the watch first
// connects even if the store is empty (membership is then known: nobody).
//
// Thread-safe. `on_change` must not destroy the registry.
#ifndef METRICS_KEDA_DISCOVERY_ETCD_REGISTRY_H_
#define METRICS_KEDA_DISCOVERY_ETCD_REGISTRY_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "discovery/discovery_state.h"
#include "discovery/etcd_watch.h"

namespace mk::discovery {

struct EtcdRegistryStats {
  bool connected = false;  // every watch
  bool listed = false;     // the store has been read once: membership is known
  uint64_t reconnects = 0;
  int64_t revision = 0;
  size_t instances = 0;
  size_t model_cards = 0;
  size_t event_channels = 0;
  dynamo::DropCounts drops;  // records that did not decode
};

class EtcdRegistry {
 public:
  // `watch.prefix` is set here, per layout; `namespaces`: the Dynamo namespaces whose
  // keys of the layout before May 2025 to follow. A change burst is told `coalesce`
  // after its last change: 20 ms, well under anything a scaling decision notices,
  // and long enough for a listing of thousands of keys to arrive as one.
  static absl::StatusOr<std::unique_ptr<EtcdRegistry>> Start(
      EtcdWatchSettings watch, const std::vector<std::string>& namespaces,
      std::function<void(const EtcdRegistry&)> on_change,
      std::chrono::milliseconds coalesce = std::chrono::milliseconds(20));

  // The key prefixes followed for `namespaces`.
  static std::vector<std::string> Prefixes(const std::vector<std::string>& namespaces);
  ~EtcdRegistry();
  EtcdRegistry(const EtcdRegistry&) = delete;
  EtcdRegistry& operator=(const EtcdRegistry&) = delete;

  // None until the store has been read once.
  std::optional<std::vector<fleet::Registration>> RegistrationsFor(
      const fleet::Target& target) const;
  std::vector<dynamo::EventChannelRecord> EventChannels() const;
  EtcdRegistryStats Stats() const;

 private:
  EtcdRegistry(std::function<void(const EtcdRegistry&)> on_change,
               std::chrono::milliseconds coalesce);
  void Notify();
  void RunNotifier();

  const std::function<void(const EtcdRegistry&)> on_change_;
  const std::chrono::milliseconds coalesce_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  DiscoveryState state_;
  bool listed_ = false;
  std::vector<bool> listed_each_;  // per watch
  bool dirty_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point last_change_;
  std::thread notifier_;
  std::vector<std::unique_ptr<EtcdWatch>> watches_;  // last: stopped first
};

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_ETCD_REGISTRY_H_
