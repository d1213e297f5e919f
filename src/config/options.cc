#include "config/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "common/decimal.h"
#include "dynamo/service_name.h"

namespace mk::config {
namespace {

constexpr const char* kProgram = "metrics-keda";

struct BadValue {
  std::string line;
};

BadValue Bad(const std::string& flag, const std::string& value, const std::string& accepted) {
  return {std::string(kProgram) + ": " + flag + ": \"" + value + "\" is not accepted; " + accepted};
}

// A number within [low, high] (or (low, high] when `low_open`).
double Number(const std::string& flag, const std::string& text, double low, bool low_open,
              double high, const std::string& accepted) {
  const std::optional<double> value = ParseDecimal(text);
  if (!value || *value < low || (low_open && *value == low) || *value > high) {
    throw Bad(flag, text, accepted);
  }
  return *value;
}

int Port(const std::string& flag, const std::string& text) {
  const std::string accepted = "expected an integer port in [0, 65535]";
  const int port = static_cast<int>(Number(flag, text, 0, false, 65535, accepted));
  if (std::to_string(port) != text) throw Bad(flag, text, accepted);
  return port;
}

size_t Count(const std::string& flag, const std::string& text, size_t low, size_t high) {
  const std::string accepted =
      "expected an integer in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
  const double value =
      Number(flag, text, static_cast<double>(low), false, static_cast<double>(high), accepted);
  const auto count = static_cast<size_t>(value);
  if (std::to_string(count) != text) throw Bad(flag, text, accepted);
  return count;
}

std::string Name(const std::string& flag, const std::string& text) {
  if (!dynamo::IsSubjectSafeName(text)) {
    throw Bad(flag, text, "expected 1-128 characters of [A-Za-z0-9_-]");
  }
  return text;
}

}  // namespace

std::optional<std::string> ZmqBrokerXpub(std::string_view url) {
  std::optional<std::string> xpub;
  bool xsub = false;
  size_t start = 0;
  while (start <= url.size()) {
    const size_t comma = std::min(url.find(',', start), url.size());
    const std::string_view part = url.substr(start, comma - start);
    const size_t equals = part.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view key = part.substr(0, equals);
    const std::string_view address = part.substr(equals + 1);
    if (!address.starts_with("tcp://") || address.size() <= 6) return std::nullopt;
    if (key == "xpub" && !xpub) {
      xpub = std::string(address);
    } else if (key == "xsub" && !xsub) {
      xsub = true;
    } else {
      return std::nullopt;
    }
    start = comma + 1;
  }
  if (!xsub) return std::nullopt;
  return xpub;
}

CommandLine ParseCommandLine(std::span<const char* const> args) {
  CLI::App app{"KEDA external scaler for NVIDIA Dynamo LLM workers, fed over NATS", kProgram};
  app.set_version_flag("--version", std::string(kProgram) + " " + METRICS_KEDA_VERSION);
  Options defaults;
  std::string component = defaults.component_name, endpoint = defaults.endpoint_name,
              host = defaults.host.address, dynamo_namespace = defaults.dynamo_namespace,
              nats_server = defaults.nats_server, log_level = defaults.log_level,
              log_format = defaults.log_format;
  std::string port = "9090", threshold = "0.7", check_interval = "5", cache_ttl = "5",
              max_staleness, scrape_window = "0.5", target_idle = "600", metrics_port = "9091";
  bool legacy = false;
  std::string tls_reload = "10";
  std::string max_message_bytes = "1048576", max_workers = "20000", max_targets = "64",
              max_streams = "1000", max_metadata_bytes = "16384";

  app.add_option("--component-name", component, "Default Dynamo component to monitor")
      ->capture_default_str();
  app.add_option("--endpoint-name", endpoint, "Default endpoint whose stats carry the load")
      ->capture_default_str();
  app.add_option("--host", host,
                 "Address the gRPC and HTTP ports listen on: IPv4, IPv6 (::1 or [::1]) or a "
                 "host name")
      ->capture_default_str();
  app.add_option("--port", port, "gRPC listen port (0: any free port)")->capture_default_str();
  app.add_option("--threshold", threshold, "Default target load per worker, [0.001, 1]")
      ->capture_default_str();
  app.add_option("--check-interval", check_interval, "Seconds between background collections")
      ->capture_default_str();
  app.add_option("--cache-ttl", cache_ttl, "Seconds a snapshot may be served without a refresh")
      ->capture_default_str();
  app.add_option("--namespace", dynamo_namespace, "Dynamo namespace")
      ->envname("DYN_NAMESPACE")
      ->capture_default_str();
  app.add_option("--nats-server", nats_server, "NATS URL(s), comma separated")
      ->envname("NATS_SERVER")
      ->capture_default_str();
  app.add_option("--max-staleness", max_staleness,
                 "Seconds after which no snapshot is served and silent workers leave "
                 "(default: 3 x --cache-ttl)");
  app.add_option("--scrape-window", scrape_window,
                 "Seconds a scrape round waits for replies at most")
      ->capture_default_str();
  app.add_flag("--legacy-service-names", legacy,
               "Also scrape Dynamo 0.1 workers, whose service names carry a hash "
               "(broadcasts to $SRV.STATS)");
  app.add_option("--target-idle-timeout", target_idle,
                 "Seconds after which an unqueried non-default target is dropped")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text or json (one object per line)")
      ->capture_default_str();
  app.add_option("--metrics-port", metrics_port,
                 "HTTP port of /metrics, /status and / (0: any free port)")
      ->capture_default_str();

  app.add_option("--max-message-bytes", max_message_bytes,
                 "Largest stats reply read; longer ones are dropped and counted")
      ->capture_default_str();
  app.add_option("--max-workers-per-target", max_workers,
                 "Worker units kept per target; reports of more are dropped and counted")
      ->capture_default_str();
  app.add_option("--max-targets", max_targets,
                 "Targets collected at once; triggers naming more get RESOURCE_EXHAUSTED")
      ->capture_default_str();
  app.add_option("--max-streams", max_streams,
                 "Open StreamIsActive streams; more get RESOURCE_EXHAUSTED")
      ->capture_default_str();
  app.add_option("--max-metadata-bytes", max_metadata_bytes,
                 "Size of one trigger's metadata; larger gets RESOURCE_EXHAUSTED")
      ->capture_default_str();

  Options tls;
  app.add_option("--tls-cert", tls.tls_cert, "PEM certificate chain: serve gRPC over TLS");
  app.add_option("--tls-key", tls.tls_key, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", tls.tls_client_ca,
                 "PEM CA bundle: require client certificates it signed (mutual TLS)");
  app.add_option("--nats-creds", tls.nats_creds, "NATS credentials file (JWT and NKey seed)")
      ->envname("NATS_CREDS");
  app.add_option("--nats-user", tls.nats_user, "NATS user")->envname("NATS_USER");
  app.add_option("--nats-password", tls.nats_password,
                 "NATS password (prefer the NATS_PASSWORD environment variable)")
      ->envname("NATS_PASSWORD");
  app.add_option("--nats-token", tls.nats_token,
                 "NATS token (prefer the NATS_TOKEN environment variable)")
      ->envname("NATS_TOKEN");
  app.add_option("--nats-tls-ca", tls.nats_tls_ca, "PEM CA bundle to verify NATS with (TLS)");
  app.add_option("--nats-tls-cert", tls.nats_tls_cert, "PEM client certificate for NATS");
  app.add_option("--nats-tls-key", tls.nats_tls_key, "PEM key of --nats-tls-cert");
  std::string source = "auto", event_plane = "zmq", zmq_broker, discovery_backend = "etcd",
              etcd_endpoints = tls.etcd_endpoints;
  app.add_option("--source", source,
                 "Where load is heard: stats ($SRV.STATS scrapes, Dynamo 0.1 - 0.5), events "
                 "(the event plane, every release since), metrics (the worker pods' own "
                 "/metrics, on Kubernetes), or auto (every reachable source)")
      ->capture_default_str();
  app.add_option("--event-plane", event_plane, "Transport of events: zmq or nats")
      ->envname("DYN_EVENT_PLANE")
      ->capture_default_str();
  app.add_option("--zmq-broker", zmq_broker,
                 "xsub=tcp://HOST:PORT,xpub=tcp://HOST:PORT: subscribe at a ZMQ broker instead "
                 "of each publisher")
      ->envname("DYN_ZMQ_BROKER_URL");
  app.add_option("--discovery-backend", discovery_backend,
                 "Where workers register: etcd, or none (workers are known once heard)")
      ->envname("DYN_DISCOVERY_BACKEND")
      ->capture_default_str();
  app.add_option("--etcd-endpoints", etcd_endpoints, "etcd URL(s), comma separated")
      ->envname("ETCD_ENDPOINTS")
      ->capture_default_str();
  // The environment variables Dynamo's own etcd client reads.
  app.add_option("--etcd-user", tls.etcd_user, "etcd user (authentication on)")
      ->envname("ETCD_AUTH_USERNAME");
  app.add_option("--etcd-password", tls.etcd_password,
                 "etcd password (prefer the ETCD_AUTH_PASSWORD environment variable)")
      ->envname("ETCD_AUTH_PASSWORD");
  app.add_option("--etcd-tls-ca", tls.etcd_tls_ca,
                 "PEM CA bundle to verify etcd with (path, or the PEM itself)")
      ->envname("ETCD_AUTH_CA");
  app.add_option("--etcd-tls-cert", tls.etcd_tls_cert,
                 "PEM client certificate for etcd (path, or the PEM itself)")
      ->envname("ETCD_AUTH_CLIENT_CERT");
  app.add_option("--etcd-tls-key", tls.etcd_tls_key,
                 "PEM key of --etcd-tls-cert (path, or the PEM itself)")
      ->envname("ETCD_AUTH_CLIENT_KEY");
  std::string kubeconfig, kube_namespaces, kube_watch = "300", worker_metrics_port = "9090";
  app.add_option("--worker-metrics-port", worker_metrics_port,
                 "Port of each worker pod's own /metrics (source metrics, on Kubernetes)")
      ->capture_default_str();
  app.add_option("--kubeconfig", kubeconfig,
                 "kubeconfig file for --discovery-backend kubernetes outside a pod (default: "
                 "the pod's service account)")
      ->envname("KUBECONFIG");
  const CLI::Option* kube_namespace_given =
      app.add_option("--kube-namespace", kube_namespaces,
                     "Kubernetes namespace(s) of the Dynamo graph, comma separated (default: the "
                     "scaler's own, else the kubeconfig context's)");
  app.add_option("--kube-watch-timeout", kube_watch,
                 "Seconds a Kubernetes watch runs before it is renewed; a watch silent for "
                 "longer (plus as long again, at most 30 s) is taken as stalled")
      ->capture_default_str();
  std::string record_file, record_max_bytes = std::to_string(defaults.record_max_bytes),
                           record_keep = std::to_string(defaults.record_keep),
                           record_interval = "1";
  app.add_option("--record-file", record_file,
                 "Record every target's units and fleet figures to this file (gzip CSV, for "
                 "replay; empty: off)");
  app.add_option("--record-max-bytes", record_max_bytes,
                 "Compressed size at which the recording file is rotated")
      ->capture_default_str();
  app.add_option("--record-keep", record_keep,
                 "Rotated recording files kept (FILE.1 the newest ... FILE.N)")
      ->capture_default_str();
  app.add_option("--record-interval", record_interval,
                 "Seconds between recorded snapshots of a target (the latest is recorded)")
      ->capture_default_str();
  app.add_option("--tls-reload-interval", tls_reload,
                 "Seconds between checks of the TLS files for rotation")
      ->capture_default_str();

  CommandLine result;
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    result.output = app.help();
    return result;
  } catch (const CLI::CallForVersion&) {
    result.output = std::string(kProgram) + " " + METRICS_KEDA_VERSION + "\n";
    return result;
  } catch (const CLI::ParseError& e) {
    result.exit_code = 2;
    result.output = std::string(kProgram) + ": " + e.what() + " (see --help)\n";
    return result;
  }

