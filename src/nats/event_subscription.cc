#include "nats/event_subscription.h"

#include <spdlog/spdlog.h>

#include "dynamo/event_envelope.h"
#include "dynamo/event_subject.h"
#include "dynamo/json_event_decoder.h"
#include "dynamo/publisher_sequences.h"

namespace mk::nats {

// One namespace's subscription and what its delivery thread alone touches.
struct NatsEventSubscription::Namespace {
  NatsEventSubscription* owner = nullptr;
  natsSubscription* subscription = nullptr;
  dynamo::JsonEventDecoder json;
  dynamo::PublisherSequences sequences;
  // Counted on the delivery thread, read by Stats.
  std::mutex mutex;
  NatsEventStats stats;
};

NatsEventSubscription::NatsEventSubscription(NatsConnection& connection, fleet::EventSink& sink,
                                             int max_pending_messages, int max_pending_bytes)
    : connection_(connection),
      sink_(sink),
      max_pending_messages_(max_pending_messages),
      max_pending_bytes_(max_pending_bytes) {}

NatsEventSubscription::~NatsEventSubscription() {
  std::lock_guard lock(mutex_);
  for (auto& [name, ns] : namespaces_) {
    // A drain ends delivery and lets its wait see the last callback return; on a
    // lost connection it cannot run, and unsubscribing ends delivery locally.
    if (natsSubscription_Drain(ns->subscription) == NATS_OK) {
      natsSubscription_WaitForDrainCompletion(ns->subscription, 2000);
    } else {
      natsSubscription_Unsubscribe(ns->subscription);
    }
    natsSubscription_Destroy(ns->subscription);
  }
}

absl::Status NatsEventSubscription::Subscribe(const std::string& dynamo_namespace) {
  std::lock_guard lock(mutex_);
  if (namespaces_.contains(dynamo_namespace)) return absl::OkStatus();
  auto ns = std::make_unique<Namespace>();
  ns->owner = this;
  const std::string subject = dynamo::NamespaceWildcard(dynamo_namespace);
  natsStatus status = natsConnection_Subscribe(&ns->subscription, connection_.raw(),
                                               subject.c_str(), OnMessage, ns.get());
  if (status == NATS_OK) {
    status = natsSubscription_SetPendingLimits(ns->subscription, max_pending_messages_,
                                               max_pending_bytes_);
  }
  if (status != NATS_OK) {
    if (ns->subscription != nullptr) natsSubscription_Destroy(ns->subscription);
    return absl::UnavailableError("cannot subscribe to " + subject + ": " +
                                  natsStatus_GetText(status));
  }
  spdlog::info("event plane (NATS): subscribed to {}", subject);
  namespaces_.emplace(dynamo_namespace, std::move(ns));
  return absl::OkStatus();
}

void NatsEventSubscription::OnMessage(natsConnection*, natsSubscription* sub, natsMsg* msg,
                                      void* closure) {
  auto& ns = *static_cast<Namespace*>(closure);
  NatsEventSubscription& self = *ns.owner;
  const std::string_view subject = natsMsg_GetSubject(msg);
  const std::string_view body(natsMsg_GetData(msg),
                              static_cast<size_t>(natsMsg_GetDataLength(msg)));
  NatsEventStats counted;
  counted.messages = 1;
  std::optional<dynamo::EventSubject> parsed = dynamo::ParseEventSubject(subject);
  if (!parsed) {
    ++counted.other_topics;
  } else {
    const fleet::EventScope scope{std::move(parsed->dynamo_namespace), std::move(parsed->component),
                                  std::move(parsed->endpoint)};
    if (!body.empty() && body.front() == '{') {
      if (parsed->topic == dynamo::kKvMetricsTopic) {
        fleet::DeliverJsonEvent(scope, body, ns.json, self.sink_);
      } else {
        ++counted.other_topics;
      }
    } else if (parsed->topic == dynamo::kKvMetricsTopic ||
               parsed->topic == dynamo::kForwardPassMetricsTopic) {
      const dynamo::Decoded<dynamo::EventEnvelope> envelope = dynamo::DecodeEventEnvelope(body);
      if (!envelope.ok()) {
        counted.drops.Add(envelope.reason);
      } else {
        ns.sequences.Observe(envelope.record->publisher_id, envelope.record->sequence);
        if (!fleet::DeliverEnvelope(scope, *envelope.record, self.sink_)) ++counted.other_topics;
      }
    } else {
      ++counted.other_topics;
    }
  }
  natsMsg_Destroy(msg);
  // The last message queued ends the batch: one snapshot for all of it.
  int pending = 0;
  if (natsSubscription_GetPending(sub, &pending, nullptr) != NATS_OK || pending == 0) {
    self.sink_.Flush();
  }
  std::lock_guard lock(ns.mutex);
  ns.stats.messages += counted.messages;
  ns.stats.other_topics += counted.other_topics;
  ns.stats.drops.Merge(counted.drops);
  ns.stats.lost = ns.sequences.lost();
  ns.stats.restarts = ns.sequences.restarts();
}

NatsEventStats NatsEventSubscription::Stats() const {
  NatsEventStats total;
  std::lock_guard lock(mutex_);
  for (const auto& [name, ns] : namespaces_) {
    int64_t dropped = 0;
    natsSubscription_GetDropped(ns->subscription, &dropped);
    std::lock_guard ns_lock(ns->mutex);
    total.messages += ns->stats.messages;
    total.other_topics += ns->stats.other_topics;
    total.drops.Merge(ns->stats.drops);
    total.lost += ns->stats.lost;
    total.restarts += ns->stats.restarts;
    total.client_dropped += static_cast<uint64_t>(dropped);
  }
  total.subscriptions = namespaces_.size();
  return total;
}

}  // namespace mk::nats
