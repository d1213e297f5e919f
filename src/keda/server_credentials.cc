#include "keda/server_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <fstream>

#include "absl/status/status.h"

namespace mk::keda {
namespace {

absl::Status Readable(const std::string& flag, const std::string& path) {
  std::ifstream file(path);
  if (!file || file.peek() == std::ifstream::traits_type::eof()) {
    return absl::InvalidArgumentError(flag + ": cannot read \"" + path +
                                      "\" (expected a PEM file)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files) {
  if (files.certificate.empty() && files.private_key.empty()) {
    if (!files.client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca: needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (files.certificate.empty() || files.private_key.empty()) {
    return absl::InvalidArgumentError(files.certificate.empty() ? "--tls-key: needs --tls-cert"
                                                                : "--tls-cert: needs --tls-key");
  }
  for (const auto& [flag, path] :
       {std::pair{"--tls-cert", files.certificate}, std::pair{"--tls-key", files.private_key},
        std::pair{"--tls-client-ca", files.client_ca}}) {
    if (path.empty()) continue;
    if (absl::Status status = Readable(flag, path); !status.ok()) return status;
  }
  // The provider re-reads the files every reload_seconds and serves new
  // handshakes with what it finds; a half-written rotation is skipped.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.private_key, files.certificate, files.client_ca, files.reload_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.client_ca.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace mk::keda
