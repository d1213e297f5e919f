// A Dynamo worker of today, written for the tests from the wire formats of
// dynamo-worker-metrics.md alone (not from the scaler's decoders): it registers in a
// real etcd under a lease (instance, model card, event channel) and publishes
// ActiveLoad records in MessagePack envelopes on its own ZMQ PUB socket, four frames
// as Dynamo's publisher writes them. It can also send what a real worker never
// would: router records, garbage, a restarted sequence.
#ifndef METRICS_KEDA_TESTS_INTEGRATION_EVENT_WORKER_H_
#define METRICS_KEDA_TESTS_INTEGRATION_EVENT_WORKER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "etcd_server.h"

namespace mk::testing {

// One ActiveLoad's fields; unset ones are left out of the map.
struct ActiveLoadFields {
  uint64_t worker_id = 0;
  uint32_t dp_rank = 0;
  std::optional<uint64_t> kv_used_blocks;
  std::optional<uint64_t> active_decode_blocks;
  std::optional<uint64_t> active_prefill_tokens;
  std::optional<uint64_t> waiting_requests;
};

// The MessagePack bytes of an ActiveLoad, and of an envelope around a payload.
std::string PackActiveLoad(const ActiveLoadFields& fields);
std::string PackEnvelope(uint64_t publisher_id, uint64_t sequence, const std::string& topic,
                         const std::string& payload);

struct EventWorkerSpec {
  std::string dynamo_namespace = "dynamo";
  std::string component = "backend";
  std::string endpoint = "generate";
  std::optional<uint64_t> total_kv_blocks = 1000;  // the card's runtime_config
  uint64_t max_num_seqs = 64;
  // Nothing keeps the lease alive: long enough for any test on a busy machine.
  int lease_ttl_seconds = 120;
};

class EventWorker {
 public:
  // Binds its PUB socket, grants a lease and registers under it.
  EventWorker(zmq::context_t& context, EtcdServer& etcd, EventWorkerSpec spec);
  // Binds its PUB socket only: instance `id` is registered elsewhere (a
  // DynamoWorkerMetadata on Kubernetes, naming pub_endpoint() and publisher_id()).
  EventWorker(zmq::context_t& context, uint64_t id, EventWorkerSpec spec);

  uint64_t id() const { return id_; }
  uint64_t publisher_id() const { return publisher_id_; }
  const std::string& lease_hex() const { return lease_hex_; }
  const std::string& pub_endpoint() const { return endpoint_; }

  // Publishes a worker ActiveLoad with kv_used_blocks = `kv_used`.
  void PublishLoad(uint64_t kv_used, std::optional<uint64_t> waiting = std::nullopt);
  // Publishes `fields` about this worker (worker_id filled in) as its next event.
  void PublishActiveLoad(ActiveLoadFields fields);
  // Sends raw frames as one multipart message.
  void SendFrames(const std::vector<std::string>& frames);
  // The publisher restarts: its sequence starts again at 0.
  void RestartSequence() { sequence_ = 0; }
  // Closes the PUB socket, the registration staying: a partition between the scaler
  // and a live worker. Reopen binds the same address again.
  void ClosePublisher() { socket_.close(); }
  void ReopenPublisher();

  // Deletes the keys, as a worker stopping cleanly does (etcd workers only).
  void Deregister();
  // Revokes the lease, as etcd does when a killed worker's TTL runs out (etcd only).
  void RevokeLease();

 private:
  // Binds the PUB socket and picks the publisher id, for instance `id`.
  void Bind(uint64_t id);

  zmq::context_t& context_;
  EtcdServer* etcd_ = nullptr;
  EventWorkerSpec spec_;
  zmq::socket_t socket_;
  std::string endpoint_;
  std::string lease_hex_;
  uint64_t id_ = 0;
  uint64_t publisher_id_ = 0;
  uint64_t sequence_ = 0;
  std::vector<std::string> keys_;
};

}  // namespace mk::testing

#endif  // METRICS_KEDA_TESTS_INTEGRATION_EVENT_WORKER_H_
