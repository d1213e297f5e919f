#include "kubernetes/api_objects.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "dynamo/json_reader.h"

namespace mk::kubernetes {
namespace {

namespace od = simdjson::ondemand;

using dynamo::json::Document;
using dynamo::json::Fail;
using dynamo::json::ForEachElement;
using dynamo::json::ForEachField;
using dynamo::json::ObjectOf;
using dynamo::json::ParseDocument;
using dynamo::json::StringOf;

std::string RawObject(od::value value, std::string_view what) {
  std::string_view raw;
  if (ObjectOf(value, what).raw_json().get(raw)) Fail("malformed JSON in " + std::string(what));
  return std::string(raw);
}

bool IsNull(od::value& value) { return dynamo::json::TypeOf(value) == od::json_type::null; }

ObjectMeta ReadMeta(od::value value) {
  ObjectMeta meta;
  ForEachField(ObjectOf(value, "metadata"), [&](std::string_view key, od::value field) {
    if (key == "ownerReferences" && !IsNull(field)) {
      ForEachElement(field, "metadata.ownerReferences", [&](od::value owner) {
        std::string kind, name;
        ForEachField(ObjectOf(owner, "an owner reference"), [&](std::string_view k, od::value v) {
          if (k == "kind") kind = StringOf(v, "ownerReferences[].kind");
          if (k == "name") name = StringOf(v, "ownerReferences[].name");
        });
        if (kind == "Pod" && meta.owner_pod.empty()) meta.owner_pod = std::move(name);
      });
    }
    if (key == "name") meta.name = StringOf(field, "metadata.name");
    if (key == "resourceVersion")
      meta.resource_version = StringOf(field, "metadata.resourceVersion");
  });
  return meta;
}

// The instance_id of a discovery record's JSON text, if it has a readable one (the
// record's decoder says what is wrong with it otherwise).
std::optional<uint64_t> InstanceIdOf(std::string_view record) {
  try {
    Document document(record);
    std::optional<uint64_t> id;
    ForEachField(document.Root(), [&](std::string_view key, od::value field) {
      uint64_t value = 0;
      if (key == "instance_id" && !field.get_uint64().get(value)) id = value;
    });
    return id;
  } catch (const dynamo::json::Invalid&) {
    return std::nullopt;
  } catch (const dynamo::json::MalformedJson&) {
    return std::nullopt;
  }
}

// The port of `ports` (an EndpointSlice's) named "system", if any.
std::optional<uint16_t> SystemPort(od::value ports_value) {
  std::optional<uint16_t> system;
  ForEachElement(ports_value, "ports", [&](od::value value) {
    std::optional<std::string> name;
    std::optional<int64_t> number;
    ForEachField(ObjectOf(value, "a port"), [&](std::string_view key, od::value field) {
      if (key == "name" && !IsNull(field)) name = StringOf(field, "ports[].name");
      if (key == "port" && !IsNull(field)) {
        int64_t port = 0;
        if (field.get_int64().get(port) || port < 1 || port > 65535) {
          Fail("ports[].port is not a port number");
        }
        number = port;
      }
    });
    if (name == "system" && number) system = static_cast<uint16_t>(*number);
  });
  return system;
}

// The spec.data maps and the etcd key prefix their paths go under.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kRecordMaps = {{
    {"endpoints", "v1/instances/"},
    {"model_cards", "v1/mdc/"},
    {"event_channels", "v1/event_channels/"},
}};

}  // namespace

absl::StatusOr<ListPage> ParseListPage(std::string_view body) {
  return ParseDocument(body, "list", [](od::object root) {
    ListPage page;
    ForEachField(root, [&](std::string_view key, od::value field) {
      if (key == "metadata") {
        ForEachField(ObjectOf(field, "metadata"), [&](std::string_view name, od::value value) {
          if (name == "resourceVersion") {
            page.resource_version = StringOf(value, "metadata.resourceVersion");
          }
          if (name == "continue") page.continue_token = StringOf(value, "metadata.continue");
        });
      } else if (key == "items") {
        if (IsNull(field)) return;  // an empty list may say null
        ForEachElement(field, "items",
                       [&](od::value item) { page.items.push_back(RawObject(item, "an item")); });
      }
    });
    if (page.resource_version.empty()) Fail("no metadata.resourceVersion");
    return page;
  });
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
  return ParseDocument(line, "watch event", [](od::object root) {
    WatchEvent event;
    std::optional<std::string> type;
    ForEachField(root, [&](std::string_view key, od::value field) {
      if (key == "type") type = StringOf(field, "type");
      if (key == "object") event.object = RawObject(field, "object");
    });
    if (!type) Fail("no type");
    static constexpr std::array<std::pair<std::string_view, WatchEventType>, 5> kTypes = {{
        {"ADDED", WatchEventType::kAdded},
        {"MODIFIED", WatchEventType::kModified},
        {"DELETED", WatchEventType::kDeleted},
        {"BOOKMARK", WatchEventType::kBookmark},
        {"ERROR", WatchEventType::kError},
    }};
    const auto* found = std::find_if(kTypes.begin(), kTypes.end(),
                                     [&](const auto& entry) { return entry.first == *type; });
    if (found == kTypes.end()) Fail("unknown type \"" + type->substr(0, 32) + "\"");
    event.type = found->second;
    if (event.object.empty()) Fail("no object");
    // The object's metadata (or, for an error, its Status fields), read again from
    // its own text: the event's fields may come in any order.
    auto inner = ParseDocument(event.object, "object", [&](od::object object) {
      ForEachField(object, [&](std::string_view key, od::value field) {
        if (key == "metadata") event.meta = ReadMeta(field);
        if (event.type != WatchEventType::kError) return;
        if (key == "code") {
          int64_t code = 0;
          if (field.get_int64().get(code) || code < 0 || code > 999) Fail("code is not a status");
          event.error_code = static_cast<int>(code);
        }
        if (key == "message") event.error_message = StringOf(field, "message").substr(0, 512);
      });
      return true;
    });
    if (!inner.ok()) Fail(std::string(inner.status().message()));
    if (event.type != WatchEventType::kError && event.meta.resource_version.empty()) {
      Fail("object without metadata.resourceVersion");
    }
    return event;
  });
}

