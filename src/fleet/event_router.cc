#include "fleet/event_router.h"

#include <algorithm>

namespace mk::fleet {

template <typename Apply>
void EventRouter::Route(const EventScope& scope, Apply apply) {
  bool routed = false;
  const TargetRegistry::Collectors collectors = registry_.Current();
  for (const std::shared_ptr<Collector>& collector : *collectors) {
    const Target& target = collector->target();
    if (target.dynamo_namespace != scope.dynamo_namespace ||
        (!scope.component.empty() && scope.component != target.component) ||
        (!scope.endpoint.empty() && scope.endpoint != target.endpoint)) {
      continue;
    }
    routed = true;
    if (!apply(*collector)) continue;
    std::lock_guard lock(mutex_);
    if (std::find(touched_.begin(), touched_.end(), collector) == touched_.end()) {
      touched_.push_back(collector);
    }
  }
  if (!routed) ++unrouted_;
}

void EventRouter::OnActiveLoad(const EventScope& scope, const dynamo::ActiveLoad& load) {
  Route(scope, [&](Collector& collector) {
    return collector.ApplyActiveLoad(load) == EventOutcome::kApplied;
  });
}

void EventRouter::OnForwardPass(const EventScope& scope, const dynamo::ForwardPassMetrics& fpm) {
  Route(scope, [&](Collector& collector) {
    return collector.ApplyForwardPass(fpm) == EventOutcome::kApplied;
  });
}

void EventRouter::OnLoadReport(const EventScope& scope, const dynamo::WorkerLoad& report) {
  Route(scope, [&](Collector& collector) {
    return collector.ApplyLoadReport(report) == EventOutcome::kApplied;
  });
}

void EventRouter::OnDrop(const EventScope& scope, std::optional<uint64_t> worker_id,
                         uint32_t dp_rank, dynamo::DropReason reason) {
  Route(scope, [&](Collector& collector) {
    collector.RecordEventDrop(worker_id, dp_rank, reason);
    return worker_id.has_value();
  });
}

void EventRouter::OnChannelDown(const EventScope& scope, uint64_t worker_id, bool down) {
  Route(scope, [&](Collector& collector) { return collector.SetChannelDown(worker_id, down); });
}

void EventRouter::OnSilentChannelsDown(const EventScope& scope, bool down) {
  Route(scope, [&](Collector& collector) { return collector.SetSilentChannelsDown(down); });
}

void EventRouter::Flush() {
  std::vector<std::shared_ptr<Collector>> touched;
  {
    std::lock_guard lock(mutex_);
    touched.swap(touched_);
  }
  for (const std::shared_ptr<Collector>& collector : touched) collector->Publish();
}

}  // namespace mk::fleet
