// How to reach the Kubernetes API server: its URL, the certificate authority to
// trust, the credentials, and the namespace the scaler runs in. Two ways, as
// client-go has them:
//   - in-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the pod's
//     service account files (token, ca.crt, namespace) under
//     /var/run/secrets/kubernetes.io/serviceaccount;
//   - a kubeconfig file (`--kubeconfig`, KUBECONFIG) for running outside the
//     cluster: its current context's cluster (server, certificate-authority[-data],
//     insecure-skip-tls-verify) and user (token, tokenFile, client-certificate[-data]
//     and client-key[-data]). Exec and auth-provider plugins are not run: they are
//     refused with a message saying so.
// Tokens may rotate (projected service account tokens are renewed by the kubelet
// well before they expire): a token file is named here and re-read by the client.
//
// Pure apart from reading the named files; thread-safe.
#ifndef METRICS_KEDA_KUBERNETES_API_ACCESS_H_
#define METRICS_KEDA_KUBERNETES_API_ACCESS_H_

#include <string>

#include "absl/status/statusor.h"

namespace mk::kubernetes {

struct ApiAccess {
  std::string server;  // https://host:port (no trailing slash)
  // The CA to trust: PEM text (kubeconfig's certificate-authority-data, or a file's
  // contents); empty: the system's CAs.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Bearer token: a file re-read when it changes, or a fixed token.
  std::string token_file;
  std::string token;
  // Client certificate and key (PEM text).
  std::string client_cert_pem;
  std::string client_key_pem;
  // The namespace the scaler runs in (in-cluster), or the context's; may be empty.
  std::string default_namespace;
  std::string source;  // "in-cluster" or the kubeconfig's path, for messages
};

// The service account mount of a pod, where client-go reads it.
inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// In-cluster access from `host` and `port` (the KUBERNETES_SERVICE_* variables) and
// the files under `service_account_dir`. FAILED_PRECONDITION when not in a pod.
absl::StatusOr<ApiAccess> InClusterAccess(const std::string& host, const std::string& port,
                                          const std::string& service_account_dir);

// Access from the kubeconfig at `path` (its current-context). INVALID_ARGUMENT, naming
// the file and the field, when it cannot be used.
absl::StatusOr<ApiAccess> KubeconfigAccess(const std::string& path);

}  // namespace mk::kubernetes

#endif  // METRICS_KEDA_KUBERNETES_API_ACCESS_H_
