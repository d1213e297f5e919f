// Decodes Dynamo's discovery records as they stand in etcd (and, as the same JSON, in
// Kubernetes DynamoWorkerMetadata): which worker instances serve an endpoint, the
// model card saying what each can hold, and the event channels the workers publish
// on. Pure: keys and values in, plain records or a reason out.
//
// Key layouts (Dynamo writes ids as lowercase hex without padding):
//   v1/instances/<ns>/<comp>/<ep>/<id hex>                          (2026)
//   v1/mdc/<ns>/<comp>/<ep>/<id hex>[/<lora>]                       (2026)
//   v1/event_channels/<ns>/<comp>/<topic>/<id hex>                  (early 2026, "flat")
//   v1/event_channels/namespace/<ns>[/component/<c>[/endpoint/<ep>]]/topic/<topic>/<id hex>
//                                     (newest, "scoped"; <ns>, <c>, <ep> and <topic> are
//                                      percent-encoded, the id is the publisher's)
//   instances/<ns>/<comp>/<ep>:<lease hex>                          (May - Oct 2025)
//   <ns>/components/<comp>/<ep>:<lease hex>                         (to May 2025)
// Only the scoped layout percent-encodes its segments; the others are taken as they
// stand. A key that fits the May - Oct 2025 layout and the older one at once
// (`instances/components/<comp>/<ep>:<hex>`) is read as the May - Oct 2025 layout.
//
// Values are JSON objects, read strictly by field name; unknown fields are ignored.
// A value is checked against its key: the record type, namespace, component,
// endpoint, topic, scope and id must agree, or the record is dropped (key_mismatch).
// Neither keys nor values are trusted: any bytes may be given, sizes are bounded, and
// nothing recurses on the input.
#ifndef METRICS_KEDA_DYNAMO_DISCOVERY_RECORDS_H_
#define METRICS_KEDA_DYNAMO_DISCOVERY_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dynamo/decoded.h"

namespace mk::dynamo {

// Larger keys and values are dropped (oversized). etcd itself refuses requests over
// 1.5 MiB; Dynamo's largest record, the model card, is a few KiB.
inline constexpr size_t kMaxDiscoveryKeyBytes = 4096;
inline constexpr size_t kMaxDiscoveryValueBytes = 1 << 20;

enum class DiscoveryKind { kInstance, kModelCard, kEventChannel };

enum class DiscoveryLayout {
  kV1,              // v1/instances, v1/mdc, and the flat v1/event_channels layout
  kV1Scoped,        // v1/event_channels/namespace/... (percent-encoded segments)
  kInstances2025,   // instances/<ns>/<comp>/<ep>:<lease hex>
  kComponents2025,  // <ns>/components/<comp>/<ep>:<lease hex>
};

// Who receives an event channel's events: a whole namespace, one component, or one
// endpoint of a component (the scoped layout names it; the flat layout does not).
enum class ChannelScope { kNamespace, kComponent, kEndpoint };

// What a discovery key says.
struct DiscoveryKey {
  DiscoveryKind kind = DiscoveryKind::kInstance;
  DiscoveryLayout layout = DiscoveryLayout::kV1;
  std::string dynamo_namespace;
  std::string component;  // empty for a namespace-scoped channel
  std::string endpoint;   // empty where the key names none (channels not endpoint-scoped)
  std::string topic;      // event channels only
  std::optional<ChannelScope> scope;  // scoped event channels only
  std::string lora;  // model cards: what follows the id (a LoRA adapter's card), or empty
  // The worker's instance id (its lease) in every layout but the scoped event channel
  // one, where it is the publisher's id. The 2025 layouts print the lease as a signed
  // 64-bit number's two's complement, so a negative lease reads as its u64 value.
  uint64_t instance_id = 0;

  friend bool operator==(const DiscoveryKey&, const DiscoveryKey&) = default;
};

// Reads a key. Drops: oversized (over kMaxDiscoveryKeyBytes); unknown_key (none of
// the layouts above, an empty segment, a bad %XX escape); bad_worker_id (the id is not
// 1 to 16 lowercase hex digits).
Decoded<DiscoveryKey> ParseDiscoveryKey(std::string_view key);

// The key as Dynamo writes it for `key`'s layout (segments percent-encoded in the
// scoped layout). ParseDiscoveryKey(DiscoveryKeyText(k)) gives k back for every k
// that ParseDiscoveryKey returned.
std::string DiscoveryKeyText(const DiscoveryKey& key);

// Dynamo's segment encoding: every byte outside [A-Za-z0-9_-] becomes %XX (uppercase
// hex), so `prod.v2/x y` is `prod%2Ev2%2Fx%20y`.
std::string PercentEncodeSegment(std::string_view segment);
// The inverse; either case of hex digits is accepted. None when a '%' is not followed
// by two hex digits.
std::optional<std::string> PercentDecodeSegment(std::string_view segment);

// An endpoint instance: a worker serving (namespace, component, endpoint).
struct InstanceRecord {
  std::string dynamo_namespace;
  std::string component;
  std::string endpoint;
  uint64_t instance_id = 0;
  // How requests reach it, as Dynamo tags it: the transport object's single member,
  // e.g. {"tcp": "10.0.3.17:36151/694d9a3f1e2b7c05/generate"} or {"nats_tcp": "<subject>"}.
  // Both empty when the value has no transport or one of another shape (counted as an
  // ignored wrong_type field: no figure depends on it).
  std::string transport_kind;
  std::string transport_address;

