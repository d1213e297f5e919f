#include "dynamo/discovery_records.h"

#include <arpa/inet.h>
#include <simdjson.h>

#include <array>
#include <initializer_list>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "dynamo/json_reader.h"

namespace mk::dynamo {
namespace {

namespace od = simdjson::ondemand;
using json::FieldError;
using json::MalformedJson;
using json::TypeOf;

// ---------------------------------------------------------------------------------
// Keys

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 1 to 16 lowercase hex digits, as Dynamo prints ids.
std::optional<uint64_t> ParseIdHex(std::string_view hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : hex) {
    if (!IsLowerHex(c)) return std::nullopt;
    value = (value << 4) | static_cast<uint64_t>(HexDigit(c));
  }
  return value;
}

std::vector<std::string_view> Split(std::string_view text) {
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (true) {
    const size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(text.substr(start));
      return segments;
    }
    segments.push_back(text.substr(start, slash - start));
    start = slash + 1;
  }
}

using KeyResult = Decoded<DiscoveryKey>;

KeyResult BadId() {
  return KeyResult::Drop(DropReason::kBadWorkerId,
                         "the key's id is not 1 to 16 lowercase hex digits");
}

// `<ep>:<lease hex>`, the last segment of both 2025 layouts.
KeyResult Finish2025(DiscoveryKey key, std::string_view last) {
  const size_t colon = last.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return KeyResult::Drop(DropReason::kUnknownKey,
                           "a 2025 key does not end in <endpoint>:<lease hex>");
  }
  const std::optional<uint64_t> id = ParseIdHex(last.substr(colon + 1));
  if (!id) return BadId();
  key.kind = DiscoveryKind::kInstance;
  key.endpoint = std::string(last.substr(0, colon));
  key.instance_id = *id;
  return KeyResult::Keep(std::move(key));
}

// v1/event_channels/namespace/<ns>[/component/<c>[/endpoint/<ep>]]/topic/<topic>/<id>,
// `segments` starting at "namespace".
KeyResult ParseScopedChannel(std::span<const std::string_view> segments) {
  DiscoveryKey key;
  key.kind = DiscoveryKind::kEventChannel;
  key.layout = DiscoveryLayout::kV1Scoped;
  if (segments.size() < 5 || segments[0] != "namespace") {
    return KeyResult::Drop(DropReason::kUnknownKey,
                           "a scoped event channel key lacks namespace/<ns>");
  }
  // The segments that name something, and where each goes; component and endpoint
  // are optional.
  std::vector<std::pair<std::string*, std::string_view>> named_segments;
  named_segments.emplace_back(&key.dynamo_namespace, segments[1]);
  size_t next = 2;
  key.scope = ChannelScope::kNamespace;
  if (next + 1 < segments.size() && segments[next] == "component") {
    named_segments.emplace_back(&key.component, segments[next + 1]);
    key.scope = ChannelScope::kComponent;
    next += 2;
    if (next + 1 < segments.size() && segments[next] == "endpoint") {
      named_segments.emplace_back(&key.endpoint, segments[next + 1]);
      key.scope = ChannelScope::kEndpoint;
      next += 2;
    }
  }
  if (next + 3 != segments.size() || segments[next] != "topic") {
    return KeyResult::Drop(DropReason::kUnknownKey,
                           "a scoped event channel key does not end in topic/<topic>/<id>");
  }
  named_segments.emplace_back(&key.topic, segments[next + 1]);
  for (auto& [target, encoded] : named_segments) {
    // Segments are not empty, so neither is what they decode to.
    std::optional<std::string> decoded = PercentDecodeSegment(encoded);
    if (!decoded) {
      return KeyResult::Drop(DropReason::kUnknownKey, "a key segment has a bad %XX escape");
    }
    *target = std::move(*decoded);
  }
  const std::optional<uint64_t> id = ParseIdHex(segments[next + 2]);
  if (!id) return BadId();
  key.instance_id = *id;
  return KeyResult::Keep(std::move(key));
}

// ---------------------------------------------------------------------------------
// Values

using Problem = FieldProblem;  // the first problem found in a value
using json::ForEachField;

// The value as an object; none (and `problem` failed) when it is another type; none
// without a failure when it is null.
std::optional<od::object> ObjectOf(od::value& value, Problem& problem, std::string_view what) {
  const od::json_type type = TypeOf(value);
  if (type == od::json_type::null) return std::nullopt;
  od::object object;
  if (type != od::json_type::object || value.get_object().get(object)) {
    problem.Set(DropReason::kWrongType, what);
    return std::nullopt;
  }
  return object;
}

