#include "discovery/kubernetes_membership.h"

#include <algorithm>

namespace mk::discovery {
namespace {

// The names kept in `objects` for namespace `ns` that `listed` (a fresh listing of
// that namespace) no longer has.
template <typename Map, typename Listed>
std::vector<std::string> NamesGone(const Map& objects, const std::string& ns,
                                   const std::vector<Listed>& listed) {
  std::set<std::string> names;
  for (const auto& object : listed) names.insert(object.meta.name);
  std::vector<std::string> gone;
  for (auto it = objects.lower_bound({ns, ""}); it != objects.end() && it->first.first == ns;
       ++it) {
    if (!names.contains(it->first.second)) gone.push_back(it->first.second);
  }
  return gone;
}

}  // namespace

// The ready pods of a slice, each with its first address and the slice's system port.
std::map<std::string, KubernetesMembership::Address> KubernetesMembership::ReadyPodsOf(
    const kubernetes::EndpointSlice& slice) {
  std::map<std::string, Address> pods;
  for (const auto& endpoint : slice.endpoints) {
    if (!endpoint.ready) continue;
    pods[endpoint.pod] = Address{
        endpoint.addresses.empty() ? std::string() : endpoint.addresses.front(), slice.system_port};
  }
  return pods;
}

KubernetesMembership::KubernetesMembership(DiscoveryState& state, size_t max_objects)
    : state_(state), max_objects_(max_objects) {}

bool KubernetesMembership::Reconcile(const PodKey& object) {
  static const Present kAbsent;
  auto metadata = metadata_.find(object);
  auto ready = metadata != metadata_.end() ? ready_.find({object.first, metadata->second.pod})
                                           : ready_.end();
  const bool member = metadata != metadata_.end() && ready != ready_.end();
  const Present wanted =
      member ? Present{metadata->second.records, ready->second.address} : kAbsent;
  auto present = present_.find(object);
  const Present& current = present != present_.end() ? present->second : kAbsent;
  if (wanted == current) return false;
  bool changed = false;
  for (const auto& [key, value] : current.records) {
    const bool kept = std::any_of(wanted.records.begin(), wanted.records.end(),
                                  [&](const auto& record) { return record.first == key; });
    if (!kept) changed = state_.Delete(key) || changed;
  }
  for (const auto& [key, value] : wanted.records) {
    changed = state_.Put(key, value, wanted.address.ip, wanted.address.port) || changed;
  }
  if (member) {
    present_[object] = wanted;
  } else {
    present_.erase(object);
  }
  return changed;
}

bool KubernetesMembership::ReconcilePod(const PodKey& pod) {
  auto owned = objects_of_pod_.find(pod);
  if (owned == objects_of_pod_.end()) return false;
  bool changed = false;
  for (const std::string& name : owned->second) {
    changed = Reconcile({pod.first, name}) || changed;
  }
  return changed;
}

bool KubernetesMembership::PutWorkerMetadata(const std::string& ns,
                                             kubernetes::WorkerMetadata metadata) {
  const PodKey object{ns, metadata.meta.name};
  std::string pod = metadata.meta.owner_pod.empty() ? metadata.meta.name : metadata.meta.owner_pod;
  auto it = metadata_.find(object);
  if (it == metadata_.end()) {
    if (metadata_.size() >= max_objects_) {
      ++refused_;
      return false;
    }
    it = metadata_.emplace(object, Metadata()).first;
  } else if (it->second.pod != pod) {
    auto owned = objects_of_pod_.find({ns, it->second.pod});
    if (owned != objects_of_pod_.end()) {
      owned->second.erase(object.second);
      if (owned->second.empty()) objects_of_pod_.erase(owned);
    }
  }
  objects_of_pod_[{ns, pod}].insert(object.second);
  it->second = Metadata{std::move(pod), std::move(metadata.records)};
  return Reconcile(object);
}

bool KubernetesMembership::DeleteWorkerMetadata(const std::string& ns, const std::string& name) {
  const PodKey object{ns, name};
  auto it = metadata_.find(object);
  if (it == metadata_.end()) return false;
  auto owned = objects_of_pod_.find({ns, it->second.pod});
  if (owned != objects_of_pod_.end()) {
    owned->second.erase(name);
    if (owned->second.empty()) objects_of_pod_.erase(owned);
  }
  metadata_.erase(it);
  return Reconcile(object);
}

bool KubernetesMembership::ReplaceWorkerMetadata(const std::string& ns,
                                                 std::vector<kubernetes::WorkerMetadata> listed) {
  bool changed = false;
  for (const std::string& name : NamesGone(metadata_, ns, listed))
    changed = DeleteWorkerMetadata(ns, name) || changed;
  for (auto& metadata : listed) changed = PutWorkerMetadata(ns, std::move(metadata)) || changed;
  return changed;
}

bool KubernetesMembership::SetSliceReadyPods(const std::string& ns, const std::string& slice,
                                             std::map<std::string, Address> pods) {
  const PodKey key{ns, slice};
  auto it = slice_pods_.find(key);
  static const std::map<std::string, Address> kNone;
  const std::map<std::string, Address>& before = it != slice_pods_.end() ? it->second : kNone;
  std::vector<std::string> turned;  // pods whose readiness or address moved
  for (const auto& [pod, address] : before) {
    if (pods.contains(pod)) continue;
    turned.push_back(pod);
    auto ready = ready_.find({ns, pod});
    if (ready != ready_.end() && --ready->second.slices == 0) ready_.erase(ready);
  }
  for (const auto& [pod, address] : pods) {
    Ready& ready = ready_[{ns, pod}];
    if (!before.contains(pod)) ++ready.slices;
    ready.address = address;
    turned.push_back(pod);
  }
  if (pods.empty()) {
    if (it != slice_pods_.end()) slice_pods_.erase(it);
  } else {
    slice_pods_[key] = std::move(pods);
  }
  bool changed = false;
  for (const std::string& pod : turned) changed = ReconcilePod({ns, pod}) || changed;
  return changed;
}

bool KubernetesMembership::PutEndpointSlice(const std::string& ns,
                                            kubernetes::EndpointSlice slice) {
  const PodKey key{ns, slice.meta.name};
  if (!slice_pods_.contains(key) && slice_pods_.size() >= max_objects_) {
    ++refused_;
    return false;
  }
  return SetSliceReadyPods(ns, slice.meta.name, ReadyPodsOf(slice));
}

bool KubernetesMembership::DeleteEndpointSlice(const std::string& ns, const std::string& name) {
  return SetSliceReadyPods(ns, name, {});
}

bool KubernetesMembership::ReplaceEndpointSlices(const std::string& ns,
                                                 std::vector<kubernetes::EndpointSlice> listed) {
  bool changed = false;
  for (const std::string& name : NamesGone(slice_pods_, ns, listed))
    changed = DeleteEndpointSlice(ns, name) || changed;
  for (auto& slice : listed) changed = PutEndpointSlice(ns, std::move(slice)) || changed;
  return changed;
}

}  // namespace mk::discovery
