// Dynamo's discovery on Kubernetes (DYN_DISCOVERY_BACKEND=kubernetes, what the Dynamo
// operator sets): lists and watches, in each Kubernetes namespace it is given, the
// DynamoWorkerMetadata objects (nvidia.com/v1alpha1) and the EndpointSlices labelled
// nvidia.com/dynamo-discovery-backend=kubernetes and
// nvidia.com/dynamo-discovery-enabled=true, and keeps who is present in a
// KubernetesMembership. One thread per namespace and kind runs client-go's
// list-then-watch loop:
//   - list (in pages of 500), then watch from the list's resourceVersion with
//     bookmarks; a watch the server ends (timeoutSeconds) is resumed from the last
//     resourceVersion seen, without listing again;
//   - `410 Gone` (as an HTTP answer or an ERROR event: the resourceVersion is too
//     old) lists again;
//   - any other failure (connection, 401, 403, 5xx, a stream silent for longer than
//     the watch timeout and a grace) backs off (0.5 s doubling to 30 s) and resumes;
//     meanwhile membership stays as it was and Stats says not connected.
// Membership is known once every namespace and kind has been listed (Registry).
//
// Thread-safe.
#ifndef METRICS_KEDA_DISCOVERY_KUBERNETES_REGISTRY_H_
#define METRICS_KEDA_DISCOVERY_KUBERNETES_REGISTRY_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "discovery/kubernetes_membership.h"
#include "discovery/registry.h"
#include "kubernetes/api_client.h"

namespace mk::discovery {

struct KubernetesRegistrySettings {
  std::vector<std::string> namespaces;  // Kubernetes namespaces, at least one
  // The watches' timeoutSeconds. client-go picks 5 to 10 minutes; the server ends
  // the watch then, and it is resumed at once. A stream without a byte for this
  // long plus a grace is taken as stalled.
  std::chrono::seconds watch_timeout{300};
  // Objects of each kind kept (KubernetesMembership).
  size_t max_objects = 20000;
};

class KubernetesRegistry : public Registry {
 public:
  static absl::StatusOr<std::unique_ptr<KubernetesRegistry>> Start(
      std::unique_ptr<kubernetes::ApiClient> client, KubernetesRegistrySettings settings,
      OnChange on_change, std::chrono::milliseconds coalesce = std::chrono::milliseconds(20));
  ~KubernetesRegistry() override;

  std::string_view name() const override { return "kubernetes"; }

 private:
  enum class Kind { kWorkerMetadata, kEndpointSlices };
  struct Collection {
    Kind kind;
    std::string ns;
    std::atomic<bool> connected{false};
    bool listed = false;  // guarded by mutex_
    std::thread thread;
  };

  KubernetesRegistry(std::unique_ptr<kubernetes::ApiClient> client,
                     KubernetesRegistrySettings settings, OnChange on_change,
                     std::chrono::milliseconds coalesce);
  void AddConnectionStats(RegistryStats& stats) const override;

  // The list-then-watch loop of one collection, until stopping.
  void Run(Collection& collection);
  // Lists the collection (every page) and replaces what is kept of it. Returns the
  // list's resourceVersion.
  absl::StatusOr<std::string> List(Collection& collection);
  // Watches from `resource_version` until the stream ends; updates it as events come.
  // OK when the server ended the stream (resume); an empty `resource_version`
  // afterwards means it was too old (list again).
  absl::Status Watch(Collection& collection, std::string& resource_version);
  // Applies one object of the collection (a listed item, or an event's object).
  // Needs mutex_ held. False when the object does not decode (counted).
  bool ApplyLocked(const Collection& collection, bool deleted, std::string_view object);
  // Waits `delay` or until stopping; true when stopping.
  bool SleepUnlessStopping(std::chrono::milliseconds delay);
  std::string PathOf(const Collection& collection, std::string_view query) const;

  const std::unique_ptr<kubernetes::ApiClient> client_;
  const KubernetesRegistrySettings settings_;
  KubernetesMembership membership_;  // guarded by mutex_
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> objects_dropped_{0};
  std::atomic<bool> stopping_{false};
  std::mutex sleep_mutex_;
  std::condition_variable sleep_wake_;
  std::vector<std::unique_ptr<Collection>> collections_;
};

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_KUBERNETES_REGISTRY_H_