  friend bool operator==(const InstanceRecord&, const InstanceRecord&) = default;
};

// card_json.runtime_config: what the engine reported, each nil when it did not.
struct RuntimeConfig {
  std::optional<uint64_t> total_kv_blocks;  // per data-parallel rank
  std::optional<uint64_t> max_num_seqs;
  std::optional<uint64_t> max_num_batched_tokens;
  std::optional<uint32_t> data_parallel_start_rank;
  std::optional<uint32_t> data_parallel_size;  // at least 1 when given

  friend bool operator==(const RuntimeConfig&, const RuntimeConfig&) = default;
};

// A model card (`type` "Model"): what one instance serves and can hold.
struct ModelCardRecord {
  std::string dynamo_namespace;
  std::string component;
  std::string endpoint;
  uint64_t instance_id = 0;
  std::string lora;                  // from the key
  std::string display_name;          // card_json.display_name, empty when absent or not a string
  uint32_t kv_cache_block_size = 0;  // tokens per KV block, at least 1
  RuntimeConfig runtime;             // all nil when runtime_config is absent or null

  friend bool operator==(const ModelCardRecord&, const ModelCardRecord&) = default;
};

enum class ChannelTransport { kZmq, kZmqBroker, kNats };

// An event channel (`type` "EventChannel"): where a publisher's events of one topic
// can be received.
struct EventChannelRecord {
  std::string dynamo_namespace;
  std::string component;              // empty for a namespace-scoped channel
  std::string endpoint;               // endpoint-scoped channels only
  std::optional<ChannelScope> scope;  // none in the flat layout
  std::string topic;
  uint64_t instance_id = 0;  // as in the key: the worker's, or (scoped) the publisher's
  ChannelTransport transport = ChannelTransport::kZmq;
  // Zmq: the publisher's PUB socket, `tcp://<IPv4>:<port>` or `tcp://[<IPv6>]:<port>`,
  // port 1 - 65535 (a host name is not accepted). Empty for the other transports.
  std::string zmq_endpoint;
  // Nats: config.subject_prefix when it is given as a string, else empty.
  std::string nats_subject_prefix;

  friend bool operator==(const EventChannelRecord&, const EventChannelRecord&) = default;
};

using DiscoveryRecord = std::variant<InstanceRecord, ModelCardRecord, EventChannelRecord>;

// Decodes discovery values against their keys. Reuses its parser's buffers and is not
// thread-safe: one per thread. Drops, in this order of precedence:
//   oversized: a value over kMaxDiscoveryValueBytes;
//   malformed_json: not one JSON object (invalid, truncated, trailing bytes);
//   key_mismatch: a `type` other than the key's kind (Endpoint, Model, EventChannel);
//   wrong_type / out_of_range / bad_worker_id (the first bad field): a field of the
//     wrong type, a number beyond its range or a zero size, a negative instance_id
//     where it is unsigned, a scope kind other than namespace, component and endpoint,
//     a transport kind other than Zmq, ZmqBroker and Nats, a Zmq endpoint that is not
//     tcp://<ip>:<port>;
//   missing_field: a required field is absent or null (`type` in the v1 layouts, the
//     identity fields, card_json and its kv_cache_block_size, a channel's topic, its
//     scope or namespace and component, its transport, a Zmq endpoint);
//   key_mismatch: a namespace, component, endpoint, topic, scope or instance_id that
//     disagrees with the key.
// `type` may be absent in the 2025 layouts, whose records had no tag. The instance_id
// of those layouts is a signed 64-bit number: a negative one is taken as its two's
// complement (the lease hex in their keys is printed the same way). Records of the
// layout to May 2025 that name the id `lease_id` are read as well. A dropped record
// whose key names a worker's instance id (every layout but the scoped channels) names
// that unit.
class DiscoveryRecordDecoder {
 public:
  DiscoveryRecordDecoder();
  ~DiscoveryRecordDecoder();
  DiscoveryRecordDecoder(const DiscoveryRecordDecoder&) = delete;
  DiscoveryRecordDecoder& operator=(const DiscoveryRecordDecoder&) = delete;

  Decoded<InstanceRecord> DecodeInstance(const DiscoveryKey& key, std::string_view value);
  Decoded<ModelCardRecord> DecodeModelCard(const DiscoveryKey& key, std::string_view value);
  Decoded<EventChannelRecord> DecodeEventChannel(const DiscoveryKey& key, std::string_view value);

  // The record of whatever kind the key names.
  Decoded<DiscoveryRecord> Decode(const DiscoveryKey& key, std::string_view value);
  // ParseDiscoveryKey, then Decode: a key's drop is the record's.
  Decoded<DiscoveryRecord> Decode(std::string_view key, std::string_view value);

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_DISCOVERY_RECORDS_H_
