// A target is what one collector watches: one (namespace, component, endpoint)
// triple of Dynamo workers. Plain value type.
#ifndef METRICS_KEDA_FLEET_TARGET_H_
#define METRICS_KEDA_FLEET_TARGET_H_

#include <compare>
#include <string>

namespace mk::fleet {

struct Target {
  std::string dynamo_namespace;
  std::string component;
  std::string endpoint;

  // "namespace/component/endpoint", as targets are named in messages and labels.
  std::string ToString() const;

  friend auto operator<=>(const Target&, const Target&) = default;
  friend bool operator==(const Target&, const Target&) = default;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_TARGET_H_
