#include "zmq/event_subscriber.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "dynamo/discovery_records.h"
#include "dynamo/event_envelope.h"
#include "dynamo/event_subject.h"
#include "dynamo/publisher_sequences.h"

namespace mk::zmq {
namespace {

// How long the thread waits for a message before looking at its settings again. A
// channel change wakes it at once; this only bounds how late a stop is seen.
constexpr auto kPollTimeout = std::chrono::milliseconds(200);
// Messages read from one socket before the others get their turn and the batch is
// flushed: a flooding publisher cannot starve the rest, nor delay their snapshots.
constexpr int kBatchPerSocket = 256;
// Dynamo's messages have four frames; more are read (to keep the socket in step)
// but not kept.
constexpr size_t kMaxFrames = 8;
// Workers remembered per channel for telling them channel down: a channel is one
// worker's, or one process's few; past this the rest are not told (bounded memory).
constexpr size_t kMaxWorkersPerChannel = 4096;

// The key of a SUB socket: one per publisher endpoint and scope.
struct SocketKey {
  std::string endpoint;
  fleet::EventScope scope;
  friend bool operator<(const SocketKey& a, const SocketKey& b) {
    return std::tie(a.endpoint, a.scope.dynamo_namespace, a.scope.component, a.scope.endpoint) <
           std::tie(b.endpoint, b.scope.dynamo_namespace, b.scope.component, b.scope.endpoint);
  }
};

}  // namespace

struct ZmqEventSubscriber::Impl {
  // Each channel takes three sockets (its SUB, the SUB's monitor and the pair that
  // reads it); libzmq allows 1,023 per context unless told otherwise, and refuses
  // the next socket with an exception.
  explicit Impl(size_t max_channels) {
    context.set(::zmq::ctxopt::max_sockets, static_cast<int>(3 * max_channels + 16));
    wake_out = ::zmq::socket_t(context, ::zmq::socket_type::pair);
    wake_in = ::zmq::socket_t(context, ::zmq::socket_type::pair);
  }

  ::zmq::context_t context{1};
  // Wakes the thread when the channels change: SetChannels sends on `wake_in`.
  ::zmq::socket_t wake_out;
  std::mutex wake_mutex;
  ::zmq::socket_t wake_in;
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // guards what follows
  std::optional<std::vector<ZmqChannel>> pending_channels;
  ZmqSubscriberStats stats;

  // Thread only.
  struct Subscription {
    ::zmq::socket_t socket;
    std::set<std::string> topics;
    // The socket's connection events (ZMQ_EVENT_CONNECTED / DISCONNECTED).
    ::zmq::socket_t monitor;
    std::optional<std::chrono::steady_clock::time_point> down_since;
    bool told_down = false;
    std::set<uint64_t> workers;  // heard through it, at most kMaxWorkersPerChannel
  };
  std::map<SocketKey, Subscription> sockets;
  std::unique_ptr<::zmq::socket_t> broker_socket;
  dynamo::PublisherSequences sequences;
};

absl::StatusOr<std::unique_ptr<ZmqEventSubscriber>> ZmqEventSubscriber::Start(
    ZmqSubscriberSettings settings, fleet::EventSink& sink) {
  std::unique_ptr<ZmqEventSubscriber> subscriber(new ZmqEventSubscriber(std::move(settings), sink));
  Impl& impl = *subscriber->impl_;
  const std::string wake = "inproc://metrics-keda-zmq-wake-" +
                           std::to_string(reinterpret_cast<uintptr_t>(subscriber.get()));
  impl.wake_out.bind(wake);
  impl.wake_in.connect(wake);
  if (subscriber->broker()) {
    try {
      auto socket = std::make_unique<::zmq::socket_t>(impl.context, ::zmq::socket_type::sub);
      socket->set(::zmq::sockopt::rcvhwm, subscriber->settings_.receive_hwm);
      socket->set(::zmq::sockopt::maxmsgsize, subscriber->settings_.max_message_bytes);
      socket->connect(subscriber->settings_.broker_xpub);
      for (const std::string& ns : subscriber->settings_.broker_namespaces) {
        // Every subject of the namespace: "namespace.<ns>." then the scope and topic.
        socket->set(::zmq::sockopt::subscribe,
                    "namespace." + dynamo::PercentEncodeSegment(ns) + ".");
      }
      impl.broker_socket = std::move(socket);
    } catch (const ::zmq::error_t& error) {
      return absl::InvalidArgumentError("--zmq-broker: cannot subscribe at " +
                                        subscriber->settings_.broker_xpub + ": " + error.what());
    }
  }
  subscriber->thread_ = std::thread([s = subscriber.get()] { s->Run(); });
  return subscriber;
}

ZmqEventSubscriber::ZmqEventSubscriber(ZmqSubscriberSettings settings, fleet::EventSink& sink)
    : settings_(std::move(settings)),
      sink_(sink),
      impl_(std::make_unique<Impl>(settings_.max_channels)) {}

ZmqEventSubscriber::~ZmqEventSubscriber() {
  impl_->stopping = true;
  {
    std::lock_guard lock(impl_->wake_mutex);
    impl_->wake_in.send(::zmq::str_buffer("stop"), ::zmq::send_flags::dontwait);
  }
  if (thread_.joinable()) thread_.join();
  // Sockets close before the context (members in reverse order): no linger.
  impl_->sockets.clear();
  impl_->broker_socket.reset();
}

void ZmqEventSubscriber::SetChannels(std::vector<ZmqChannel> channels) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->pending_channels = std::move(channels);
  }
  std::lock_guard lock(impl_->wake_mutex);
  impl_->wake_in.send(::zmq::str_buffer("channels"), ::zmq::send_flags::dontwait);
}

