#include "nats/nats_connection.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"

namespace mk::nats {
namespace {

std::string ConnectedUrl(natsConnection* nc) {
  char buffer[512] = {0};
  if (natsConnection_GetConnectedUrl(nc, buffer, sizeof buffer) != NATS_OK) return "?";
  return RedactUrl(buffer);
}

// A scheme name as RFC 3986 spells it: a letter, then letters, digits, '+', '-', '.'.
bool IsSchemeName(std::string_view text) {
  if (text.empty() || !std::isalpha(static_cast<unsigned char>(text.front()))) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// The servers of `settings`, fit to print.
std::string ServerList(const ConnectionSettings& settings) {
  std::string list;
  for (const std::string& url : settings.servers) {
    if (!list.empty()) list += ',';
    list += RedactUrl(url);
  }
  return list;
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

std::string RedactUrl(std::string_view url) {
  // Surrounding spaces (which libnats trims) are kept; the URL inside them is read.
  const size_t first = url.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::string(url);
  const size_t last = url.find_last_not_of(" \t");
  const std::string_view core = url.substr(first, last - first + 1);
  // libnats takes the text before the first "://" as the scheme; unless it is one
  // (a password may hold "://"), the user information is read from the start.
  const size_t scheme_end = core.find("://");
  const size_t start =
      scheme_end != std::string_view::npos && IsSchemeName(core.substr(0, scheme_end))
          ? scheme_end + 3
          : 0;
  const size_t at = core.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  const std::string_view userinfo = core.substr(start, at - start);
  const size_t colon = userinfo.find(':');
  const bool user_shown = colon != std::string_view::npos &&
                          userinfo.substr(0, colon).find_first_of("@/?#") == std::string_view::npos;
  std::string redacted(url.substr(0, first + start));
  if (user_shown) redacted.append(userinfo.substr(0, colon)).append(":");
  redacted.append("***");
  redacted.append(url.substr(first + at));
  return redacted;
}

std::string RedactServerList(std::string_view list) {
  std::string redacted;
  while (true) {
    const size_t comma = list.find(',');
    redacted += RedactUrl(list.substr(0, comma));
    if (comma == std::string_view::npos) return redacted;
    redacted += ',';
    list.remove_prefix(comma + 1);
  }
}

absl::StatusOr<std::vector<std::string>> SplitServerList(const std::string& list) {
  std::vector<std::string> servers;
  size_t begin = 0;
  while (true) {
    const size_t comma = std::min(list.find(',', begin), list.size());
    const size_t first = list.find_first_not_of(" \t", begin);
    const size_t last = list.find_last_not_of(" \t", comma == 0 ? 0 : comma - 1);
    if (first >= comma || last == std::string::npos || last < first) {
      return absl::InvalidArgumentError("empty URL at position " +
                                        std::to_string(servers.size() + 1) + " in the list \"" +
                                        RedactServerList(list) + "\"");
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
    spdlog::warn("NATS not reachable yet at {}; retrying in the background", ServerList(settings));
  } else {
    return NatsError("connecting to NATS at " + ServerList(settings), s);
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
