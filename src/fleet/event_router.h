// Routes event records to the collectors of the targets they concern: a record
// published in namespace N (and component C, endpoint E where its scope names them)
// goes to every existing target of N (of C, of E). Whether it then counts is the
// fleet model's call (discovery membership; FleetModel::Apply*). Records for targets
// nobody has asked about are not kept: a target starts listening when it is made.
//
// Thread-safe: transports call it from their own threads.
#ifndef METRICS_KEDA_FLEET_EVENT_ROUTER_H_
#define METRICS_KEDA_FLEET_EVENT_ROUTER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "fleet/collector.h"
#include "fleet/event_sink.h"
#include "fleet/target_registry.h"

namespace mk::fleet {

class EventRouter : public EventSink {
 public:
  explicit EventRouter(TargetRegistry& registry) : registry_(registry) {}

  void OnActiveLoad(const EventScope& scope, const dynamo::ActiveLoad& load) override;
  void OnForwardPass(const EventScope& scope, const dynamo::ForwardPassMetrics& fpm) override;
  void OnLoadReport(const EventScope& scope, const dynamo::WorkerLoad& report) override;
  void OnDrop(const EventScope& scope, std::optional<uint64_t> worker_id, uint32_t dp_rank,
              dynamo::DropReason reason) override;
  void OnChannelDown(const EventScope& scope, uint64_t worker_id, bool down) override;
  void OnSilentChannelsDown(const EventScope& scope, bool down) override;
  void Flush() override;

  // Records whose scope matched no existing target.
  uint64_t unrouted() const { return unrouted_.load(); }

 private:
  // Calls `apply(collector)` for every collector `scope` concerns.
  template <typename Apply>
  void Route(const EventScope& scope, Apply apply);

  TargetRegistry& registry_;
  std::atomic<uint64_t> unrouted_{0};
  std::mutex mutex_;
  std::vector<std::shared_ptr<Collector>> touched_;  // since the last Flush
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_EVENT_ROUTER_H_