ZmqSubscriberStats ZmqEventSubscriber::Stats() const {
  std::lock_guard lock(impl_->mutex);
  ZmqSubscriberStats stats = impl_->stats;
  return stats;
}

void ZmqEventSubscriber::Run() {
  Impl& impl = *impl_;
  std::vector<::zmq::pollitem_t> items;
  // items[1..]: the data sockets, then the monitors of direct subscriptions.
  std::vector<std::pair<::zmq::socket_t*, fleet::EventScope>> polled;
  std::vector<Impl::Subscription*> monitored;
  uint64_t monitors_made = 0;
  auto rebuild = [&] {
    items.clear();
    polled.clear();
    items.push_back({impl.wake_out.handle(), 0, ZMQ_POLLIN, 0});
    if (impl.broker_socket) {
      items.push_back({impl.broker_socket->handle(), 0, ZMQ_POLLIN, 0});
      polled.emplace_back(impl.broker_socket.get(), fleet::EventScope{});
    }
    monitored.clear();
    for (auto& [key, subscription] : impl.sockets) {
      items.push_back({subscription.socket.handle(), 0, ZMQ_POLLIN, 0});
      polled.emplace_back(&subscription.socket, key.scope);
    }
    for (auto& [key, subscription] : impl.sockets) {
      items.push_back({subscription.monitor.handle(), 0, ZMQ_POLLIN, 0});
      monitored.push_back(&subscription);
    }
  };
  // A SUB socket connected to `key`'s publisher, with its connection monitor; none
  // (logged) when ZMQ refuses any part of it (out of sockets or descriptors, a bad
  // address).
  auto open = [&](const SocketKey& key) -> std::optional<Impl::Subscription> {
    try {
      ::zmq::socket_t socket(impl.context, ::zmq::socket_type::sub);
      socket.set(::zmq::sockopt::rcvhwm, settings_.receive_hwm);
      socket.set(::zmq::sockopt::maxmsgsize, settings_.max_message_bytes);
      socket.set(::zmq::sockopt::linger, 0);
      // Its connection events, on an inproc pair read in the same poll; attached
      // before connecting, so that the first CONNECTED is not missed.
      const std::string address = "inproc://metrics-keda-zmq-monitor-" +
                                  std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" +
                                  std::to_string(++monitors_made);
      if (zmq_socket_monitor(socket.handle(), address.c_str(),
                             ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0) {
        throw ::zmq::error_t();
      }
      ::zmq::socket_t monitor(impl.context, ::zmq::socket_type::pair);
      monitor.set(::zmq::sockopt::linger, 0);
      monitor.connect(address);
      socket.connect(key.endpoint);
      Impl::Subscription subscription{std::move(socket), {}, std::move(monitor), {}, false, {}};
      // Down until it connects: a channel that never connects is down too.
      subscription.down_since = std::chrono::steady_clock::now();
      return subscription;
    } catch (const ::zmq::error_t& error) {
      spdlog::warn("event channel {}: cannot subscribe: {}", key.endpoint, error.what());
      return std::nullopt;
    }
  };
  auto apply_channels = [&](std::vector<ZmqChannel> channels) {
    std::map<SocketKey, std::set<std::string>> wanted;
    size_t refused = 0, failed = 0, opened = 0, closed = 0;
    for (ZmqChannel& channel : channels) {
      SocketKey key{channel.endpoint, channel.scope};
      if (!wanted.contains(key) && wanted.size() >= settings_.max_channels) {
        ++refused;
        continue;
      }
      wanted[key].insert(channel.topic);
    }
    for (auto it = impl.sockets.begin(); it != impl.sockets.end();) {
      if (!wanted.contains(it->first)) {
        spdlog::debug("event channel {} closed", it->first.endpoint);
        ++closed;
        it = impl.sockets.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [key, topics] : wanted) {
      auto it = impl.sockets.find(key);
      if (it == impl.sockets.end()) {
        std::optional<Impl::Subscription> subscription = open(key);
        if (!subscription) {
          ++failed;
          continue;
        }
        it = impl.sockets.emplace(key, std::move(*subscription)).first;
        spdlog::debug("event channel {} ({}{}{}) opened", key.endpoint, key.scope.dynamo_namespace,
                      key.scope.component.empty() ? "" : "/" + key.scope.component,
                      key.scope.endpoint.empty() ? "" : "/" + key.scope.endpoint);
        ++opened;
      }
      Impl::Subscription& subscription = it->second;
      for (const std::string& topic : topics) {
        if (subscription.topics.insert(topic).second) {
          subscription.socket.set(::zmq::sockopt::subscribe, topic);
        }
      }
      for (auto t = subscription.topics.begin(); t != subscription.topics.end();) {
        if (!topics.contains(*t)) {
          subscription.socket.set(::zmq::sockopt::unsubscribe, *t);
          t = subscription.topics.erase(t);
        } else {
          ++t;
        }
      }
    }
    std::lock_guard lock(impl.mutex);
    impl.stats.sockets = impl.sockets.size();
    impl.stats.channels_refused = refused + failed;
    // One line per change of the set, however many channels it moves.
    if (opened + closed + refused + failed > 0) {
      spdlog::info(
          "event channels: {} open ({} opened, {} closed{})", impl.sockets.size(), opened, closed,
          refused + failed > 0
              ? fmt::format(", {} refused: over the channel limit, or by ZMQ", refused + failed)
              : std::string());
    }
  };

  // Per batch, counted locally and added to the shared stats once.
  ZmqSubscriberStats batch;
  std::vector<::zmq::message_t> frames;
  std::array<std::string_view, kMaxFrames> views;
  // Where a record's worker came from, so that it can be told channel down later.
  Impl::Subscription* reading = nullptr;
  auto read_one = [&](::zmq::socket_t& socket, const fleet::EventScope& channel_scope) -> bool {
    frames.clear();
    while (true) {
      ::zmq::message_t frame;
      if (!socket.recv(frame, ::zmq::recv_flags::dontwait)) return !frames.empty();
      const bool more = frame.more();
      if (frames.size() < kMaxFrames) frames.push_back(std::move(frame));
      if (!more) break;
    }
    ++batch.messages;
    for (size_t i = 0; i < frames.size(); ++i) views[i] = frames[i].to_string_view();
    const dynamo::Decoded<dynamo::ZmqEvent> event =
        dynamo::DecodeZmqEvent(std::span(views.data(), frames.size()));
    if (!event.ok()) {
      batch.drops.Add(event.reason);
      return true;
    }
    const dynamo::EventEnvelope& envelope = event.record->envelope;
    impl.sequences.Observe(envelope.publisher_id, envelope.sequence);
    fleet::EventScope scope = channel_scope;
    if (broker()) {
      // Through a broker, frame 0 is the full subject: the scope is in it.
      std::optional<dynamo::EventSubject> subject =
          dynamo::ParseEventSubject(event.record->frame_topic);
      if (!subject) {
        batch.drops.Add(dynamo::DropReason::kBadFrames);
        return true;
      }
      scope = {std::move(subject->dynamo_namespace), std::move(subject->component),
               std::move(subject->endpoint)};
    }
    std::optional<uint64_t> worker;
    if (!fleet::DeliverEnvelope(scope, envelope, sink_, &worker)) ++batch.other_topics;
    if (reading != nullptr) {
      // A message came: whatever the monitor said, the channel is up.
      reading->down_since.reset();
      if (worker && reading->workers.size() < kMaxWorkersPerChannel) {
        reading->workers.insert(*worker);
      }
    }
    return true;
  };
  // Reads one monitor's queued connection events into its subscription's state.
  auto read_monitor = [&](Impl::Subscription& subscription) {
    ::zmq::message_t event;
    while (subscription.monitor.recv(event, ::zmq::recv_flags::dontwait)) {
      uint16_t id = 0;
      if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
      // The event's second frame, the peer's address, is not needed.
      ::zmq::message_t address;
      while (event.more() && subscription.monitor.recv(address, ::zmq::recv_flags::dontwait)) {
        if (!address.more()) break;
      }
      if (id == ZMQ_EVENT_CONNECTED) {
        subscription.down_since.reset();
      } else if (id == ZMQ_EVENT_DISCONNECTED && !subscription.down_since) {
        subscription.down_since = std::chrono::steady_clock::now();
      }
    }
  };
  // Tells the sink of channels down too long, or back. Not on every batch: the bound
  // is seconds, so once a poll timeout is as often as it needs to run, and a flood
  // of messages does not pay a pass over every channel each time.
  std::map<fleet::EventScope, bool> told_silent;
  auto last_check = std::chrono::steady_clock::time_point{};
  auto check_channels = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check < kPollTimeout) return;
    last_check = now;
    size_t down = 0;
    bool told = false;
    for (auto& [key, subscription] : impl.sockets) {
      const bool is_down =
          subscription.down_since && now - *subscription.down_since > settings_.channel_down_after;
      if (is_down) ++down;
      if (is_down == subscription.told_down) continue;
      if (is_down) {
        spdlog::warn("event channel {} down for over {:.3g}s: its {} worker(s) read unreadable",
                     key.endpoint,
                     std::chrono::duration<double>(settings_.channel_down_after).count(),
                     subscription.workers.size());
      } else {
        spdlog::info("event channel {} back", key.endpoint);
      }
      subscription.told_down = is_down;
      for (uint64_t worker : subscription.workers) sink_.OnChannelDown(key.scope, worker, is_down);
      told = told || !subscription.workers.empty();
    }
    // Per scope: is a channel nothing came through down? Told on change.
    std::map<fleet::EventScope, bool> silent_down;
    for (auto& [key, subscription] : impl.sockets) {
      bool& any = silent_down[key.scope];
      any = any || (subscription.told_down && subscription.workers.empty());
    }
    for (const auto& [scope, any] : silent_down) {
      auto it = told_silent.find(scope);
      if ((it != told_silent.end() && it->second == any) || (it == told_silent.end() && !any)) {
        continue;
      }
      sink_.OnSilentChannelsDown(scope, any);
      told_silent[scope] = any;
      told = true;
    }
    for (auto it = told_silent.begin(); it != told_silent.end();) {
      if (silent_down.contains(it->first)) {
        ++it;
        continue;
      }
      // The channels of that scope are gone: nothing is down there any more.
      if (it->second) {
        sink_.OnSilentChannelsDown(it->first, false);
        told = true;
      }
      it = told_silent.erase(it);
    }
    if (told) sink_.Flush();
    std::lock_guard lock(impl.mutex);
    impl.stats.channels_down = down;
  };

  rebuild();
  while (!impl.stopping) {
    try {
      ::zmq::poll(items, kPollTimeout);
    } catch (const ::zmq::error_t& error) {
      if (error.num() == EINTR) continue;
      spdlog::error("event plane: poll failed: {}", error.what());
      return;
    }
    if (impl.stopping) break;
    if (items[0].revents & ZMQ_POLLIN) {
      ::zmq::message_t ignored;
      while (impl.wake_out.recv(ignored, ::zmq::recv_flags::dontwait)) {
      }
      std::optional<std::vector<ZmqChannel>> channels;
      {
        std::lock_guard lock(impl.mutex);
        channels.swap(impl.pending_channels);
      }
      if (channels) {
        apply_channels(std::move(*channels));
        rebuild();
        continue;
      }
    }
    batch = ZmqSubscriberStats{};
    bool any = false;
    for (size_t i = 1; i <= polled.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      auto& [socket, scope] = polled[i - 1];
      reading = impl.broker_socket ? nullptr : monitored[i - 1];
      for (int n = 0; n < kBatchPerSocket && read_one(*socket, scope); ++n) any = true;
    }
    reading = nullptr;
    for (size_t k = 0; k < monitored.size(); ++k) {
      if (items[1 + polled.size() + k].revents & ZMQ_POLLIN) read_monitor(*monitored[k]);
    }
    check_channels();
    if (!any) continue;
    sink_.Flush();
    std::lock_guard lock(impl.mutex);
    impl.stats.messages += batch.messages;
    impl.stats.other_topics += batch.other_topics;
    impl.stats.drops.Merge(batch.drops);
    impl.stats.lost = impl.sequences.lost();
    impl.stats.restarts = impl.sequences.restarts();
  }
}

}  // namespace mk::zmq
