#include "mock_worker/discovery_payloads.h"

#include <string>

#include "dynamo/discovery_records.h"

namespace mk::mock {
namespace {

using mk::dynamo::DiscoveryKey;
using mk::dynamo::DiscoveryKind;
using mk::dynamo::DiscoveryLayout;

void AppendField(std::string& out, std::string_view name) {
  out.push_back(',');
  AppendJsonString(out, name);
  out.push_back(':');
}

void AppendNumberOrNull(std::string& out, uint64_t value) {
  out.append(value == 0 ? std::string("null") : std::to_string(value));
}

// "namespace":..,"component":..,"endpoint":..,"instance_id":.. after `{"type":<type>`.
std::string IdentityHead(std::string_view type, const DiscoveryTarget& target,
                         uint64_t instance_id) {
  std::string out = "{\"type\":";
  AppendJsonString(out, type);
  AppendField(out, "namespace");
  AppendJsonString(out, target.dynamo_namespace);
  AppendField(out, "component");
  AppendJsonString(out, target.component);
  AppendField(out, "endpoint");
  AppendJsonString(out, target.endpoint);
  AppendField(out, "instance_id");
  out.append(std::to_string(instance_id));
  return out;
}

DiscoveryKey V1Key(DiscoveryKind kind, const DiscoveryTarget& target, uint64_t instance_id) {
  DiscoveryKey key;
  key.kind = kind;
  key.layout = DiscoveryLayout::kV1;
  key.dynamo_namespace = target.dynamo_namespace;
  key.component = target.component;
  key.endpoint = target.endpoint;
  key.instance_id = instance_id;
  return key;
}

}  // namespace

DiscoveryEntry InstanceEntry(const DiscoveryTarget& target, uint64_t instance_id,
                             std::string_view address, std::string_view transport) {
  DiscoveryEntry entry;
  entry.key = DiscoveryKeyText(V1Key(DiscoveryKind::kInstance, target, instance_id));
  entry.value = IdentityHead("Endpoint", target, instance_id);
  entry.value.append(",\"transport\":{");
  AppendJsonString(entry.value, transport);
  entry.value.push_back(':');
  AppendJsonString(entry.value, address);
  entry.value.append("}}");
  return entry;
}

DiscoveryEntry ModelCardEntry(const DiscoveryTarget& target, uint64_t instance_id,
                              const ModelCardFigures& figures) {
  DiscoveryEntry entry;
  entry.key = DiscoveryKeyText(V1Key(DiscoveryKind::kModelCard, target, instance_id));
  std::string& v = entry.value;
  v = IdentityHead("Model", target, instance_id);
  v.append(
      ",\"card_json\":{\"display_name\":\"mock-model\",\"slug\":\"mock-model\","
      "\"model_info\":null,\"tokenizer\":null,\"kv_cache_block_size\":");
  v.append(std::to_string(kKvBlockSize));
  v.append(
      ",\"migration_limit\":0,\"model_type\":[\"chat\",\"completions\"],"
      "\"model_input\":\"Tokens\",\"runtime_config\":{\"total_kv_blocks\":");
  AppendNumberOrNull(v, figures.total_kv_blocks);
  v.append(",\"max_num_seqs\":");
  AppendNumberOrNull(v, figures.max_num_seqs);
  v.append(
      ",\"max_num_batched_tokens\":8192,\"tool_call_parser\":null,\"reasoning_parser\":null,"
      "\"data_parallel_start_rank\":");
  v.append(std::to_string(figures.data_parallel_start_rank));
  v.append(",\"data_parallel_size\":");
  v.append(std::to_string(figures.data_parallel_size < 1 ? 1 : figures.data_parallel_size));
  v.append(
      ",\"enable_local_indexer\":true,\"enable_eagle\":false},"
      "\"media_decoder\":null,\"media_fetcher\":null}}");
  return entry;
}

DiscoveryEntry EventChannelEntry(const DiscoveryTarget& target, const ChannelSpec& channel) {
  const bool endpoint_scope = channel.scope == EventScope::kEndpoint;
  DiscoveryKey key;
  key.kind = DiscoveryKind::kEventChannel;
  key.layout = DiscoveryLayout::kV1Scoped;
  key.dynamo_namespace = target.dynamo_namespace;
  key.component = target.component;
  if (endpoint_scope) key.endpoint = target.endpoint;
  key.topic = std::string(channel.topic);
  key.scope =
      endpoint_scope ? mk::dynamo::ChannelScope::kEndpoint : mk::dynamo::ChannelScope::kComponent;
  key.instance_id = channel.publisher_id;

  DiscoveryEntry entry;
  entry.key = DiscoveryKeyText(key);
  std::string& v = entry.value;
  v = "{\"type\":\"EventChannel\",\"scope\":{\"kind\":";
  if (endpoint_scope) {
    v.append("\"endpoint\",\"endpoint\":{\"namespace\":");
    AppendJsonString(v, target.dynamo_namespace);
    AppendField(v, "component");
    AppendJsonString(v, target.component);
    AppendField(v, "name");
    AppendJsonString(v, target.endpoint);
    v.append("}}");
  } else {
    v.append("\"component\",\"namespace\":");
    AppendJsonString(v, target.dynamo_namespace);
    AppendField(v, "component");
    AppendJsonString(v, target.component);
    v.push_back('}');
  }
  AppendField(v, "topic");
  AppendJsonString(v, channel.topic);
  AppendField(v, "instance_id");
  v.append(std::to_string(channel.publisher_id));
  if (channel.kind == ChannelKind::kZmq) {
    v.append(",\"transport\":{\"kind\":\"Zmq\",\"config\":{\"endpoint\":");
  } else {
    v.append(",\"transport\":{\"kind\":\"Nats\",\"config\":{\"subject_prefix\":");
  }
  AppendJsonString(v, channel.address);
  v.append("}}}");
  return entry;
}

}  // namespace mk::mock