// A string; null leaves `out` empty (a required one is then missing).
void ReadString(od::value value, std::optional<std::string>& out, Problem& problem,
                std::string_view what) {
  const od::json_type type = TypeOf(value);
  if (type == od::json_type::null) {
    out.reset();
    return;
  }
  std::string_view text;
  if (type != od::json_type::string) return problem.Set(DropReason::kWrongType, what);
  if (value.get_string().get(text)) throw MalformedJson{};
  out = std::string(text);
}

// A string no figure uses: a bad one is counted as ignored.
void ReadOptionalString(od::value value, std::string& out, DropCounts& ignored) {
  Problem problem;
  std::optional<std::string> text;
  ReadString(value, text, problem, "");
  if (problem.reason) {
    ignored.Add(*problem.reason);
    return;
  }
  out = text.value_or(std::string());
}

void ReadCount(od::value value, std::optional<uint64_t>& out, Problem& problem,
               std::string_view what) {
  FieldError error;
  json::ReadCount(value, out, error);
  if (error.reason) {
    out.reset();
    problem.Set(*error.reason, what);
  }
}

void ReadCount32(od::value value, std::optional<uint32_t>& out, Problem& problem,
                 std::string_view what) {
  std::optional<uint64_t> count;
  ReadCount(value, count, problem, what);
  if (count && *count > std::numeric_limits<uint32_t>::max()) {
    problem.Set(DropReason::kOutOfRange, what);
    return;
  }
  if (count) {
    out = static_cast<uint32_t>(*count);
  } else {
    out.reset();
  }
}

// The fields that say which record a value is: its tag, namespace, component,
// endpoint and instance id.
struct Identity {
  std::optional<std::string> type, dynamo_namespace, component, endpoint;
  std::optional<uint64_t> instance_id;
  Problem type_problem;  // a tag that is no string
};

void ReadInstanceId(od::value value, bool is_signed, Identity& identity, Problem& problem) {
  if (TypeOf(value) == od::json_type::null) {
    identity.instance_id.reset();
    return;
  }
  FieldError error;
  const std::optional<json::Integer> integer = json::ReadInteger(value, error);
  if (error.reason) {
    return problem.Set(*error.reason, *error.reason == DropReason::kOutOfRange
                                          ? "instance_id is beyond 64 bits"
                                          : "instance_id is not an integer");
  }
  if (!integer->negative) {
    identity.instance_id = integer->magnitude;
  } else if (is_signed) {
    identity.instance_id = 0 - integer->magnitude;  // the two's complement, as in the key
  } else {
    problem.Set(DropReason::kBadWorkerId, "instance_id is negative");
  }
}

// Reads `key` into `identity` if it is one of its fields; false when it is not.
bool ReadIdentityField(std::string_view key, od::value value, const DiscoveryKey& of,
                       Identity& identity, Problem& problem) {
  const bool old_layout =
      of.layout == DiscoveryLayout::kInstances2025 || of.layout == DiscoveryLayout::kComponents2025;
  if (key == "type") {
    ReadString(value, identity.type, identity.type_problem, "type is not a string");
  } else if (key == "namespace") {
    ReadString(value, identity.dynamo_namespace, problem, "namespace is not a string");
  } else if (key == "component") {
    ReadString(value, identity.component, problem, "component is not a string");
  } else if (key == "endpoint") {
    ReadString(value, identity.endpoint, problem, "endpoint is not a string");
  } else if (key == "instance_id" ||
             (key == "lease_id" && of.layout == DiscoveryLayout::kComponents2025)) {
    ReadInstanceId(value, old_layout, identity, problem);
  } else {
    return false;
  }
  return true;
}

std::optional<WorkerKey> UnitOf(const DiscoveryKey& key) {
  if (key.layout == DiscoveryLayout::kV1Scoped) return std::nullopt;
  return WorkerKey{key.instance_id, std::nullopt};
}

// The tag check: the value's `type` names the key's kind (the 2025 records had none).
std::optional<std::pair<DropReason, std::string_view>> CheckTag(const DiscoveryKey& key,
                                                                const Identity& identity,
                                                                std::string_view tag) {
  if (identity.type_problem.reason) {
    return std::pair{*identity.type_problem.reason, identity.type_problem.detail};
  }
  if (!identity.type) {
    if (key.layout == DiscoveryLayout::kV1 || key.layout == DiscoveryLayout::kV1Scoped) {
      return std::pair{DropReason::kMissingField, std::string_view("no type")};
    }
    return std::nullopt;
  }
  if (*identity.type != tag) {
    return std::pair{DropReason::kKeyMismatch,
                     std::string_view("type is another record's than the key names")};
  }
  return std::nullopt;
}

