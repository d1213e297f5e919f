// Dynamo's discovery store in etcd (DYN_DISCOVERY_BACKEND=etcd): follows the keys of
// every layout (`v1/` instances, model cards and event channels; `instances/` of May -
// Oct 2025; `<ns>/components/` before), one EtcdWatch per prefix. Membership is known
// once every prefix has been read (Registry).
//
// Thread-safe.
#ifndef METRICS_KEDA_DISCOVERY_ETCD_REGISTRY_H_
#define METRICS_KEDA_DISCOVERY_ETCD_REGISTRY_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "discovery/etcd_watch.h"
#include "discovery/registry.h"

namespace mk::discovery {

class EtcdRegistry : public Registry {
 public:
  // `watch.prefix` is set here, per layout; `namespaces`: the Dynamo namespaces whose
  // keys of the layout before May 2025 to follow.
  static absl::StatusOr<std::unique_ptr<EtcdRegistry>> Start(
      EtcdWatchSettings watch, const std::vector<std::string>& namespaces, OnChange on_change,
      std::chrono::milliseconds coalesce = std::chrono::milliseconds(20));

  // The key prefixes followed for `namespaces`.
  static std::vector<std::string> Prefixes(const std::vector<std::string>& namespaces);
  ~EtcdRegistry() override;

  std::string_view name() const override { return "etcd"; }

 private:
  EtcdRegistry(OnChange on_change, std::chrono::milliseconds coalesce)
      : Registry(std::move(on_change), coalesce) {}
  void AddConnectionStats(RegistryStats& stats) const override;

  std::vector<bool> listed_each_;  // per watch, guarded by mutex_
  std::vector<std::unique_ptr<EtcdWatch>> watches_;
};

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_ETCD_REGISTRY_H_
