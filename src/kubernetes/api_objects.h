// The Kubernetes API's answers that Dynamo's discovery on Kubernetes is read from,
// decoded strictly by field name (unknown fields ignored):
//   - a page of a list (`{"kind":"...List","metadata":{"resourceVersion","continue"},
//     "items":[...]}`) and one line of a watch stream (`{"type":"ADDED"|"MODIFIED"|
//     "DELETED"|"BOOKMARK"|"ERROR","object":{...}}`), as the API server sends them
//     (Kubernetes API concepts: "Efficient detection of changes", "Retrieving large
//     results sets in chunks", "Watch bookmarks");
//   - a DynamoWorkerMetadata (nvidia.com/v1alpha1), one per worker pod, whose
//     spec.data holds the worker's discovery records: maps from the record's path to
//     the very JSON records Dynamo puts in etcd (dynamo-worker-metrics.md section 4);
//   - an EndpointSlice (discovery.k8s.io/v1): which pods are ready.
// Pure and thread-safe; every function takes any bytes and answers INVALID_ARGUMENT
// saying what was wrong rather than trusting them. Sizes are bounded by the caller
// (the API client bounds bodies and lines).
#ifndef METRICS_KEDA_KUBERNETES_API_OBJECTS_H_
#define METRICS_KEDA_KUBERNETES_API_OBJECTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mk::kubernetes {

struct ObjectMeta {
  std::string name;
  std::string resource_version;
  // The Pod among metadata.ownerReferences, if any: a DynamoWorkerMetadata is owned
  // by its worker's pod (named after it, or "<pod>-<container>" in Dynamo's
  // container discovery mode).
  std::string owner_pod;
};

// One page of a list: its items as JSON text, decoded by kind afterwards.
struct ListPage {
  std::string resource_version;  // of the whole list: where a watch resumes
  std::string continue_token;    // empty on the last page
  std::vector<std::string> items;
};
absl::StatusOr<ListPage> ParseListPage(std::string_view body);

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  std::string object;  // the object's JSON text (a Status for kError)
  ObjectMeta meta;     // of the object (only the resourceVersion for a bookmark)
  // kError: the Status object's code (410 when the resourceVersion asked for is
  // too old: the watch must list again) and message.
  int error_code = 0;
  std::string error_message;
};
absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

// A worker pod's DynamoWorkerMetadata: its discovery records, each under the key it
// would have in etcd (`v1/instances/` + the path of spec.data.endpoints,
// `v1/mdc/` + that of model_cards, `v1/event_channels/` + that of event_channels),
// with the record's JSON text as value, for dynamo::DiscoveryRecordDecoder. Other
// maps of spec.data (event_sources) carry nothing the scaler reads.
struct WorkerMetadata {
  ObjectMeta meta;
  std::vector<std::pair<std::string, std::string>> records;
};
absl::StatusOr<WorkerMetadata> ParseWorkerMetadata(std::string_view object);

// The pods of an EndpointSlice (endpoints[].targetRef of kind Pod) and whether each
// is ready (endpoints[].conditions.ready; absent means ready, as the API defines it).
struct SliceEndpoint {
  std::string pod;
  bool ready = false;
  std::vector<std::string> addresses;
  friend bool operator==(const SliceEndpoint&, const SliceEndpoint&) = default;
};
struct EndpointSlice {
  ObjectMeta meta;
  std::vector<SliceEndpoint> endpoints;
  // The port named "system" (ports[].name; the operator's name for the workers'
  // system port, where /metrics is served), if the slice has one.
  std::optional<uint16_t> system_port;
};
absl::StatusOr<EndpointSlice> ParseEndpointSlice(std::string_view object);

// The Status object of an API error answer (401, 403, 410, ...): its message, or
// none when the body is not one.
std::optional<std::string> StatusMessage(std::string_view body);

}  // namespace mk::kubernetes

#endif  // METRICS_KEDA_KUBERNETES_API_OBJECTS_H_
