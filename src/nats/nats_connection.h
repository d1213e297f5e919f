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

// `nats://user:secret@host:4222` -> `nats://user:***@host:4222`; tokens likewise.
std::string RedactUrl(const std::string& url);

// Splits the --nats-server value; INVALID_ARGUMENT on an empty entry.
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