// tcp://<IPv4>:<port> or tcp://[<IPv6>]:<port>, port 1 - 65535 without leading zeros.
bool IsPubEndpoint(std::string_view text) {
  constexpr std::string_view kScheme = "tcp://";
  if (!text.starts_with(kScheme)) return false;
  text.remove_prefix(kScheme.size());
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.front() == '0') return false;
  uint32_t port_number = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    port_number = port_number * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port_number > 65535) return false;
  int family = AF_INET;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    family = AF_INET6;
    host = host.substr(1, host.size() - 2);
  }
  // INET6_ADDRSTRLEN counts the terminating NUL.
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN ||
      host.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string host_text(host);
  std::array<unsigned char, 16> address{};
  return inet_pton(family, host_text.c_str(), address.data()) == 1;
}

using Bad = std::optional<std::pair<DropReason, std::string_view>>;

// An identity field of a value and the key's.
struct Expected {
  const std::optional<std::string>& value;
  const std::string& in_key;
  std::string_view missing;   // the drop's text when the value lacks it
  std::string_view mismatch;  // and when it differs
};

// Every field must be present (missing_field), then agree with the key (key_mismatch).
Bad CheckIdentity(std::initializer_list<Expected> fields, const std::optional<uint64_t>& id,
                  uint64_t key_id) {
  for (const Expected& field : fields) {
    if (!field.value) return std::pair{DropReason::kMissingField, field.missing};
  }
  if (!id) return std::pair{DropReason::kMissingField, std::string_view("no instance_id")};
  for (const Expected& field : fields) {
    if (*field.value != field.in_key) return std::pair{DropReason::kKeyMismatch, field.mismatch};
  }
  if (*id != key_id) {
    return std::pair{DropReason::kKeyMismatch,
                     std::string_view("instance_id differs from the key's")};
  }
  return std::nullopt;
}

Expected NamespaceOf(const Identity& identity, const DiscoveryKey& key) {
  return {identity.dynamo_namespace, key.dynamo_namespace, "no namespace",
          "namespace differs from the key's"};
}
Expected ComponentOf(const Identity& identity, const DiscoveryKey& key) {
  return {identity.component, key.component, "no component", "component differs from the key's"};
}
Expected EndpointOf(const Identity& identity, const DiscoveryKey& key) {
  return {identity.endpoint, key.endpoint, "no endpoint", "endpoint differs from the key's"};
}

// What an instance value holds, before validation.
struct RawInstance {
  Identity identity;
  Problem problem;
  bool transport_bad = false;
  std::optional<std::string> transport_kind, transport_address;
};

void ReadTransportTag(od::value value, RawInstance& raw) {
  Problem problem;
  std::optional<od::object> object = ObjectOf(value, problem, "");
  if (!object) {
    raw.transport_bad = problem.reason.has_value();
    return;
  }
  size_t members = 0;
  ForEachField(*object, [&](std::string_view key, od::value member) {
    ++members;
    raw.transport_kind = std::string(key);
    ReadString(member, raw.transport_address, problem, "");
  });
  if (members != 1 || problem.reason || !raw.transport_address) {
    raw.transport_bad = true;
    raw.transport_kind.reset();
    raw.transport_address.reset();
  }
}

// What a model card holds, before validation.
struct RawModelCard {
  Identity identity;
  Problem problem;
  bool has_card = false;
  std::optional<uint64_t> block_size;
  std::string display_name;
  RuntimeConfig runtime;
  DropCounts ignored;
};

void ReadRuntimeConfig(od::value value, RawModelCard& raw) {
  std::optional<od::object> object =
      ObjectOf(value, raw.problem, "card_json.runtime_config is not an object");
  if (!object) return;
  RuntimeConfig& runtime = raw.runtime;
  ForEachField(*object, [&](std::string_view key, od::value field) {
    if (key == "total_kv_blocks") {
      ReadCount(field, runtime.total_kv_blocks, raw.problem,
                "total_kv_blocks is not an unsigned integer or null");
    } else if (key == "max_num_seqs") {
      ReadCount(field, runtime.max_num_seqs, raw.problem,
                "max_num_seqs is not an unsigned integer or null");
    } else if (key == "max_num_batched_tokens") {
      ReadCount(field, runtime.max_num_batched_tokens, raw.problem,
                "max_num_batched_tokens is not an unsigned integer or null");
    } else if (key == "data_parallel_start_rank") {
      ReadCount32(field, runtime.data_parallel_start_rank, raw.problem,
                  "data_parallel_start_rank is not a 32-bit unsigned integer or null");
    } else if (key == "data_parallel_size") {
      ReadCount32(field, runtime.data_parallel_size, raw.problem,
                  "data_parallel_size is not a 32-bit unsigned integer or null");
    }
  });
}

