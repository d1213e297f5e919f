// The discovery records a simulated Dynamo worker puts in etcd, as Dynamo 1.4 on
// writes them (dynamo-worker-metrics.md, section 4): its endpoint instance, its model
// card, and the event channels it publishes on. Keys come from the scaler's own key
// writer (mk::dynamo::DiscoveryKeyText), so both sides spell them alike; values are
// the JSON records the scaler's DiscoveryRecordDecoder reads back.
//
// Pure functions of their arguments; safe to call from any thread.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_DISCOVERY_PAYLOADS_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_DISCOVERY_PAYLOADS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "mock_worker/event_payloads.h"

namespace mk::mock {

struct DiscoveryEntry {
  std::string key;
  std::string value;
};

// Where a worker is: namespace, component, endpoint (taken as they stand in the
// v1/instances and v1/mdc keys, percent-encoded in the scoped event channel keys).
struct DiscoveryTarget {
  std::string dynamo_namespace;
  std::string component;
  std::string endpoint;
};

// v1/instances/<ns>/<c>/<ep>/<id hex>: {"type":"Endpoint", namespace, component,
// endpoint, instance_id, "transport":{<transport>: <address>}}. `transport` is
// "nats_tcp" with the NATS request subject, or "tcp" with Dynamo's TCP request plane
// address (`<ip>:<port>/<id hex>/<endpoint>`, as workers on Kubernetes write it).
DiscoveryEntry InstanceEntry(const DiscoveryTarget& target, uint64_t instance_id,
                             std::string_view address, std::string_view transport = "nats_tcp");

// What the model card says a worker can hold.
struct ModelCardFigures {
  uint64_t total_kv_blocks = 0;  // per data-parallel rank; 0 is written as null
  uint64_t max_num_seqs = 0;     // 0 is written as null
  uint32_t data_parallel_size = 1;
  uint32_t data_parallel_start_rank = 0;  // the first rank this worker serves
};

// v1/mdc/<ns>/<c>/<ep>/<id hex>: {"type":"Model", namespace, component, endpoint,
// instance_id, "card_json":{..., "kv_cache_block_size": kKvBlockSize, "runtime_config":
// {total_kv_blocks, max_num_seqs, max_num_batched_tokens 8192,
// data_parallel_start_rank, data_parallel_size, ...}, ...}}.
DiscoveryEntry ModelCardEntry(const DiscoveryTarget& target, uint64_t instance_id,
                              const ModelCardFigures& figures);

enum class ChannelKind { kZmq, kNats };

// One event channel of one publisher.
struct ChannelSpec {
  EventScope scope = EventScope::kEndpoint;  // kEndpoint or kComponent
  std::string_view topic;
  uint64_t publisher_id = 0;
  ChannelKind kind = ChannelKind::kZmq;
  // kZmq: the PUB socket, tcp://<ip>:<port>. kNats: the subject prefix (the event's
  // subject without its topic).
  std::string address;
};

// v1/event_channels/namespace/<ns>/component/<c>[/endpoint/<ep>]/topic/<topic>/<publisher
// id hex> (segments percent-encoded): {"type":"EventChannel", "scope":{"kind":
// "endpoint", "endpoint":{namespace, component, name}} or {"kind":"component",
// namespace, component}, topic, "instance_id": <publisher id>, "transport":{"kind":"Zmq",
// "config":{"endpoint": ...}} or {"kind":"Nats", "config":{"subject_prefix": ...}}}.
DiscoveryEntry EventChannelEntry(const DiscoveryTarget& target, const ChannelSpec& channel);

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_DISCOVERY_PAYLOADS_H_
