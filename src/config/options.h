// The command line and environment, parsed into one validated Options. A bad
// flag or value is one line naming the flag and what it accepts (exit code 2).
// Pure apart from reading the environment variables named in the flag table.
#ifndef METRICS_KEDA_CONFIG_OPTIONS_H_
#define METRICS_KEDA_CONFIG_OPTIONS_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/listen_address.h"

namespace mk::config {

// Where the scaler hears load (design.md, "Command line").
enum class Source { kAuto, kStats, kEvents, kMetrics };
enum class EventPlane { kZmq, kNats };
enum class DiscoveryBackend { kEtcd, kKubernetes, kNone };

struct Options {
  std::string component_name = "llm-worker";
  std::string endpoint_name = "kv-router";
  ListenHost host;  // --host: of the gRPC port and the HTTP port
  int port = 9090;
  double threshold = 0.7;
  double check_interval_seconds = 5;
  double cache_ttl_seconds = 5;
  std::string dynamo_namespace = "dynamo";
  std::string nats_server = "nats://localhost:4222";
  // Beyond this age no snapshot is served (UNAVAILABLE) and silent workers leave.
  double max_staleness_seconds = 15;
  double scrape_window_seconds = 0.5;
  bool legacy_service_names = false;
  double target_idle_seconds = 600;
  std::string log_level = "info";
  std::string log_format = "text";
  int metrics_port = 9091;  // HTTP: /metrics, /status, /
  // Limits: beyond each the scaler refuses (RESOURCE_EXHAUSTED) or drops, and counts.
  size_t max_message_bytes = 1 << 20;
  size_t max_workers_per_target = 20000;
  size_t max_targets = 64;
  size_t max_streams = 1000;
  size_t max_metadata_bytes = 16 * 1024;
  // gRPC TLS: certificate and key (TLS), plus a client CA (mutual TLS).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  unsigned tls_reload_seconds = 10;
  // NATS authentication and TLS; secrets are never logged.
  std::string nats_creds;
  std::string nats_user;
  std::string nats_password;
  std::string nats_token;
  std::string nats_tls_ca;
  std::string nats_tls_cert;
  std::string nats_tls_key;
  // Sources, event plane and discovery.
  Source source = Source::kAuto;
  EventPlane event_plane = EventPlane::kZmq;
  // --zmq-broker's XPUB side (subscribers connect there); empty: ZMQ direct.
  std::string zmq_broker_xpub;
  DiscoveryBackend discovery_backend = DiscoveryBackend::kEtcd;
  std::string etcd_endpoints = "http://localhost:2379";
  std::string etcd_user;
  std::string etcd_password;  // never logged
  // TLS to etcd: each a PEM file's path or the PEM itself (Dynamo's ETCD_AUTH_* forms).
  std::string etcd_tls_ca;
  std::string etcd_tls_cert;
  std::string etcd_tls_key;
  // Kubernetes discovery: the kubeconfig to use outside a pod (empty: in-cluster),
  // the Kubernetes namespaces to watch (empty: the scaler's own), and the watches'
  // timeout in seconds.
  std::string kubeconfig;
  std::vector<std::string> kube_namespaces;
  unsigned kube_watch_seconds = 300;
  // Port of each worker pod's own /metrics (the operator's system port).
  int worker_metrics_port = 9090;
  // Recording of every target's fleet (src/recording/): the file (empty: off), the
  // compressed size at which it is rotated, and how many rotated files are kept.
  std::string record_file;
  uint64_t record_max_bytes = 64 << 20;
  size_t record_keep = 4;
  // At most one snapshot per target per this many seconds, the latest. A second
  // resolves every scaling decision (the HPA reads metrics every 15 s, KEDA polls
  // every 30 s by default) and the time a request takes to fill or leave a worker,
  // while events may publish snapshots a hundred times a second; at one a second a
  // 1,000-unit fleet writes about 15 KB/s compressed.
  double record_interval_seconds = 1;
};

// Either options to run with, or an exit: --help/--version text (code 0) or an
// error line (code 2).
struct CommandLine {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;
};

CommandLine ParseCommandLine(std::span<const char* const> args);

// The XPUB address of a DYN_ZMQ_BROKER_URL value (`xsub=tcp://...,xpub=tcp://...`,
// in either order, each once); none when it is not of that form.
std::optional<std::string> ZmqBrokerXpub(std::string_view url);

}  // namespace mk::config

#endif  // METRICS_KEDA_CONFIG_OPTIONS_H_
