// Dynamo's event-plane subjects (NATS, and frame 0 through a ZMQ broker):
//   namespace.<ns>.<topic>                                   namespace scope (to mid 2026)
//   namespace.<ns>.component.<c>.<topic>                     component scope (ForwardPassMetrics)
//   namespace.<ns>.component.<c>.endpoint.<ep>.<topic>       endpoint scope (1.4 on)
// Since 1.4 every segment is percent-encoded (PercentEncodeSegment); names of older
// releases never hold a '%' or a '.', so one reading serves every release.
//
// Pure functions; any input may be given.
#ifndef METRICS_KEDA_DYNAMO_EVENT_SUBJECT_H_
#define METRICS_KEDA_DYNAMO_EVENT_SUBJECT_H_

#include <optional>
#include <string>
#include <string_view>

namespace mk::dynamo {

// The topics the scaler reads.
inline constexpr std::string_view kKvMetricsTopic = "kv_metrics";
inline constexpr std::string_view kForwardPassMetricsTopic = "forward-pass-metrics";

// A subject's parts, decoded: component and endpoint empty where the scope does not
// name them.
struct EventSubject {
  std::string dynamo_namespace;
  std::string component;
  std::string endpoint;
  std::string topic;

  friend bool operator==(const EventSubject&, const EventSubject&) = default;
};

// Reads a subject; none when it is not of the three forms above (an empty segment,
// a bad %XX escape, another shape).
std::optional<EventSubject> ParseEventSubject(std::string_view subject);

// The subject Dynamo 1.4 on publishes `subject` on (segments percent-encoded).
std::string EventSubjectText(const EventSubject& subject);

// The NATS wildcard subscription that receives every event subject of the namespace.
std::string NamespaceWildcard(std::string_view dynamo_namespace);

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_EVENT_SUBJECT_H_