void ReadCard(od::value value, RawModelCard& raw) {
  std::optional<od::object> object = ObjectOf(value, raw.problem, "card_json is not an object");
  if (!object) return;
  raw.has_card = true;
  ForEachField(*object, [&](std::string_view key, od::value field) {
    if (key == "kv_cache_block_size") {
      ReadCount(field, raw.block_size, raw.problem,
                "kv_cache_block_size is not an unsigned integer");
    } else if (key == "display_name") {
      ReadOptionalString(field, raw.display_name, raw.ignored);
    } else if (key == "runtime_config") {
      ReadRuntimeConfig(field, raw);
    }
  });
}

// What an event channel value holds, before validation.
struct RawChannel {
  Identity identity;  // type, instance_id, and (flat layout) namespace and component
  Problem problem;
  std::optional<std::string> topic;
  bool has_scope = false;
  std::optional<std::string> scope_kind, scope_namespace, scope_component;
  bool has_scope_endpoint = false;
  std::optional<std::string> endpoint_namespace, endpoint_component, endpoint_name;
  bool has_transport = false;
  std::optional<std::string> transport_kind;
  bool config_bad = false;
  std::optional<std::string> zmq_endpoint, subject_prefix;
  bool subject_prefix_bad = false;
};

void ReadScope(od::value value, RawChannel& raw) {
  std::optional<od::object> object = ObjectOf(value, raw.problem, "scope is not an object");
  if (!object) return;
  raw.has_scope = true;
  ForEachField(*object, [&](std::string_view key, od::value field) {
    if (key == "kind") {
      ReadString(field, raw.scope_kind, raw.problem, "scope.kind is not a string");
    } else if (key == "namespace") {
      ReadString(field, raw.scope_namespace, raw.problem, "scope.namespace is not a string");
    } else if (key == "component") {
      ReadString(field, raw.scope_component, raw.problem, "scope.component is not a string");
    } else if (key == "endpoint") {
      std::optional<od::object> endpoint =
          ObjectOf(field, raw.problem, "scope.endpoint is not an object");
      if (!endpoint) return;
      raw.has_scope_endpoint = true;
      ForEachField(*endpoint, [&](std::string_view name, od::value part) {
        if (name == "namespace") {
          ReadString(part, raw.endpoint_namespace, raw.problem,
                     "scope.endpoint.namespace is not a string");
        } else if (name == "component") {
          ReadString(part, raw.endpoint_component, raw.problem,
                     "scope.endpoint.component is not a string");
        } else if (name == "name") {
          ReadString(part, raw.endpoint_name, raw.problem, "scope.endpoint.name is not a string");
        }
      });
    }
  });
}

void ReadChannelTransport(od::value value, RawChannel& raw) {
  std::optional<od::object> object = ObjectOf(value, raw.problem, "transport is not an object");
  if (!object) return;
  raw.has_transport = true;
  ForEachField(*object, [&](std::string_view key, od::value field) {
    if (key == "kind") {
      ReadString(field, raw.transport_kind, raw.problem, "transport.kind is not a string");
    } else if (key == "config") {
      Problem problem;
      std::optional<od::object> config = ObjectOf(field, problem, "");
      if (!config) {
        raw.config_bad = problem.reason.has_value();
        return;
      }
      ForEachField(*config, [&](std::string_view name, od::value part) {
        if (name == "endpoint") {
          ReadString(part, raw.zmq_endpoint, raw.problem,
                     "transport.config.endpoint is not a string");
        } else if (name == "subject_prefix") {
          Problem prefix_problem;
          ReadString(part, raw.subject_prefix, prefix_problem, "");
          if (prefix_problem.reason) raw.subject_prefix_bad = true;
        }
      });
    }
  });
}

}  // namespace

// -----------------------------------------------------------------------------------
// Keys

