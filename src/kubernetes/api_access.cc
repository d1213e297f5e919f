#include "kubernetes/api_access.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace mk::kubernetes {
namespace {

// Credentials and CAs are a few KiB; a kubeconfig with many contexts some more.
constexpr std::uintmax_t kMaxFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::error_code error;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) return absl::FailedPreconditionError(path + ": " + error.message());
  if (size > kMaxFileBytes) return absl::InvalidArgumentError(path + ": larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return absl::FailedPreconditionError(path + ": cannot be read");
  return text.str();
}

std::string Trimmed(std::string text) {
  const auto end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

// The map entry of `list` (a kubeconfig's clusters, users or contexts) named `name`.
YAML::Node Named(const YAML::Node& list, const std::string& name) {
  if (!list.IsSequence()) return YAML::Node();
  for (const YAML::Node& entry : list) {
    if (entry.IsMap() && entry["name"] && entry["name"].as<std::string>() == name) return entry;
  }
  return YAML::Node();
}

std::string StringAt(const YAML::Node& map, const char* key) {
  const YAML::Node value = map.IsMap() ? map[key] : YAML::Node();
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

}  // namespace

absl::StatusOr<ApiAccess> InClusterAccess(const std::string& host, const std::string& port,
                                          const std::string& service_account_dir) {
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "are not set): give --kubeconfig");
  }
  ApiAccess access;
  access.source = "in-cluster";
  // An IPv6 service address needs brackets in a URL.
  access.server =
      "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  access.token_file = service_account_dir + "/token";
  if (absl::StatusOr<std::string> token = ReadSmallFile(access.token_file); !token.ok()) {
    return absl::FailedPreconditionError("service account token: " +
                                         std::string(token.status().message()));
  }
  absl::StatusOr<std::string> ca = ReadSmallFile(service_account_dir + "/ca.crt");
  if (!ca.ok()) {
    return absl::FailedPreconditionError("service account CA: " +
                                         std::string(ca.status().message()));
  }
  access.ca_pem = *std::move(ca);
  if (absl::StatusOr<std::string> ns = ReadSmallFile(service_account_dir + "/namespace"); ns.ok()) {
    access.default_namespace = Trimmed(*std::move(ns));
  }
  return access;
}

absl::StatusOr<ApiAccess> KubeconfigAccess(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok())
    return absl::InvalidArgumentError("kubeconfig " + std::string(text.status().message()));
  auto invalid = [&](const std::string& what) {
    return absl::InvalidArgumentError("kubeconfig " + path + ": " + what);
  };
  YAML::Node config;
  try {
    config = YAML::Load(*text);
  } catch (const YAML::Exception& error) {
    return invalid(std::string("not YAML: ") + error.what());
  }
  if (!config.IsMap()) return invalid("not a kubeconfig (not a map)");
  try {
    const std::string context_name = StringAt(config, "current-context");
    if (context_name.empty()) return invalid("no current-context");
    const YAML::Node context = Named(config["contexts"], context_name)["context"];
    if (!context || !context.IsMap()) return invalid("no context named \"" + context_name + "\"");
    const std::string cluster_name = StringAt(context, "cluster");
    const YAML::Node cluster = Named(config["clusters"], cluster_name)["cluster"];
    if (!cluster || !cluster.IsMap()) return invalid("no cluster named \"" + cluster_name + "\"");
    const std::string user_name = StringAt(context, "user");
    YAML::Node user = Named(config["users"], user_name)["user"];
    if (!user_name.empty() && (!user || !user.IsMap())) {
      return invalid("no user named \"" + user_name + "\"");
    }

    ApiAccess access;
    access.source = path;
    access.default_namespace = StringAt(context, "namespace");
    access.server = StringAt(cluster, "server");
    while (!access.server.empty() && access.server.back() == '/') access.server.pop_back();
    if (access.server.rfind("https://", 0) != 0 && access.server.rfind("http://", 0) != 0) {
      return invalid("cluster \"" + cluster_name + "\" has no http(s) server URL");
    }
    // Relative paths are relative to the kubeconfig's own directory.
    const std::filesystem::path base = std::filesystem::path(path).parent_path();
    auto resolve = [&](const std::string& file) {
      return std::filesystem::path(file).is_absolute() ? file : (base / file).string();
    };
    // `data` (base64 PEM) wins over `file`, as in client-go.
    auto pem = [&](const YAML::Node& map, const char* data_key, const char* file_key,
                   std::string& out) -> absl::Status {
      if (const std::string data = StringAt(map, data_key); !data.empty()) {
        if (!absl::Base64Unescape(data, &out))
          return invalid(std::string(data_key) + " is not base64");
        return absl::OkStatus();
      }
      if (const std::string file = StringAt(map, file_key); !file.empty()) {
        absl::StatusOr<std::string> read = ReadSmallFile(resolve(file));
        if (!read.ok())
          return invalid(std::string(file_key) + ": " + std::string(read.status().message()));
        out = *std::move(read);
      }
      return absl::OkStatus();
    };
    if (absl::Status status =
            pem(cluster, "certificate-authority-data", "certificate-authority", access.ca_pem);
        !status.ok()) {
      return status;
    }
    access.insecure_skip_tls_verify = StringAt(cluster, "insecure-skip-tls-verify") == "true";
    if (user) {
      if (user["exec"] || user["auth-provider"]) {
        return invalid("user \"" + user_name +
                       "\" authenticates through a plugin (exec or auth-provider), which this "
                       "scaler does not run: give it a token, tokenFile or client certificate");
      }
      access.token = StringAt(user, "token");
      if (const std::string file = StringAt(user, "tokenFile"); !file.empty()) {
        access.token_file = resolve(file);
      }
      if (absl::Status status =
              pem(user, "client-certificate-data", "client-certificate", access.client_cert_pem);
          !status.ok()) {
        return status;
      }
      if (absl::Status status = pem(user, "client-key-data", "client-key", access.client_key_pem);
          !status.ok()) {
        return status;
      }
      if (access.client_cert_pem.empty() != access.client_key_pem.empty()) {
        return invalid("user \"" + user_name +
                       "\" has a client certificate without its key, or "
                       "a key without its certificate");
      }
    }
    return access;
  } catch (const YAML::Exception& error) {
    return invalid(std::string("unexpected shape: ") + error.what());
  }
}

}  // namespace mk::kubernetes
