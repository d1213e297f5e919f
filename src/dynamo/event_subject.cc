#include "dynamo/event_subject.h"

#include <vector>

#include "dynamo/discovery_records.h"

namespace mk::dynamo {
namespace {

// Subjects are short; a longer one is no Dynamo subject (and is not split).
constexpr size_t kMaxSubjectBytes = 4096;
constexpr size_t kMaxSegments = 8;

}  // namespace

std::optional<EventSubject> ParseEventSubject(std::string_view subject) {
  if (subject.empty() || subject.size() > kMaxSubjectBytes) return std::nullopt;
  std::vector<std::string> segments;
  size_t start = 0;
  while (true) {
    const size_t dot = subject.find('.', start);
    const std::string_view raw =
        subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    std::optional<std::string> segment = PercentDecodeSegment(raw);
    if (raw.empty() || !segment || segment->empty()) return std::nullopt;
    segments.push_back(std::move(*segment));
    if (segments.size() > kMaxSegments) return std::nullopt;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  EventSubject out;
  if (segments.size() < 3 || segments[0] != "namespace") return std::nullopt;
  out.dynamo_namespace = segments[1];
  out.topic = segments.back();
  if (segments.size() == 3) return out;
  if (segments[2] != "component") return std::nullopt;
  out.component = segments[3];
  if (segments.size() == 5) return out;
  if (segments.size() != 7 || segments[4] != "endpoint") return std::nullopt;
  out.endpoint = segments[5];
  return out;
}

std::string EventSubjectText(const EventSubject& subject) {
  std::string text = "namespace." + PercentEncodeSegment(subject.dynamo_namespace);
  if (!subject.component.empty()) {
    text += ".component." + PercentEncodeSegment(subject.component);
    if (!subject.endpoint.empty()) text += ".endpoint." + PercentEncodeSegment(subject.endpoint);
  }
  return text + "." + PercentEncodeSegment(subject.topic);
}

std::string NamespaceWildcard(std::string_view dynamo_namespace) {
  return "namespace." + PercentEncodeSegment(dynamo_namespace) + ".>";
}

}  // namespace mk::dynamo
