// How Dynamo names things on NATS: service names derived from (namespace,
// component), and endpoint instance subjects `<service>.<endpoint>-<lease hex>`.
// Pure functions and a matcher; safe to use from any thread once constructed.
#ifndef METRICS_KEDA_DYNAMO_SERVICE_NAME_H_
#define METRICS_KEDA_DYNAMO_SERVICE_NAME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mk::dynamo {

// True for the names accepted for a namespace, component or endpoint: 1 to 128
// characters of [A-Za-z0-9_-], so that they can stand in a NATS subject token.
bool IsSubjectSafeName(std::string_view name);

// Dynamo's slugify: lowercase; keep [a-z0-9_-]; any other character becomes '_';
// leading '_' trimmed.
std::string Slugify(std::string_view text);

// The NATS micro service name of a component, Dynamo 0.2 and later.
std::string ServiceName(std::string_view dynamo_namespace, std::string_view component);

// Dynamo 0.1 named services `slugify_unique`: the slug with '-' also mapped to '_',
// then '_' and 8 hex characters of a hash. This returns the part before the hash.
std::string LegacyServiceNamePrefix(std::string_view dynamo_namespace, std::string_view component);

// Recognises the subject of the monitored endpoint's instances and extracts the
// lease id. Matching is exact: `kv-router_x-1a` is not endpoint `kv-router`.
class EndpointMatcher {
 public:
  // `accept_legacy_names` also accepts `<legacy prefix>_<8 hex>` as service name.
  EndpointMatcher(std::string_view dynamo_namespace, std::string_view component,
                  std::string_view endpoint, bool accept_legacy_names);

  enum class Match { kOtherService, kOtherEndpoint, kBadLeaseId, kMatched };
  struct Result {
    Match match = Match::kOtherService;
    uint64_t lease_id = 0;
  };
  Result MatchSubject(std::string_view subject) const;

  const std::string& service_name() const { return service_name_; }

 private:
  bool IsMonitoredService(std::string_view service) const;

  std::string service_name_;
  std::string legacy_prefix_;
  std::string endpoint_;
  bool accept_legacy_names_;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_SERVICE_NAME_H_