absl::StatusOr<WorkerMetadata> ParseWorkerMetadata(std::string_view object) {
  return ParseDocument(object, "DynamoWorkerMetadata", [](od::object root) {
    WorkerMetadata metadata;
    ForEachField(root, [&](std::string_view key, od::value field) {
      if (key == "metadata") metadata.meta = ReadMeta(field);
      if (key != "spec") return;
      ForEachField(ObjectOf(field, "spec"), [&](std::string_view name, od::value data) {
        if (name != "data") return;
        // A transient null (written back by a server-side apply): no records yet.
        if (IsNull(data)) return;
        ForEachField(ObjectOf(data, "spec.data"), [&](std::string_view map, od::value records) {
          const auto* kind = std::find_if(kRecordMaps.begin(), kRecordMaps.end(),
                                          [&](const auto& entry) { return entry.first == map; });
          if (kind == kRecordMaps.end() || IsNull(records)) return;
          ForEachField(
              ObjectOf(records, "spec.data." + std::string(map)),
              [&](std::string_view path, od::value record) {
                std::string value = RawObject(record, "a record");
                std::string etcd_key(kind->second);
                etcd_key += path;
                // Some releases key endpoints and model cards by
                // <ns>/<comp>/<ep> alone: the instance id, which etcd's
                // keys end with, is then the record's.
                if (map != "event_channels" && std::count(path.begin(), path.end(), '/') == 2) {
                  if (std::optional<uint64_t> id = InstanceIdOf(value)) {
                    etcd_key += fmt::format("/{:x}", *id);
                  }
                }
                metadata.records.emplace_back(std::move(etcd_key), std::move(value));
              });
        });
      });
    });
    if (metadata.meta.name.empty()) Fail("no metadata.name");
    return metadata;
  });
}

absl::StatusOr<EndpointSlice> ParseEndpointSlice(std::string_view object) {
  return ParseDocument(object, "EndpointSlice", [](od::object root) {
    EndpointSlice slice;
    ForEachField(root, [&](std::string_view key, od::value field) {
      if (key == "metadata") slice.meta = ReadMeta(field);
      if (key == "ports" && !IsNull(field)) {
        slice.system_port = SystemPort(field);
        return;
      }
      if (key != "endpoints" || IsNull(field)) return;
      ForEachElement(field, "endpoints", [&](od::value value) {
        SliceEndpoint endpoint;
        endpoint.ready = true;  // "nil should be interpreted as ready" (discovery/v1)
        bool is_pod = false;
        ForEachField(ObjectOf(value, "an endpoint"), [&](std::string_view name, od::value part) {
          if (name == "addresses") {
            ForEachElement(part, "addresses", [&](od::value text) {
              endpoint.addresses.push_back(StringOf(text, "an address"));
            });
          } else if (name == "conditions") {
            ForEachField(ObjectOf(part, "conditions"),
                         [&](std::string_view condition, od::value state) {
                           if (condition != "ready" || IsNull(state)) return;
                           if (state.get_bool().get(endpoint.ready))
                             Fail("conditions.ready is not a bool");
                         });
          } else if (name == "targetRef") {
            ForEachField(ObjectOf(part, "targetRef"), [&](std::string_view ref, od::value text) {
              if (ref == "kind") is_pod = StringOf(text, "targetRef.kind") == "Pod";
              if (ref == "name") endpoint.pod = StringOf(text, "targetRef.name");
            });
          }
        });
        // Endpoints that are not pods (a Service's external IPs) are no workers.
        if (is_pod && !endpoint.pod.empty()) slice.endpoints.push_back(std::move(endpoint));
      });
    });
    if (slice.meta.name.empty()) Fail("no metadata.name");
    return slice;
  });
}

std::optional<std::string> StatusMessage(std::string_view body) {
  absl::StatusOr<std::optional<std::string>> message =
      ParseDocument(body, "Status", [](od::object root) {
        std::optional<std::string> kind, text;
        ForEachField(root, [&](std::string_view key, od::value field) {
          if (key == "kind") kind = StringOf(field, "kind");
          if (key == "message") text = StringOf(field, "message").substr(0, 512);
        });
        return kind == "Status" ? text : std::nullopt;
      });
  return message.ok() ? *message : std::nullopt;
}

}  // namespace mk::kubernetes
