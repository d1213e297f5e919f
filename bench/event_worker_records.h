// What the event-plane benchmark tools (event_flood, event_latency) need of a Dynamo
// worker of today, built from the simulated fleet's payload builders
// (tools/mock_worker): its three etcd records (instance, model card with a KV
// capacity, endpoint-scoped kv_metrics event channel on a ZMQ PUB socket), the four
// ZMQ frames of one ActiveLoad event, and a few helpers for sockets that publish
// exactly as a PUB socket does but also say who subscribed (XPUB, verbose).
#ifndef METRICS_KEDA_BENCH_EVENT_WORKER_RECORDS_H_
#define METRICS_KEDA_BENCH_EVENT_WORKER_RECORDS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "mock_worker/discovery_payloads.h"
#include "mock_worker/event_payloads.h"

namespace mk::bench {

struct WorkerSpec {
  std::string dynamo_namespace = "dynamo";
  std::string component = "backend";
  std::string endpoint = "generate";
  uint64_t kv_total_blocks = 1000;
  uint64_t max_num_seqs = 64;
};

// The instance, model card and event channel records of worker `worker_id`, whose
// kv_metrics events come from publisher `publisher_id` on `pub_endpoint`.
inline std::vector<mock::DiscoveryEntry> WorkerRecords(const WorkerSpec& spec, uint64_t worker_id,
                                                       uint64_t publisher_id,
                                                       const std::string& pub_endpoint) {
  const mock::DiscoveryTarget target{spec.dynamo_namespace, spec.component, spec.endpoint};
  mock::ChannelSpec channel;
  channel.scope = mock::EventScope::kEndpoint;
  channel.topic = mock::kKvMetricsTopic;
  channel.publisher_id = publisher_id;
  channel.kind = mock::ChannelKind::kZmq;
  channel.address = pub_endpoint;
  return {mock::InstanceEntry(target, worker_id,
                              spec.dynamo_namespace + "." + spec.component + "." + spec.endpoint),
          mock::ModelCardEntry(target, worker_id, {spec.kv_total_blocks, spec.max_num_seqs, 1}),
          mock::EventChannelEntry(target, channel)};
}

inline uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The four frames of a worker's ActiveLoad with kv_used_blocks = `kv_used`.
inline std::array<std::string, 4> ActiveLoadFrames(uint64_t worker_id, uint64_t publisher_id,
                                                   uint64_t sequence, uint64_t kv_used) {
  mock::ActiveLoadFields load;
  load.worker_id = worker_id;
  load.kv_used_blocks = kv_used;
  const std::string payload = mock::PackActiveLoad(load);
  mock::EnvelopeFields fields{publisher_id, sequence, WallMs(), mock::kKvMetricsTopic, payload};
  return mock::ZmqEventFrames(mock::kKvMetricsTopic, fields);
}

// Sends one multipart message without blocking; false when ZMQ refused a frame
// (a PUB never does: beyond its high-water mark it drops silently).
inline bool SendFrames(zmq::socket_t& socket, const std::array<std::string, 4>& frames) {
  for (size_t k = 0; k < frames.size(); ++k) {
    const zmq::send_flags flags = k + 1 < frames.size()
                                      ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                      : zmq::send_flags::dontwait;
    if (!socket.send(zmq::buffer(frames[k]), flags)) return false;
  }
  return true;
}

// An XPUB socket bound to a free loopback port: on the wire and when sending it is a
// PUB socket (libzmq's PUB is an XPUB that hides subscriptions); verbose, so every
// subscriber's subscription is read, not only the first of a topic.
inline zmq::socket_t BindPublisher(zmq::context_t& context, int sndhwm, std::string& endpoint) {
  zmq::socket_t socket(context, zmq::socket_type::xpub);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, sndhwm);
  socket.set(zmq::sockopt::xpub_verbose, 1);
  socket.bind("tcp://127.0.0.1:*");
  endpoint = socket.get(zmq::sockopt::last_endpoint);
  return socket;
}

// Reads the subscription messages waiting on an XPUB socket: +1 for each
// subscription to kv_metrics, -1 for each unsubscription.
inline int ReadSubscriptions(zmq::socket_t& socket) {
  int change = 0;
  zmq::message_t message;
  while (socket.recv(message, zmq::recv_flags::dontwait)) {
    const std::string_view text = message.to_string_view();
    if (text.size() < 1 || text.substr(1) != mock::kKvMetricsTopic) continue;
    change += text[0] == 1 ? 1 : text[0] == 0 ? -1 : 0;
  }
  return change;
}

}  // namespace mk::bench

#endif  // METRICS_KEDA_BENCH_EVENT_WORKER_RECORDS_H_
