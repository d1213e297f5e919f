#include "dynamo/service_name.h"

#include <cstdio>

#include "dynamo/worker_load.h"

namespace mk::dynamo {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsHex(char c) { return IsLowerHex(c) || (c >= 'A' && c <= 'F'); }

std::optional<uint64_t> ParseLeaseHex(std::string_view hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : hex) {
    if (!IsHex(c)) return std::nullopt;
    const int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  return value;
}

}  // namespace

std::string LeaseHex(uint64_t lease_id) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%llx", static_cast<unsigned long long>(lease_id));
  return buffer;
}

bool IsSubjectSafeName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Slugify(std::string_view text) {
  std::string slug;
  slug.reserve(text.size());
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    slug.push_back(keep ? c : '_');
  }
  const size_t first = slug.find_first_not_of('_');
  return first == std::string::npos ? std::string() : slug.substr(first);
}

std::string ServiceName(std::string_view dynamo_namespace, std::string_view component) {
  std::string joined(dynamo_namespace);
  joined += '_';
  joined += component;
  return Slugify(joined);
}

std::string LegacyServiceNamePrefix(std::string_view dynamo_namespace, std::string_view component) {
  std::string slug = ServiceName(dynamo_namespace, component);
  for (char& c : slug) {
    if (c == '-') c = '_';
  }
  return slug;
}

EndpointMatcher::EndpointMatcher(std::string_view dynamo_namespace, std::string_view component,
                                 std::string_view endpoint, bool accept_legacy_names)
    : service_name_(ServiceName(dynamo_namespace, component)),
      legacy_prefix_(LegacyServiceNamePrefix(dynamo_namespace, component)),
      endpoint_(endpoint),
      accept_legacy_names_(accept_legacy_names) {}

bool EndpointMatcher::IsMonitoredService(std::string_view service) const {
  if (service == service_name_) return true;
  if (!accept_legacy_names_) return false;
  // `<prefix>_<8 lowercase hex>`
  if (service.size() != legacy_prefix_.size() + 9) return false;
  if (service.substr(0, legacy_prefix_.size()) != legacy_prefix_) return false;
  if (service[legacy_prefix_.size()] != '_') return false;
  for (char c : service.substr(legacy_prefix_.size() + 1)) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

EndpointMatcher::Result EndpointMatcher::MatchSubject(std::string_view subject) const {
  const size_t dot = subject.find('.');
  if (dot == std::string_view::npos || !IsMonitoredService(subject.substr(0, dot))) return {};
  const Result other_endpoint{Match::kOtherEndpoint, 0};
  const std::string_view instance = subject.substr(dot + 1);
  // The lease follows the last '-'; what precedes it must be exactly the endpoint.
  const size_t dash = instance.rfind('-');
  if (dash == std::string_view::npos || instance.substr(0, dash) != endpoint_) {
    return other_endpoint;
  }
  const std::optional<uint64_t> lease = ParseLeaseHex(instance.substr(dash + 1));
  if (!lease) return {Match::kBadLeaseId, 0};
  return {Match::kMatched, *lease};
}

}  // namespace mk::dynamo
