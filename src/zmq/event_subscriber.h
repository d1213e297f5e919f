// Hears Dynamo's event plane over ZMQ (DYN_EVENT_PLANE=zmq, the default since
// Dynamo 1.4) and hands each decoded record to an EventSink.
//   - Direct: every publisher binds its own PUB socket and registers it in discovery
//     as an event channel. SetChannels gives the channels to hear; the subscriber
//     keeps one SUB socket per (publisher endpoint, scope), subscribed to the
//     channels' plain topics, opened and closed as channels come and go.
//   - Broker (DYN_ZMQ_BROKER_URL): one SUB socket at the broker's XPUB side,
//     subscribed to the namespaces' subjects; frame 0 carries the full subject,
//     which gives the scope.
// Messages are read as Dynamo's own subscriber reads them (DecodeZmqEvent); each
// publisher's sequence is followed (gaps lost, restarts). In direct mode each
// socket's connection is monitored: once it has been down for longer than
// `channel_down_after`, the workers whose records came through it are told to the
// sink as channel down (and as back when it reconnects). Memory is bounded: each
// socket queues at most `receive_hwm` messages (ZMQ drops the rest at the
// publisher), a message over `max_message_bytes` makes ZMQ drop its sender's
// connection, at most `max_channels` sockets are open, and a message of more than
// four frames is drained and dropped.
//
// One thread does all socket work; the other methods are thread-safe. The sink is
// called on that thread, and Flush after each batch of messages read.
#ifndef METRICS_KEDA_ZMQ_EVENT_SUBSCRIBER_H_
#define METRICS_KEDA_ZMQ_EVENT_SUBSCRIBER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "dynamo/drop_reason.h"
#include "fleet/event_sink.h"

namespace mk::zmq {

// One registered event channel of the direct mode.
struct ZmqChannel {
  std::string endpoint;     // the publisher's PUB socket, tcp://ip:port
  std::string topic;        // plain topic: kv_metrics, forward-pass-metrics
  fleet::EventScope scope;  // where the channel's records are published

  friend auto operator<=>(const ZmqChannel& a, const ZmqChannel& b) {
    return std::tie(a.endpoint, a.scope.dynamo_namespace, a.scope.component, a.scope.endpoint,
                    a.topic) <=> std::tie(b.endpoint, b.scope.dynamo_namespace, b.scope.component,
                                          b.scope.endpoint, b.topic);
  }
  friend bool operator==(const ZmqChannel&, const ZmqChannel&) = default;
};

struct ZmqSubscriberSettings {
  // Broker mode: the broker's XPUB address (tcp://host:port); empty for direct.
  std::string broker_xpub;
  // Broker mode: the Dynamo namespaces whose subjects to subscribe to.
  std::vector<std::string> broker_namespaces;
  // Messages each socket may queue; beyond it ZMQ drops at the publisher's side. A
  // worker sends a few a second; 1,000 absorb any burst while a snapshot is taken.
  int receive_hwm = 1000;
  // Dynamo's largest event (an envelope with a ForwardPassMetrics) is well under 1 KiB;
  // a larger frame makes ZMQ drop its sender's connection. With the queue above, a
  // flooding publisher can hold at most about 16 MiB of the scaler's memory.
  int64_t max_message_bytes = 16 << 10;
  size_t max_channels = 10000;
  // Direct mode: a channel whose connection has been down this long makes the units
  // heard through it unreadable (channel_down): the staleness bound.
  std::chrono::nanoseconds channel_down_after = std::chrono::seconds(15);
};

struct ZmqSubscriberStats {
  uint64_t messages = 0;        // multipart messages read
  uint64_t other_topics = 0;    // envelopes of topics the scaler does not read
  dynamo::DropCounts drops;     // messages dropped before their record (frames, envelope)
  uint64_t lost = 0;            // sequence gaps: events the transport lost
  uint64_t restarts = 0;        // publishers whose sequence started over
  size_t sockets = 0;           // SUB sockets open
  size_t channels_down = 0;     // of them, down for longer than channel_down_after
  size_t channels_refused = 0;  // channels beyond max_channels, or ZMQ would not open
};

class ZmqEventSubscriber {
 public:
  // Starts the thread (and, in broker mode, connects to the broker). INVALID_ARGUMENT
  // for a broker address ZMQ refuses.
  static absl::StatusOr<std::unique_ptr<ZmqEventSubscriber>> Start(ZmqSubscriberSettings settings,
                                                                   fleet::EventSink& sink);
  ~ZmqEventSubscriber();  // stops the thread; the sink is not called after it returns
  ZmqEventSubscriber(const ZmqEventSubscriber&) = delete;
  ZmqEventSubscriber& operator=(const ZmqEventSubscriber&) = delete;

  // Direct mode: the channels to hear from now on (replacing the previous set). Takes
  // effect on the subscriber's thread within milliseconds.
  void SetChannels(std::vector<ZmqChannel> channels);

  ZmqSubscriberStats Stats() const;
  bool broker() const { return !settings_.broker_xpub.empty(); }

 private:
  struct Impl;
  ZmqEventSubscriber(ZmqSubscriberSettings settings, fleet::EventSink& sink);
  void Run();

  const ZmqSubscriberSettings settings_;
  fleet::EventSink& sink_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace mk::zmq

#endif  // METRICS_KEDA_ZMQ_EVENT_SUBSCRIBER_H_
