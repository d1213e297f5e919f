// Hears Dynamo's event plane over NATS (DYN_EVENT_PLANE=nats, and every release
// from August 2025 to 1.3 by default): one subscription per Dynamo namespace, to
// `namespace.<ns>.>`, which receives the namespace-, component- and endpoint-scoped
// subjects alike (dynamo::ParseEventSubject gives each message its scope). Bodies are
// the MessagePack envelope (0.9 on) or, before it, JSON (json_event_decoder.h): told
// apart by their first byte, since an envelope is a MessagePack map (0x80 - 0x8f,
// 0xde, 0xdf) and never starts with '{'.
//
// Memory is bounded by the subscription's pending limits (messages beyond them are
// dropped by the NATS client and counted). Records go to the sink on the
// subscription's delivery thread; Flush follows the last message queued.
//
// Thread-safe.
#ifndef METRICS_KEDA_NATS_EVENT_SUBSCRIPTION_H_
#define METRICS_KEDA_NATS_EVENT_SUBSCRIPTION_H_

#include <nats/nats.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "dynamo/drop_reason.h"
#include "fleet/event_sink.h"
#include "nats/nats_connection.h"

namespace mk::nats {

struct NatsEventStats {
  uint64_t messages = 0;
  uint64_t other_topics = 0;    // subjects of the namespace that carry no load
  dynamo::DropCounts drops;     // bodies dropped before their record (envelope, subject)
  uint64_t lost = 0;            // sequence gaps
  uint64_t restarts = 0;        // publishers whose sequence started over
  uint64_t client_dropped = 0;  // over the pending limits, dropped by the NATS client
  size_t subscriptions = 0;
};

class NatsEventSubscription {
 public:
  // `max_pending_bytes`: queued bytes per subscription before the client drops.
  NatsEventSubscription(NatsConnection& connection, fleet::EventSink& sink,
                        int max_pending_messages = 100000, int max_pending_bytes = 64 << 20);
  ~NatsEventSubscription();  // unsubscribes; the sink is not called after it returns
  NatsEventSubscription(const NatsEventSubscription&) = delete;
  NatsEventSubscription& operator=(const NatsEventSubscription&) = delete;

  // Subscribes to the namespace's events once (later calls do nothing). The NATS
  // client keeps the subscription across reconnects.
  absl::Status Subscribe(const std::string& dynamo_namespace);

  NatsEventStats Stats() const;

 private:
  struct Namespace;
  static void OnMessage(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);

  NatsConnection& connection_;
  fleet::EventSink& sink_;
  const int max_pending_messages_;
  const int max_pending_bytes_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Namespace>> namespaces_;
};

}  // namespace mk::nats

#endif  // METRICS_KEDA_NATS_EVENT_SUBSCRIPTION_H_
