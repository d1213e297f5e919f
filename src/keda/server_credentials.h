// The gRPC server's credentials: plaintext, TLS, or mutual TLS, as KEDA's
// external scaler client speaks them (TLS 1.2+, ALPN h2, both gRPC's defaults).
// Certificate files are watched and reloaded when they change (cert-manager
// rotates them), without a restart. Called once by main.
#ifndef METRICS_KEDA_KEDA_SERVER_CREDENTIALS_H_
#define METRICS_KEDA_KEDA_SERVER_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mk::keda {

struct TlsFiles {
  std::string certificate;  // PEM chain; empty: plaintext
  std::string private_key;  // PEM
  std::string client_ca;    // PEM bundle; set: clients must present a certificate it signed
  unsigned reload_seconds = 10;
};

// INVALID_ARGUMENT naming the flag when a file is missing or unreadable, or a
// key is given without a certificate (or the reverse).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_SERVER_CREDENTIALS_H_
