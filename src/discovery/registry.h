// A discovery backend as the rest of the scaler sees it, whichever store it reads
// (etcd, or Kubernetes objects): who is registered for each target, with capacity
// and ranks from their model cards, and the event channels they publish on. The
// records are Dynamo's own (dynamo::DiscoveryRecordDecoder) in both stores, kept in
// one DiscoveryState, so everything downstream is shared.
//
// Membership is known once the backend has read its store once (`listed`); until
// then RegistrationsFor says none. Changes come in bursts (a listing, a worker's
// records at start, a pod turning ready): `on_change` is called once per burst, after
// `coalesce` without another change (or a second after the burst began, whichever
// comes first), on the registry's own thread, and once when the
// store has first been read even if it is empty (membership is then known: nobody).
//
// Thread-safe. `on_change` must not destroy the registry. A backend's destructor
// calls StopNotifying before it stops its watches.
#ifndef METRICS_KEDA_DISCOVERY_REGISTRY_H_
#define METRICS_KEDA_DISCOVERY_REGISTRY_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "discovery/discovery_state.h"
#include "dynamo/drop_reason.h"
#include "fleet/fleet_model.h"
#include "fleet/target.h"

namespace mk::discovery {

struct RegistryStats {
  bool connected = false;  // every watch of the store
  bool listed = false;     // the store has been read once: membership is known
  uint64_t reconnects = 0;
  size_t instances = 0;
  size_t model_cards = 0;
  size_t event_channels = 0;
  dynamo::DropCounts drops;  // records that did not decode
  // Objects of the store that did not decode or were refused over its limit (the
  // Kubernetes backend's objects; etcd's are records, counted in `drops`).
  uint64_t objects_dropped = 0;
};

class Registry {
 public:
  using OnChange = std::function<void(const Registry&)>;

  virtual ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // "etcd" or "kubernetes".
  virtual std::string_view name() const = 0;

  // None until the store has been read once.
  std::optional<std::vector<fleet::Registration>> RegistrationsFor(
      const fleet::Target& target) const;
  std::vector<dynamo::EventChannelRecord> EventChannels() const;
  RegistryStats Stats() const;

 protected:
  // A burst is told `coalesce` after its last change: 20 ms by default, well under
  // anything a scaling decision notices, and long enough for a listing of thousands
  // of records to arrive as one.
  Registry(OnChange on_change, std::chrono::milliseconds coalesce);

  // Ends the notifier thread: no on_change call runs or starts after it returns.
  void StopNotifying();
  // A change of state_ (or of `listed`) to tell. Needs mutex_ held.
  void NotifyLocked();
  // The store has been read once: membership is known. Needs mutex_ held.
  void SetListedLocked();
  // The backend's connection figures (connected, reconnects).
  virtual void AddConnectionStats(RegistryStats& stats) const = 0;

  mutable std::mutex mutex_;
  DiscoveryState state_;  // guarded by mutex_

 private:
  void RunNotifier();

  const OnChange on_change_;
  const std::chrono::milliseconds coalesce_;
  std::condition_variable wake_;
  bool listed_ = false;
  bool dirty_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point first_change_;  // of the burst being coalesced
  std::chrono::steady_clock::time_point last_change_;
  std::thread notifier_;
};

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_REGISTRY_H_
