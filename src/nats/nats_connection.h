// One NATS connection shared by every scraper of the process. It connects in the
// background (the scaler starts even while NATS is down), reconnects forever, and
// tracks whether it is connected and how often it has lost the connection, so a
// scrape can tell whether its whole round ran on a live connection.
// Thread-safe. One per process: destroying it closes the NATS library.
#ifndef METRICS_KEDA_NATS_NATS_CONNECTION_H_
#define METRICS_KEDA_NATS_NATS_CONNECTION_H_

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mk::nats {

struct ConnectionSettings {
  std::vector<std::string> servers;  // nats:// URLs
  std::string client_name = "metrics-keda";
  // Authentication: at most one of credentials file, user/password, token.
  std::string credentials_file;  // a .creds file (JWT and NKey seed)
  std::string user;
  std::string password;
  std::string token;
  // TLS to NATS: a CA to trust, optionally a client certificate and key.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // Told of every change of the connected state, on a NATS client thread.
  std::function<void(bool connected)> on_state_change;
};

// One NATS URL fit to print: `nats://user:secret@host:4222` -> `nats://user:***@host:4222`,
// `nats://token@host` -> `nats://***@host`. The user information is read as libnats reads
// it, so that all of what it would send as a secret is hidden: everything between the
// scheme (`scheme://`, optional) and the LAST '@' of the URL, path and query included
// (`nats://u:p@ss/x@h` -> `nats://u:***@h`). It is `user:password` (the user up to the
// first ':', shown only when it holds no '@', '/', '?' or '#') or a token, hidden whole.
std::string RedactUrl(std::string_view url);

// A --nats-server value fit to print: each comma-separated entry redacted by RedactUrl,
// whatever its position; separators, spaces and empty entries kept as they are.
std::string RedactServerList(std::string_view list);

// Splits the --nats-server value; INVALID_ARGUMENT on an empty entry (the message
// shows the list through RedactServerList).
absl::StatusOr<std::vector<std::string>> SplitServerList(const std::string& list);

class NatsConnection {
 public:
  static absl::StatusOr<std::unique_ptr<NatsConnection>> Start(const ConnectionSettings& settings);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  bool connected() const { return connected_.load(); }
  // Incremented on every loss of the connection.
  uint64_t disconnects() const { return disconnects_.load(); }
  uint64_t reconnects() const { return reconnects_.load(); }

  natsConnection* raw() const { return connection_; }

 private:
  NatsConnection() = default;
  static void OnConnected(natsConnection* nc, void* self);
  static void OnDisconnected(natsConnection* nc, void* self);
  static void OnReconnected(natsConnection* nc, void* self);
  static void OnAsyncError(natsConnection* nc, natsSubscription* sub, natsStatus err, void* self);

  void SetConnected(bool connected);

  std::function<void(bool)> on_state_change_;
  natsConnection* connection_ = nullptr;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};  // our own Close: not a loss worth logging
  std::atomic<uint64_t> disconnects_{0};
  std::atomic<uint64_t> reconnects_{0};
};

}  // namespace mk::nats

#endif  // METRICS_KEDA_NATS_NATS_CONNECTION_H_
