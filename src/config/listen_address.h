// The --host flag: where the gRPC port and the HTTP port listen. One check and one
// spelling for both servers: an IPv4 address (0.0.0.0, 127.0.0.1), an IPv6 address,
// bare or in brackets (::, ::1, [::1]), or a host name (localhost). Pure.
#ifndef METRICS_KEDA_CONFIG_LISTEN_ADDRESS_H_
#define METRICS_KEDA_CONFIG_LISTEN_ADDRESS_H_

#include <optional>
#include <string>
#include <string_view>

namespace mk::config {

// What --host accepts, for the line refusing anything else.
inline constexpr std::string_view kListenHostAccepted =
    "expected an IPv4 address (0.0.0.0), an IPv6 address (:: or ::1, brackets optional: [::1]) "
    "or a host name (localhost)";

struct ListenHost {
  // Without brackets, as an HTTP server resolves it: "::1", "0.0.0.0", "localhost".
  std::string address = "0.0.0.0";
  bool ipv6 = false;

  // address:port as gRPC listens on it: "[::1]:9090", "0.0.0.0:9090", "localhost:9090".
  std::string WithPort(int port) const;

  bool operator==(const ListenHost&) const = default;
};

// The --host value checked; nothing when it is none of the above: empty, "[::1",
// "::g", "[1.2.3.4]", "1.2.3", "a b", "-x".
std::optional<ListenHost> ParseListenHost(std::string_view text);

}  // namespace mk::config

#endif  // METRICS_KEDA_CONFIG_LISTEN_ADDRESS_H_