std::string PercentEncodeSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '-';
    if (plain) {
      out.push_back(c);
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

std::optional<std::string> PercentDecodeSegment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    const int high = HexDigit(segment[i + 1]);
    const int low = HexDigit(segment[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

Decoded<DiscoveryKey> ParseDiscoveryKey(std::string_view text) {
  if (text.size() > kMaxDiscoveryKeyBytes) {
    return KeyResult::Drop(DropReason::kOversized, "the key is longer than 4096 bytes");
  }
  const std::vector<std::string_view> segments = Split(text);
  const size_t n = segments.size();
  // A namespace-scoped channel of the flat layout has an empty component:
  // v1/event_channels/<ns>//<topic>/<id>, as Dynamo registers kv_metrics.
  const bool namespace_channel = n == 6 && segments[0] == "v1" && segments[1] == "event_channels";
  for (size_t i = 0; i < n; ++i) {
    if (segments[i].empty() && !(namespace_channel && i == 3)) {
      return KeyResult::Drop(DropReason::kUnknownKey, "a key has an empty segment");
    }
  }
  if (n >= 2 && segments[0] == "v1") {
    const std::string_view kind = segments[1];
    if (kind == "instances" || kind == "mdc") {
      const bool card = kind == "mdc";
      if (n != 6 && !(card && n > 6)) {
        return KeyResult::Drop(
            DropReason::kUnknownKey,
            card ? "a v1/mdc key is not v1/mdc/<ns>/<comp>/<ep>/<id>[/<lora>]"
                 : "a v1/instances key is not v1/instances/<ns>/<comp>/<ep>/<id>");
      }
      const std::optional<uint64_t> id = ParseIdHex(segments[5]);
      if (!id) return BadId();
      DiscoveryKey key;
      key.kind = card ? DiscoveryKind::kModelCard : DiscoveryKind::kInstance;
      key.layout = DiscoveryLayout::kV1;
      key.dynamo_namespace = std::string(segments[2]);
      key.component = std::string(segments[3]);
      key.endpoint = std::string(segments[4]);
      key.instance_id = *id;
      if (n > 6) {
        // The rest of the key, slashes and all.
        const size_t start = static_cast<size_t>(segments[6].data() - text.data());
        key.lora = std::string(text.substr(start));
      }
      return KeyResult::Keep(std::move(key));
    }
    if (kind == "event_channels") {
      if (n == 6) {
        const std::optional<uint64_t> id = ParseIdHex(segments[5]);
        if (!id) return BadId();
        DiscoveryKey key;
        key.kind = DiscoveryKind::kEventChannel;
        key.layout = DiscoveryLayout::kV1;
        key.dynamo_namespace = std::string(segments[2]);
        key.component = std::string(segments[3]);
        key.topic = std::string(segments[4]);
        key.instance_id = *id;
        return KeyResult::Keep(std::move(key));
      }
      return ParseScopedChannel(std::span(segments).subspan(2));
    }
    // Otherwise perhaps the oldest layout, of a namespace named v1.
  }
  if (n == 4 && segments[0] == "instances") {
    DiscoveryKey key;
    key.layout = DiscoveryLayout::kInstances2025;
    key.dynamo_namespace = std::string(segments[1]);
    key.component = std::string(segments[2]);
    return Finish2025(std::move(key), segments[3]);
  }
  if (n == 4 && segments[1] == "components") {
    DiscoveryKey key;
    key.layout = DiscoveryLayout::kComponents2025;
    key.dynamo_namespace = std::string(segments[0]);
    key.component = std::string(segments[2]);
    return Finish2025(std::move(key), segments[3]);
  }
  return KeyResult::Drop(DropReason::kUnknownKey, "the key is of none of the discovery layouts");
}

std::string DiscoveryKeyText(const DiscoveryKey& key) {
  const std::string id = LeaseHex(key.instance_id);
  switch (key.layout) {
    case DiscoveryLayout::kInstances2025:
      return "instances/" + key.dynamo_namespace + "/" + key.component + "/" + key.endpoint + ":" +
             id;
    case DiscoveryLayout::kComponents2025:
      return key.dynamo_namespace + "/components/" + key.component + "/" + key.endpoint + ":" + id;
    case DiscoveryLayout::kV1Scoped: {
      std::string text =
          "v1/event_channels/namespace/" + PercentEncodeSegment(key.dynamo_namespace);
      const ChannelScope scope = key.scope.value_or(ChannelScope::kNamespace);
      if (scope != ChannelScope::kNamespace) {
        text += "/component/" + PercentEncodeSegment(key.component);
      }
      if (scope == ChannelScope::kEndpoint) {
        text += "/endpoint/" + PercentEncodeSegment(key.endpoint);
      }
      return text + "/topic/" + PercentEncodeSegment(key.topic) + "/" + id;
    }
    case DiscoveryLayout::kV1:
      break;
  }
  switch (key.kind) {
    case DiscoveryKind::kInstance:
      return "v1/instances/" + key.dynamo_namespace + "/" + key.component + "/" + key.endpoint +
             "/" + id;
    case DiscoveryKind::kModelCard: {
      std::string text =
          "v1/mdc/" + key.dynamo_namespace + "/" + key.component + "/" + key.endpoint + "/" + id;
      if (!key.lora.empty()) text += "/" + key.lora;
      return text;
    }
    case DiscoveryKind::kEventChannel:
      break;
  }
  return "v1/event_channels/" + key.dynamo_namespace + "/" + key.component + "/" + key.topic + "/" +
         id;
}

// -----------------------------------------------------------------------------------
// Values

struct DiscoveryRecordDecoder::Parser : json::JsonObjectParser {};

DiscoveryRecordDecoder::DiscoveryRecordDecoder() : parser_(std::make_unique<Parser>()) {}

DiscoveryRecordDecoder::~DiscoveryRecordDecoder() = default;

namespace {

template <typename Record>
std::optional<Decoded<Record>> CheckValueSize(const DiscoveryKey& key, std::string_view value) {
  if (value.size() <= kMaxDiscoveryValueBytes) return std::nullopt;
  return Decoded<Record>::Drop(DropReason::kOversized, "the value is larger than 1 MiB",
                               UnitOf(key));
}

template <typename Record>
Decoded<Record> Malformed(const DiscoveryKey& key) {
  return Decoded<Record>::Drop(DropReason::kMalformedJson, "not one JSON object", UnitOf(key));
}

template <typename Record>
Decoded<Record> WrongKind(const DiscoveryKey& key) {
  return Decoded<Record>::Drop(DropReason::kKeyMismatch, "the key names another record kind",
                               UnitOf(key));
}

}  // namespace

Decoded<InstanceRecord> DiscoveryRecordDecoder::DecodeInstance(const DiscoveryKey& key,
                                                               std::string_view value) {
  using Result = Decoded<InstanceRecord>;
  if (key.kind != DiscoveryKind::kInstance) return WrongKind<InstanceRecord>(key);
  if (auto oversized = CheckValueSize<InstanceRecord>(key, value)) return *oversized;
  RawInstance raw;
  const bool parsed = parser_->Parse(value, [&](od::object root) {
    ForEachField(root, [&](std::string_view name, od::value field) {
      if (ReadIdentityField(name, field, key, raw.identity, raw.problem)) return;
      if (name == "transport") ReadTransportTag(field, raw);
    });
  });
  if (!parsed) return Malformed<InstanceRecord>(key);
  const std::optional<WorkerKey> unit = UnitOf(key);
  const Identity& identity = raw.identity;
  if (Bad bad = CheckTag(key, identity, "Endpoint")) {
    return Result::Drop(bad->first, bad->second, unit);
  }
  if (raw.problem.reason) return Result::Drop(*raw.problem.reason, raw.problem.detail, unit);
  if (Bad bad = CheckIdentity(
          {NamespaceOf(identity, key), ComponentOf(identity, key), EndpointOf(identity, key)},
          identity.instance_id, key.instance_id)) {
    return Result::Drop(bad->first, bad->second, unit);
  }
  InstanceRecord record;
  record.dynamo_namespace = *identity.dynamo_namespace;
  record.component = *identity.component;
  record.endpoint = *identity.endpoint;
  record.instance_id = *identity.instance_id;
  if (raw.transport_kind) {
    record.transport_kind = std::move(*raw.transport_kind);
    record.transport_address = std::move(*raw.transport_address);
  }
  Result kept = Result::Keep(std::move(record));
  if (raw.transport_bad) kept.ignored.Add(DropReason::kWrongType);
  return kept;
}

Decoded<ModelCardRecord> DiscoveryRecordDecoder::DecodeModelCard(const DiscoveryKey& key,
                                                                 std::string_view value) {
  using Result = Decoded<ModelCardRecord>;
  if (key.kind != DiscoveryKind::kModelCard) return WrongKind<ModelCardRecord>(key);
  if (auto oversized = CheckValueSize<ModelCardRecord>(key, value)) return *oversized;
  RawModelCard raw;
  const bool parsed = parser_->Parse(value, [&](od::object root) {
    ForEachField(root, [&](std::string_view name, od::value field) {
      if (ReadIdentityField(name, field, key, raw.identity, raw.problem)) return;
      if (name == "card_json") ReadCard(field, raw);
    });
  });
  if (!parsed) return Malformed<ModelCardRecord>(key);
  const std::optional<WorkerKey> unit = UnitOf(key);
  const Identity& identity = raw.identity;
  if (Bad bad = CheckTag(key, identity, "Model")) {
    return Result::Drop(bad->first, bad->second, unit);
  }
  if (!raw.problem.reason) {
    if (raw.block_size &&
        (*raw.block_size == 0 || *raw.block_size > std::numeric_limits<uint32_t>::max())) {
      raw.problem.Set(DropReason::kOutOfRange, "kv_cache_block_size is 0 or beyond 32 bits");
    } else if (raw.runtime.data_parallel_size == 0u) {
      raw.problem.Set(DropReason::kOutOfRange, "data_parallel_size is 0");
    }
  }
  if (raw.problem.reason) return Result::Drop(*raw.problem.reason, raw.problem.detail, unit);
  if (!raw.has_card) return Result::Drop(DropReason::kMissingField, "no card_json", unit);
  if (!raw.block_size) {
    return Result::Drop(DropReason::kMissingField, "no card_json.kv_cache_block_size", unit);
  }
  if (Bad bad = CheckIdentity(
          {NamespaceOf(identity, key), ComponentOf(identity, key), EndpointOf(identity, key)},
          identity.instance_id, key.instance_id)) {
    return Result::Drop(bad->first, bad->second, unit);
  }
  ModelCardRecord record;
  record.dynamo_namespace = *identity.dynamo_namespace;
  record.component = *identity.component;
  record.endpoint = *identity.endpoint;
  record.instance_id = *identity.instance_id;
  record.lora = key.lora;
  record.display_name = std::move(raw.display_name);
  record.kv_cache_block_size = static_cast<uint32_t>(*raw.block_size);
  record.runtime = raw.runtime;
  Result kept = Result::Keep(std::move(record));
  kept.ignored = raw.ignored;
  return kept;
}

namespace {

std::optional<ChannelScope> ScopeNamed(std::string_view kind) {
  if (kind == "namespace") return ChannelScope::kNamespace;
  if (kind == "component") return ChannelScope::kComponent;
  if (kind == "endpoint") return ChannelScope::kEndpoint;
  return std::nullopt;
}

std::optional<ChannelTransport> TransportNamed(std::string_view kind) {
  if (kind == "Zmq") return ChannelTransport::kZmq;
  if (kind == "ZmqBroker") return ChannelTransport::kZmqBroker;
  if (kind == "Nats") return ChannelTransport::kNats;
  return std::nullopt;
}

// The scoped layout's identity: the namespace, component and endpoint its scope
// names, moved into `identity`'s fields. Bad when the scope is missing or unknown.
Bad ScopeIdentity(const RawChannel& raw, Identity& identity, std::optional<ChannelScope>& scope) {
  if (!raw.has_scope) return std::pair{DropReason::kMissingField, std::string_view("no scope")};
  if (!raw.scope_kind) {
    return std::pair{DropReason::kMissingField, std::string_view("no scope.kind")};
  }
  scope = ScopeNamed(*raw.scope_kind);
  if (!scope) {
    return std::pair{DropReason::kWrongType,
                     std::string_view("scope.kind is none of namespace, component, endpoint")};
  }
  const std::string none;
  switch (*scope) {
    case ChannelScope::kNamespace:
      identity.dynamo_namespace = raw.scope_namespace;
      identity.component = none;
      identity.endpoint = none;
      break;
    case ChannelScope::kComponent:
      identity.dynamo_namespace = raw.scope_namespace;
      identity.component = raw.scope_component;
      identity.endpoint = none;
      break;
    case ChannelScope::kEndpoint:
      if (!raw.has_scope_endpoint) {
        return std::pair{DropReason::kMissingField, std::string_view("no scope.endpoint")};
      }
      identity.dynamo_namespace = raw.endpoint_namespace;
      identity.component = raw.endpoint_component;
      identity.endpoint = raw.endpoint_name;
      break;
  }
  return std::nullopt;
}

}  // namespace

Decoded<EventChannelRecord> DiscoveryRecordDecoder::DecodeEventChannel(const DiscoveryKey& key,
                                                                       std::string_view value) {
  using Result = Decoded<EventChannelRecord>;
  if (key.kind != DiscoveryKind::kEventChannel) return WrongKind<EventChannelRecord>(key);
  if (auto oversized = CheckValueSize<EventChannelRecord>(key, value)) return *oversized;
  const bool scoped = key.layout == DiscoveryLayout::kV1Scoped;
  RawChannel raw;
  const bool parsed = parser_->Parse(value, [&](od::object root) {
    ForEachField(root, [&](std::string_view name, od::value field) {
      if (name == "type" || name == "instance_id" ||
          (!scoped && (name == "namespace" || name == "component"))) {
        ReadIdentityField(name, field, key, raw.identity, raw.problem);
      } else if (name == "topic") {
        ReadString(field, raw.topic, raw.problem, "topic is not a string");
      } else if (name == "scope" && scoped) {
        ReadScope(field, raw);
      } else if (name == "transport") {
        ReadChannelTransport(field, raw);
      }
    });
  });
  if (!parsed) return Malformed<EventChannelRecord>(key);
  const std::optional<WorkerKey> unit = UnitOf(key);
  Identity& identity = raw.identity;
  if (Bad bad = CheckTag(key, identity, "EventChannel")) {
    return Result::Drop(bad->first, bad->second, unit);
  }
  std::optional<ChannelTransport> transport;
  if (!raw.problem.reason && raw.transport_kind) {
    transport = TransportNamed(*raw.transport_kind);
    if (!transport) {
      raw.problem.Set(DropReason::kWrongType, "transport.kind is none of Zmq, ZmqBroker, Nats");
    } else if (*transport == ChannelTransport::kZmq) {
      if (raw.config_bad) {
        raw.problem.Set(DropReason::kWrongType, "transport.config is not an object");
      } else if (raw.zmq_endpoint && !IsPubEndpoint(*raw.zmq_endpoint)) {
        raw.problem.Set(DropReason::kWrongType,
                        "transport.config.endpoint is not tcp://<ip>:<port>");
      }
    }
  }
  std::optional<ChannelScope> scope;
  if (!raw.problem.reason && scoped) {
    if (Bad bad = ScopeIdentity(raw, identity, scope)) {
      if (bad->first != DropReason::kMissingField) raw.problem.Set(bad->first, bad->second);
      if (!raw.problem.reason) return Result::Drop(bad->first, bad->second, unit);
    }
  }
  if (raw.problem.reason) return Result::Drop(*raw.problem.reason, raw.problem.detail, unit);
  if (!raw.has_transport) return Result::Drop(DropReason::kMissingField, "no transport", unit);
  if (!transport) return Result::Drop(DropReason::kMissingField, "no transport.kind", unit);
  if (*transport == ChannelTransport::kZmq && !raw.zmq_endpoint) {
    return Result::Drop(DropReason::kMissingField, "no transport.config.endpoint for Zmq", unit);
  }
  const Expected topic{raw.topic, key.topic, "no topic", "topic differs from the key's"};
  if (Bad bad = scoped
                    ? CheckIdentity({NamespaceOf(identity, key), ComponentOf(identity, key),
                                     EndpointOf(identity, key), topic},
                                    identity.instance_id, key.instance_id)
                    : CheckIdentity({NamespaceOf(identity, key), ComponentOf(identity, key), topic},
                                    identity.instance_id, key.instance_id)) {
    return Result::Drop(bad->first, bad->second, unit);
  }
  if (scope != key.scope) {
    return Result::Drop(DropReason::kKeyMismatch, "scope.kind differs from the key's", unit);
  }
  EventChannelRecord record;
  record.dynamo_namespace = *identity.dynamo_namespace;
  record.component = *identity.component;
  if (scoped) record.endpoint = *identity.endpoint;
  record.scope = scope;
  record.topic = *raw.topic;
  record.instance_id = *identity.instance_id;
  record.transport = *transport;
  Result kept;
  if (*transport == ChannelTransport::kZmq) record.zmq_endpoint = *raw.zmq_endpoint;
  DropCounts ignored;
  if (*transport == ChannelTransport::kNats) {
    if (raw.subject_prefix) record.nats_subject_prefix = *raw.subject_prefix;
    if (raw.subject_prefix_bad) ignored.Add(DropReason::kWrongType);
  }
  if (*transport != ChannelTransport::kZmq && raw.config_bad) ignored.Add(DropReason::kWrongType);
  kept = Result::Keep(std::move(record));
  kept.ignored = ignored;
  return kept;
}

Decoded<DiscoveryRecord> DiscoveryRecordDecoder::Decode(const DiscoveryKey& key,
                                                        std::string_view value) {
  auto widen = [](auto decoded) {
    Decoded<DiscoveryRecord> out;
    if (decoded.record) out.record = std::move(*decoded.record);
    out.reason = decoded.reason;
    out.detail = decoded.detail;
    out.unit = decoded.unit;
    out.ignored = decoded.ignored;
    return out;
  };
  switch (key.kind) {
    case DiscoveryKind::kInstance:
      return widen(DecodeInstance(key, value));
    case DiscoveryKind::kModelCard:
      return widen(DecodeModelCard(key, value));
    case DiscoveryKind::kEventChannel:
      break;
  }
  return widen(DecodeEventChannel(key, value));
}

Decoded<DiscoveryRecord> DiscoveryRecordDecoder::Decode(std::string_view key,
                                                        std::string_view value) {
  Decoded<DiscoveryKey> parsed = ParseDiscoveryKey(key);
  if (!parsed.ok()) return Decoded<DiscoveryRecord>::Drop(parsed.reason, parsed.detail);
  return Decode(*parsed.record, value);
}

}  // namespace mk::dynamo
