#include "nats/nats_connection.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "absl/status/status.h"

namespace mk::nats {
namespace {

std::string ConnectedUrl(natsConnection* nc) {
  char buffer[512] = {0};
  if (natsConnection_GetConnectedUrl(nc, buffer, sizeof buffer) != NATS_OK) return "?";
  return RedactUrl(buffer);
}

absl::Status NatsError(const std::string& what, natsStatus status) {
  return absl::UnavailableError(what + ": " + natsStatus_GetText(status));
}

// The flag a failing security setting came from, with the library's reason;
// never the secret itself.
absl::Status SecurityError(const std::string& flag, natsStatus status) {
  return absl::InvalidArgumentError(flag + ": " + natsStatus_GetText(status) + " (" +
                                    nats_GetLastError(nullptr) + ")");
}

absl::Status ApplySecurity(const ConnectionSettings& settings, natsOptions* options) {
  const int methods =
      !settings.credentials_file.empty() + !settings.user.empty() + !settings.token.empty();
  if (methods > 1) {
    return absl::InvalidArgumentError(
        "--nats-creds, --nats-user and --nats-token: give at most one");
  }
  if (settings.password.size() > 0 && settings.user.empty()) {
    return absl::InvalidArgumentError("--nats-password: needs --nats-user");
  }
  if (settings.tls_cert.empty() != settings.tls_key.empty()) {
    return absl::InvalidArgumentError("--nats-tls-cert and --nats-tls-key go together");
  }
  for (const auto& [flag, path] : {std::pair{"--nats-creds", settings.credentials_file},
                                   std::pair{"--nats-tls-ca", settings.tls_ca},
                                   std::pair{"--nats-tls-cert", settings.tls_cert},
                                   std::pair{"--nats-tls-key", settings.tls_key}}) {
    if (!path.empty() && access(path.c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(std::string(flag) + ": cannot read \"" + path + "\"");
    }
  }
  if (!settings.credentials_file.empty()) {
    if (natsStatus s = natsOptions_SetUserCredentialsFromFiles(
            options, settings.credentials_file.c_str(), nullptr);
        s != NATS_OK) {
      return SecurityError("--nats-creds", s);
    }
  }
  if (!settings.user.empty()) {
    if (natsStatus s =
            natsOptions_SetUserInfo(options, settings.user.c_str(), settings.password.c_str());
        s != NATS_OK) {
      return SecurityError("--nats-user", s);
    }
  }
  if (!settings.token.empty()) {
    if (natsStatus s = natsOptions_SetToken(options, settings.token.c_str()); s != NATS_OK) {
      return SecurityError("--nats-token", s);
    }
  }
  if (!settings.tls_ca.empty() || !settings.tls_cert.empty()) {
    if (natsStatus s = natsOptions_SetSecure(options, true); s != NATS_OK) {
      return SecurityError("--nats-tls-ca", s);
    }
  }
  if (!settings.tls_ca.empty()) {
    if (natsStatus s = natsOptions_LoadCATrustedCertificates(options, settings.tls_ca.c_str());
        s != NATS_OK) {
      return SecurityError("--nats-tls-ca", s);
    }
  }
  if (!settings.tls_cert.empty()) {
    if (natsStatus s = natsOptions_LoadCertificatesChain(options, settings.tls_cert.c_str(),
                                                         settings.tls_key.c_str());
        s != NATS_OK) {
      return SecurityError("--nats-tls-cert", s);
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = url.find('@', start);
  if (at == std::string::npos) return url;
  const std::string userinfo = url.substr(start, at - start);
  const size_t colon = userinfo.find(':');
  const std::string shown = colon == std::string::npos ? "***" : userinfo.substr(0, colon) + ":***";
  return url.substr(0, start) + shown + url.substr(at);
}

absl::StatusOr<std::vector<std::string>> SplitServerList(const std::string& list) {
  std::vector<std::string> servers;
  size_t begin = 0;
  while (true) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    const size_t first = list.find_first_not_of(" \t", begin);
    const size_t last = list.find_last_not_of(" \t", comma == 0 ? 0 : comma - 1);
    if (first >= comma || last == std::string::npos || last < first) {
      return absl::InvalidArgumentError("empty URL in the list \"" + RedactUrl(list) + "\"");
    }
    servers.push_back(list.substr(first, last - first + 1));
    if (comma == list.size()) return servers;
    begin = comma + 1;
  }
}

absl::StatusOr<std::unique_ptr<NatsConnection>> NatsConnection::Start(
    const ConnectionSettings& settings) {
  std::unique_ptr<NatsConnection> self(new NatsConnection());
  self->on_state_change_ = settings.on_state_change;
  natsOptions* options = nullptr;
  if (natsStatus s = natsOptions_Create(&options); s != NATS_OK) {
    return NatsError("creating NATS options", s);
  }
  std::vector<const char*> urls;
  for (const std::string& url : settings.servers) urls.push_back(url.c_str());
  natsStatus s = natsOptions_SetServers(options, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(options, settings.client_name.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(options, 250);
  if (s == NATS_OK) s = natsOptions_SetTimeout(options, 2000);
  // Detect a dead server within a few seconds even when no reply is due.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(options, 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(options, 2);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(options, OnDisconnected, self.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(options, OnReconnected, self.get());
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(options, OnAsyncError, self.get());
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(options, true, OnConnected, self.get());
  if (s != NATS_OK) {
    natsOptions_Destroy(options);
    return absl::InvalidArgumentError(std::string("--nats-server: ") + natsStatus_GetText(s) +
                                      " (accepted: nats:// URLs)");
  }
  if (absl::Status security = ApplySecurity(settings, options); !security.ok()) {
    natsOptions_Destroy(options);
    return security;
  }
  s = natsConnection_Connect(&self->connection_, options);
  natsOptions_Destroy(options);
  if (s == NATS_OK) {
    self->SetConnected(true);
    spdlog::info("NATS connected to {}", ConnectedUrl(self->connection_));
  } else if (s == NATS_NOT_YET_CONNECTED) {
    spdlog::warn("NATS not reachable yet; retrying in the background");
  } else {
    return NatsError("connecting to NATS", s);
  }
  return self;
}

NatsConnection::~NatsConnection() {
  if (connection_ == nullptr) return;
  closing_ = true;
  natsConnection_Close(connection_);
  natsConnection_Destroy(connection_);
  // Callbacks run on the library's threads and may still be queued: wait for
  // them, since they point at this object.
  nats_CloseAndWait(2000);
}

void NatsConnection::SetConnected(bool connected) {
  connected_ = connected;
  if (on_state_change_) on_state_change_(connected);
}

void NatsConnection::OnConnected(natsConnection* nc, void* self) {
  static_cast<NatsConnection*>(self)->SetConnected(true);
  spdlog::info("NATS connected to {}", ConnectedUrl(nc));
}

void NatsConnection::OnDisconnected(natsConnection*, void* self) {
  auto* connection = static_cast<NatsConnection*>(self);
  // Callbacks may repeat while reconnect attempts fail; log the loss once.
  if (connection->connected_.exchange(false) && !connection->closing_) {
    ++connection->disconnects_;
    if (connection->on_state_change_) connection->on_state_change_(false);
    spdlog::warn("NATS disconnected; reconnecting");
  }
}

void NatsConnection::OnReconnected(natsConnection* nc, void* self) {
  auto* connection = static_cast<NatsConnection*>(self);
  ++connection->reconnects_;
  connection->SetConnected(true);
  spdlog::info("NATS reconnected to {}", ConnectedUrl(nc));
}

void NatsConnection::OnAsyncError(natsConnection*, natsSubscription*, natsStatus err, void*) {
  spdlog::warn("NATS asynchronous error: {}", natsStatus_GetText(err));
}

}  // namespace mk::nats
