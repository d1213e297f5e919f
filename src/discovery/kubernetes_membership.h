// Who is registered on Kubernetes (DYN_DISCOVERY_BACKEND=kubernetes), from the two
// kinds of object the Dynamo operator's workers leave: one DynamoWorkerMetadata per
// worker pod (named after the pod) holding the worker's discovery records, and the
// EndpointSlices carrying the discovery labels, which say which pods are ready. A
// pod's records are in the DiscoveryState exactly while its metadata object exists
// and some slice lists the pod as ready (dynamo-worker-metrics.md section 4): a pod
// that turns unready, or whose metadata is deleted, leaves at once. Its instance
// records carry the pod's address (the slice's), where its /metrics page answers.
//
// Objects are kept per Kubernetes namespace (not Dynamo's); a listing replaces every
// object of its kind in its namespace. At most `max_objects` objects of each kind are
// kept; further new ones are refused and counted, so a flood of objects cannot
// exhaust memory.
//
// Pure; not thread-safe (its registry guards it).
#ifndef METRICS_KEDA_DISCOVERY_KUBERNETES_MEMBERSHIP_H_
#define METRICS_KEDA_DISCOVERY_KUBERNETES_MEMBERSHIP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "discovery/discovery_state.h"
#include "kubernetes/api_objects.h"

namespace mk::discovery {

class KubernetesMembership {
 public:
  // `state` outlives this and is written only through it.
  KubernetesMembership(DiscoveryState& state, size_t max_objects);

  // Each returns true when what `state` says changed.
  bool PutWorkerMetadata(const std::string& ns, kubernetes::WorkerMetadata metadata);
  bool DeleteWorkerMetadata(const std::string& ns, const std::string& name);
  bool ReplaceWorkerMetadata(const std::string& ns, std::vector<kubernetes::WorkerMetadata> listed);
  bool PutEndpointSlice(const std::string& ns, kubernetes::EndpointSlice slice);
  bool DeleteEndpointSlice(const std::string& ns, const std::string& name);
  bool ReplaceEndpointSlices(const std::string& ns, std::vector<kubernetes::EndpointSlice> listed);

  size_t ready_pods() const { return ready_.size(); }
  size_t present_pods() const { return present_.size(); }
  uint64_t objects_refused() const { return refused_; }

 private:
  using PodKey = std::pair<std::string, std::string>;  // namespace, pod
  using Records = std::vector<std::pair<std::string, std::string>>;

  struct Address;
  static std::map<std::string, Address> ReadyPodsOf(const kubernetes::EndpointSlice& slice);
  // Brings a metadata object's records in `state_` in line with it and its pod's
  // readiness (`object`: namespace and the object's name).
  bool Reconcile(const PodKey& object);
  // Reconcile for every object `pod` owns.
  bool ReconcilePod(const PodKey& pod);
  // The pods a slice lists as ready (with an address each), and the readiness
  // counts that follow from them.
  bool SetSliceReadyPods(const std::string& ns, const std::string& slice,
                         std::map<std::string, Address> pods);

  DiscoveryState& state_;
  const size_t max_objects_;
  // Where a pod answers: its address, and its slice's "system" port if named.
  struct Address {
    std::string ip;
    std::optional<uint16_t> port;
    friend bool operator==(const Address&, const Address&) = default;
  };
  struct Ready {
    size_t slices = 0;  // slices listing the pod ready
    Address address;    // as the latest of them says
  };
  struct Present {
    Records records;
    Address address;
    friend bool operator==(const Present&, const Present&) = default;
  };
  struct Metadata {
    std::string pod;  // its owner pod (else its own name)
    Records records;
  };
  // Per (namespace, DynamoWorkerMetadata name); and per pod, the names it owns.
  std::map<PodKey, Metadata> metadata_;
  std::map<PodKey, std::set<std::string>> objects_of_pod_;
  // Per (namespace, slice): its ready pods and their addresses.
  std::map<PodKey, std::map<std::string, Address>> slice_pods_;
  std::map<PodKey, Ready> ready_;      // per pod
  std::map<PodKey, Present> present_;  // what is in state_, per metadata object
  uint64_t refused_ = 0;
};

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_KUBERNETES_MEMBERSHIP_H_