  try {
    Options options;
    options.component_name = Name("--component-name", component);
    options.endpoint_name = Name("--endpoint-name", endpoint);
    options.dynamo_namespace = Name("--namespace", dynamo_namespace);
    const std::optional<ListenHost> listen_host = ParseListenHost(host);
    if (!listen_host) throw Bad("--host", host, std::string(kListenHostAccepted));
    options.host = *listen_host;
    options.port = Port("--port", port);
    options.metrics_port = Port("--metrics-port", metrics_port);
    // KEDA rounds targets to 3 decimals: a smaller one would give the HPA a zero target.
    options.threshold = Number("--threshold", threshold, 0.001, false, 1,
                               "expected a number in [0.001, 1] (KEDA rounds targets to 3 "
                               "decimals, so a smaller one becomes 0)");
    options.check_interval_seconds =
        Number("--check-interval", check_interval, 0, true, 3600, "expected seconds in (0, 3600]");
    options.cache_ttl_seconds =
        Number("--cache-ttl", cache_ttl, 0, true, 3600, "expected seconds in (0, 3600]");
    options.max_staleness_seconds = 3 * options.cache_ttl_seconds;
    if (!max_staleness.empty()) {
      options.max_staleness_seconds =
          Number("--max-staleness", max_staleness, options.cache_ttl_seconds, false, 86400,
                 "expected seconds in [--cache-ttl, 86400]");
    }
    options.scrape_window_seconds =
        Number("--scrape-window", scrape_window, 0.01, false, 10, "expected seconds in [0.01, 10]");
    options.target_idle_seconds = Number("--target-idle-timeout", target_idle, 1, false, 86400 * 7,
                                         "expected seconds in [1, 604800]");
    if (nats_server.empty() || nats_server.find_first_not_of(" ,") == std::string::npos) {
      throw Bad("--nats-server", nats_server, "expected NATS URLs, comma separated");
    }
    options.nats_server = nats_server;
    static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    if (std::find(kLevels.begin(), kLevels.end(), log_level) == kLevels.end()) {
      throw Bad("--log-level", log_level, "expected trace, debug, info, warn or error");
    }
    options.log_level = log_level;
    if (log_format != "text" && log_format != "json") {
      throw Bad("--log-format", log_format, "expected text or json");
    }
    options.log_format = log_format;
    options.legacy_service_names = legacy;
    options.tls_cert = tls.tls_cert;
    options.tls_key = tls.tls_key;
    options.tls_client_ca = tls.tls_client_ca;
    options.nats_creds = tls.nats_creds;
    options.nats_user = tls.nats_user;
    options.nats_password = tls.nats_password;
    options.nats_token = tls.nats_token;
    options.nats_tls_ca = tls.nats_tls_ca;
    options.nats_tls_cert = tls.nats_tls_cert;
    options.nats_tls_key = tls.nats_tls_key;
    if (source == "auto") {
      options.source = Source::kAuto;
    } else if (source == "stats") {
      options.source = Source::kStats;
    } else if (source == "events") {
      options.source = Source::kEvents;
    } else if (source == "metrics") {
      options.source = Source::kMetrics;
    } else {
      throw Bad("--source", source, "expected stats, events, metrics or auto");
    }
    if (event_plane == "zmq") {
      options.event_plane = EventPlane::kZmq;
    } else if (event_plane == "nats") {
      options.event_plane = EventPlane::kNats;
    } else {
      throw Bad("--event-plane", event_plane, "expected zmq or nats (DYN_EVENT_PLANE)");
    }
    if (!zmq_broker.empty()) {
      const std::optional<std::string> xpub = ZmqBrokerXpub(zmq_broker);
      if (!xpub) {
        throw Bad("--zmq-broker", zmq_broker,
                  "expected xsub=tcp://HOST:PORT,xpub=tcp://HOST:PORT (DYN_ZMQ_BROKER_URL)");
      }
      options.zmq_broker_xpub = *xpub;
    }
    if (discovery_backend == "etcd") {
      options.discovery_backend = DiscoveryBackend::kEtcd;
    } else if (discovery_backend == "none") {
      options.discovery_backend = DiscoveryBackend::kNone;
    } else if (discovery_backend == "kubernetes") {
      options.discovery_backend = DiscoveryBackend::kKubernetes;
    } else {
      throw Bad("--discovery-backend", discovery_backend,
                "expected etcd, kubernetes or none (DYN_DISCOVERY_BACKEND)");
    }
    options.kubeconfig = kubeconfig;
    for (size_t start = 0; start <= kube_namespaces.size() && kube_namespace_given->count() > 0;) {
      const size_t comma = std::min(kube_namespaces.find(',', start), kube_namespaces.size());
      const std::string name = kube_namespaces.substr(start, comma - start);
      // A namespace is a DNS-1123 label: it goes into API paths as it stands.
      const bool label =
          !name.empty() && name.size() <= 63 &&
          std::all_of(name.begin(), name.end(),
                      [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                      }) &&
          name.front() != '-' && name.back() != '-';
      if (!label) {
        throw Bad("--kube-namespace", kube_namespaces,
                  "expected Kubernetes namespace names (lowercase letters, digits and '-', at "
                  "most 63), comma separated");
      }
      options.kube_namespaces.push_back(name);
      start = comma + 1;
    }
    options.kube_watch_seconds =
        static_cast<unsigned>(Count("--kube-watch-timeout", kube_watch, 1, 3600));
    options.worker_metrics_port =
        static_cast<int>(Count("--worker-metrics-port", worker_metrics_port, 1, 65535));
    if (options.source == Source::kMetrics &&
        options.discovery_backend != DiscoveryBackend::kKubernetes) {
      throw Bad("--source", source,
                "the worker pods' /metrics are found through Kubernetes discovery: give "
                "--discovery-backend kubernetes");
    }
    if (etcd_endpoints.find_first_not_of(" ,") == std::string::npos) {
      throw Bad("--etcd-endpoints", etcd_endpoints, "expected etcd URLs, comma separated");
    }
    options.etcd_endpoints = etcd_endpoints;
    options.etcd_user = tls.etcd_user;
    options.etcd_password = tls.etcd_password;
    if (tls.etcd_tls_cert.empty() != tls.etcd_tls_key.empty()) {
      throw Bad(tls.etcd_tls_cert.empty() ? "--etcd-tls-cert" : "--etcd-tls-key", "",
                "a client certificate and its key go together");
    }
    options.etcd_tls_ca = tls.etcd_tls_ca;
    options.etcd_tls_cert = tls.etcd_tls_cert;
    options.etcd_tls_key = tls.etcd_tls_key;
    options.tls_reload_seconds =
        static_cast<unsigned>(Count("--tls-reload-interval", tls_reload, 1, 86400));
    options.max_message_bytes = Count("--max-message-bytes", max_message_bytes, 1024, 64 << 20);
    options.max_workers_per_target = Count("--max-workers-per-target", max_workers, 1, 10'000'000);
    options.max_targets = Count("--max-targets", max_targets, 1, 100'000);
    options.max_streams = Count("--max-streams", max_streams, 1, 1'000'000);
    options.max_metadata_bytes = Count("--max-metadata-bytes", max_metadata_bytes, 256, 1 << 20);
    options.record_file = record_file;
    // Up to 1 GiB: replay reads files of at most 1 GiB of text, and the recorder
    // rotates before that anyway.
    options.record_max_bytes = Count("--record-max-bytes", record_max_bytes, 64 << 10, 1 << 30);
    options.record_keep = Count("--record-keep", record_keep, 0, 1000);
    options.record_interval_seconds = Number("--record-interval", record_interval, 0.01, false,
                                             3600, "expected seconds in [0.01, 3600]");
    result.options = std::move(options);
  } catch (const BadValue& bad) {
    result.exit_code = 2;
    result.output = bad.line + "\n";
  }
  return result;
}

}  // namespace mk::config
