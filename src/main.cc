// metrics-keda: wires the sources (NATS stats scrapes; the event plane over ZMQ or
// NATS; etcd discovery), the fleet collectors, the KEDA gRPC service and the HTTP
// observability endpoints together, then waits for SIGTERM/SIGINT to drain and
// exit 0.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "config/options.h"
#include "discovery/etcd_registry.h"
#include "discovery/kubernetes_registry.h"
#include "dynamo/event_subject.h"
#include "fleet/collector.h"
#include "fleet/event_router.h"
#include "fleet/target_registry.h"
#include "keda/activation_streams.h"
#include "keda/rpc_counters.h"
#include "keda/scaler_service.h"
#include "keda/server_credentials.h"
#include "keda/trigger_log.h"
#include "kubernetes/api_access.h"
#include "kubernetes/api_client.h"
#include "nats/event_subscription.h"
#include "nats/nats_connection.h"
#include "nats/stats_scraper.h"
#include "observability/exposition.h"
#include "observability/health.h"
#include "observability/http_server.h"
#include "observability/logging.h"
#include "observability/static_files.h"
#include "observability/status_page.h"
#include "recording/recorder.h"
#include "worker_pages/page_poller.h"
#include "zmq/event_subscriber.h"

namespace {

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

const char* TransportName(const mk::config::Options& options) {
  if (options.tls_cert.empty()) return "";
  return options.tls_client_ca.empty() ? ", TLS" : ", mutual TLS";
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "metrics-keda: %s\n", message.c_str());
  return code;
}

mk::keda::SourceChoice TriggerSource(mk::config::Source source) {
  switch (source) {
    case mk::config::Source::kStats:
      return mk::keda::SourceChoice::kStats;
    case mk::config::Source::kEvents:
      return mk::keda::SourceChoice::kEvents;
    case mk::config::Source::kMetrics:
      return mk::keda::SourceChoice::kMetrics;
    case mk::config::Source::kAuto:
      break;
  }
  return mk::keda::SourceChoice::kAuto;
}

// The registered ZMQ event channels of the topics the scaler reads.
std::vector<mk::zmq::ZmqChannel> ZmqChannels(
    const std::vector<mk::dynamo::EventChannelRecord>& records) {
  std::vector<mk::zmq::ZmqChannel> channels;
  for (const mk::dynamo::EventChannelRecord& record : records) {
    if (record.transport != mk::dynamo::ChannelTransport::kZmq) continue;
    if (record.topic != mk::dynamo::kKvMetricsTopic &&
        record.topic != mk::dynamo::kForwardPassMetricsTopic) {
      continue;
    }
    channels.push_back({record.zmq_endpoint,
                        record.topic,
                        {record.dynamo_namespace, record.component, record.endpoint}});
  }
  return channels;
}

// Kubernetes discovery: API access from --kubeconfig or the pod's service account,
// the namespaces from --kube-namespace or where the scaler runs.
absl::StatusOr<std::unique_ptr<mk::discovery::KubernetesRegistry>> StartKubernetesRegistry(
    const mk::config::Options& options, mk::discovery::Registry::OnChange on_change) {
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value != nullptr ? value : "");
  };
  absl::StatusOr<mk::kubernetes::ApiAccess> access =
      options.kubeconfig.empty()
          ? mk::kubernetes::InClusterAccess(env("KUBERNETES_SERVICE_HOST"),
                                            env("KUBERNETES_SERVICE_PORT"),
                                            mk::kubernetes::kServiceAccountDir)
          : mk::kubernetes::KubeconfigAccess(options.kubeconfig);
  if (!access.ok()) {
    return absl::Status(access.status().code(), "--discovery-backend kubernetes: " +
                                                    std::string(access.status().message()));
  }
  std::vector<std::string> namespaces = options.kube_namespaces;
  if (namespaces.empty() && !access->default_namespace.empty()) {
    namespaces.push_back(access->default_namespace);
  }
  if (namespaces.empty()) {
    return absl::InvalidArgumentError("--kube-namespace: no namespace given, and " +
                                      access->source +
                                      " names none: say which namespaces the Dynamo graph runs in");
  }
  spdlog::info("kubernetes discovery: API server {} ({}), namespaces {}", access->server,
               access->source, fmt::join(namespaces, ","));
  absl::StatusOr<std::unique_ptr<mk::kubernetes::ApiClient>> client =
      mk::kubernetes::ApiClient::Create(*std::move(access));
  if (!client.ok()) return client.status();
  return mk::discovery::KubernetesRegistry::Start(
      *std::move(client),
      {.namespaces = std::move(namespaces),
       .watch_timeout = std::chrono::seconds(options.kube_watch_seconds)},
      std::move(on_change));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mk;
  const config::CommandLine command_line =
      config::ParseCommandLine({const_cast<const char* const*>(argv), static_cast<size_t>(argc)});
  if (!command_line.options) {
    std::fputs(command_line.output.c_str(), command_line.exit_code == 0 ? stdout : stderr);
    return command_line.exit_code;
  }
  const config::Options& options = *command_line.options;
  observability::ConfigureLogging(options.log_level, options.log_format);

  // glibc gives each thread that allocates its own arena, and keeps what a burst
  // freed there (an etcd listing of 30,000 keys, a /metrics page of every unit):
  // two arenas keep the resident size near the live data, at no cost that matters
  // for a process whose threads mostly wait.
  mallopt(M_ARENA_MAX, 2);

  // Every ZMQ event channel holds a few descriptors: allow as many as the hard limit
  // does, as a thousand workers would pass a soft limit of 1,024.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  // Termination signals are taken by sigwait below, never by another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const bool any_source = options.source == config::Source::kAuto;
  const bool stats_source = any_source || options.source == config::Source::kStats;
  const bool events_source = any_source || options.source == config::Source::kEvents;
  // The workers' own /metrics pages: found through Kubernetes discovery only.
  const bool metrics_source = options.discovery_backend == config::DiscoveryBackend::kKubernetes &&
                              (any_source || options.source == config::Source::kMetrics);
  const bool nats_events = events_source && options.event_plane == config::EventPlane::kNats;
  const bool zmq_events = events_source && options.event_plane == config::EventPlane::kZmq;
  observability::HealthReporter health;
  // NATS carries the stats scrapes and NATS events; Dynamo 1.4 with ZMQ events and
  // the stats source off needs none.
  std::unique_ptr<nats::NatsConnection> connection;
  // The collectors NATS state changes are told to, once there are NATS events: set
  // and cleared under its lock, which a NATS callback holds while it tells them.
  struct NatsListeners {
    std::mutex mutex;
    fleet::TargetRegistry* registry = nullptr;
  };
  auto nats_listeners = std::make_shared<NatsListeners>();
  if (stats_source || nats_events) {
    absl::StatusOr<std::vector<std::string>> servers = nats::SplitServerList(options.nats_server);
    if (!servers.ok()) {
      return Fail(2, "--nats-server: " + std::string(servers.status().message()));
    }
    absl::StatusOr<std::unique_ptr<nats::NatsConnection>> started = nats::NatsConnection::Start({
        .servers = *servers,
        .credentials_file = options.nats_creds,
        .user = options.nats_user,
        .password = options.nats_password,
        .token = options.nats_token,
        .tls_ca = options.nats_tls_ca,
        .tls_cert = options.nats_tls_cert,
        .tls_key = options.nats_tls_key,
        .on_state_change =
            [&health, nats_listeners](bool connected) {
              health.SetSourceConnected("nats", connected);
              std::lock_guard lock(nats_listeners->mutex);
              if (nats_listeners->registry == nullptr) return;
              for (const auto& collector : nats_listeners->registry->All()) {
                collector->SetEventSourceConnected(connected);
              }
            },
    });
    if (!started.ok()) {
      const bool bad_setting = started.status().code() == absl::StatusCode::kInvalidArgument;
      return Fail(bad_setting ? 2 : 1, std::string(started.status().message()));
    }
    connection = std::move(*started);
  }

  const fleet::Target default_target{options.dynamo_namespace, options.component_name,
                                     options.endpoint_name};
  const fleet::CollectorSettings settings{
      .check_interval = Seconds(options.check_interval_seconds),
      .cache_ttl = Seconds(options.cache_ttl_seconds),
      .max_staleness = Seconds(options.max_staleness_seconds),
      .scrape_window = Seconds(options.scrape_window_seconds),
      .max_workers = options.max_workers_per_target,
      .events = events_source,
  };
  // The recording (--record-file) listens to every collector from its creation, so
  // it is made before the registry and outlives it.
  std::unique_ptr<recording::Recorder> recorder;
  if (!options.record_file.empty()) {
    absl::StatusOr<std::unique_ptr<recording::Recorder>> started = recording::Recorder::Start(
        {.path = options.record_file,
         .max_bytes = options.record_max_bytes,
         .keep = options.record_keep,
         .throttle = {.interval = Seconds(options.record_interval_seconds),
                      .stale_after = settings.max_staleness}});
    if (!started.ok()) return Fail(2, "--record-file: " + std::string(started.status().message()));
    recorder = std::move(*started);
  }
  // The sources below are made after the registry, whose default collector exists
  // from its construction: new collectors learn what the sources know through this
  // hook, the default one right after the sources start.
  std::unique_ptr<discovery::Registry> discovery;
  std::unique_ptr<worker_pages::WorkerPagePoller> page_poller;
  std::unique_ptr<zmq::ZmqEventSubscriber> zmq_subscriber;
  std::unique_ptr<nats::NatsEventSubscription> nats_subscription;
  std::atomic<bool> sources_started{false};
  auto introduce = [&](fleet::Collector& collector) {
    if (!sources_started) return;
    if (discovery) collector.SetRegistrations(discovery->RegistrationsFor(collector.target()));
    if (zmq_subscriber) collector.SetEventSourceConnected(true);
    if (nats_subscription) {
      if (absl::Status status = nats_subscription->Subscribe(collector.target().dynamo_namespace);
          !status.ok()) {
        spdlog::warn("event plane: {}", std::string(status.message()));
      }
      collector.SetEventSourceConnected(connection->connected());
    }
  };
  fleet::TargetRegistry registry(
      default_target, settings,
      stats_source ? nats::StatsScraperFactory(*connection, options.legacy_service_names,
                                               options.max_message_bytes)
                   : fleet::ScraperFactory([](const fleet::Target&) {
                       return std::unique_ptr<fleet::TargetScraper>();
                     }),
      Seconds(options.target_idle_seconds), options.max_targets, [&](fleet::Collector& collector) {
        if (recorder) recorder->Watch(collector);
        introduce(collector);
      });
  fleet::EventRouter router(registry);

  keda::ActivationStreams streams(settings.check_interval, options.max_streams);
  keda::RpcCounters rpc_counters;
  keda::TriggerLog trigger_log;
  keda::ScalerService service(registry,
                              {default_target, options.threshold, options.max_metadata_bytes,
                               TriggerSource(options.source), metrics_source},
                              streams, rpc_counters, trigger_log);

  const observability::ScalerState state{
      registry,
      rpc_counters,
      streams,
      connection.get(),
      METRICS_KEDA_VERSION,
      [&] {
        std::vector<observability::SourceHealth> sources;
        if (connection) {
          observability::SourceHealth nats{.name = "nats",
                                           .role = stats_source && nats_events ? "stats, events"
                                                   : stats_source              ? "stats"
                                                                               : "events",
                                           .connected = connection->connected(),
                                           .counters = {{"reconnects", connection->reconnects()}},
                                           .gauges = {}};
          if (nats_subscription) {
            const nats::NatsEventStats stats = nats_subscription->Stats();
            nats.counters.insert(nats.counters.end(),
                                 {{"event_messages", stats.messages},
                                  {"event_messages_dropped", stats.drops.Total()},
                                  {"event_messages_dropped_by_client", stats.client_dropped},
                                  {"sequence_gaps", stats.lost},
                                  {"publisher_restarts", stats.restarts}});
          }
          sources.push_back(std::move(nats));
        }
        if (zmq_subscriber) {
          const zmq::ZmqSubscriberStats stats = zmq_subscriber->Stats();
          sources.push_back({.name = "zmq",
                             .role = zmq_subscriber->broker() ? "events (broker)" : "events",
                             .connected = true,
                             .counters = {{"event_messages", stats.messages},
                                          {"event_messages_dropped", stats.drops.Total()},
                                          {"sequence_gaps", stats.lost},
                                          {"publisher_restarts", stats.restarts}},
                             .gauges = {{"channels_open", stats.sockets},
                                        {"channels_down", stats.channels_down},
                                        {"channels_refused", stats.channels_refused}}});
        }
        if (page_poller) {
          const worker_pages::PagePollerStats stats = page_poller->Stats();
          sources.push_back({.name = "worker_pages",
                             .role = "metrics",
                             .connected = stats.connected,
                             .counters = {{"polls", stats.polls},
                                          {"pages_read", stats.pages_read},
                                          {"pages_failed", stats.pages_failed},
                                          {"pages_dropped", stats.drops.Total()}},
                             .gauges = {}});
        }
        if (discovery) {
          const discovery::RegistryStats stats = discovery->Stats();
          sources.push_back({.name = std::string(discovery->name()),
                             .role = "discovery",
                             .connected = stats.connected,
                             .counters = {{"reconnects", stats.reconnects},
                                          {"records_dropped", stats.drops.Total()},
                                          {"objects_dropped", stats.objects_dropped}},
                             .gauges = {{"instances", stats.instances},
                                        {"model_cards", stats.model_cards},
                                        {"event_channels", stats.event_channels}}});
        }
        return sources;
      },
      recorder.get()};
  std::map<std::string, observability::HttpRoute> routes = observability::StaticFileRoutes();
  routes.insert({{"/metrics",
                  [&] {
                    std::string page = observability::RenderPrometheusText(state);
                    // A page of every unit of a large fleet builds megabytes of series
                    // that are freed by now: hand them back rather than keep the peak.
                    constexpr size_t kLargePage = 1 << 20;
                    if (page.size() > kLargePage) malloc_trim(0);
                    return observability::HttpResponse{"text/plain; version=0.0.4; charset=utf-8",
                                                       std::move(page)};
                  }},
                 {"/status",
                  [&] {
                    return observability::HttpResponse{
                        "application/json",
                        observability::StatusJson(observability::GatherStatus(state, trigger_log))};
                  }},
                 {"/status/history",
                  [&] {
                    return observability::HttpResponse{
                        "application/json", observability::HistoryJson(trigger_log.History())};
                  }},
                 {"/", [&] {
                    return observability::HttpResponse{
                        "text/html; charset=utf-8",
                        observability::StatusHtml(observability::GatherStatus(state, trigger_log),
                                                  trigger_log.History())};
                  }}});
  absl::StatusOr<std::unique_ptr<observability::HttpServer>> http =
      observability::HttpServer::Start(options.host.address, options.metrics_port,
                                       std::move(routes));
  if (!http.ok()) return Fail(1, "--metrics-port: " + std::string(http.status().message()));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  const std::string address = options.host.WithPort(options.port);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      keda::MakeServerCredentials(
          {options.tls_cert, options.tls_key, options.tls_client_ca, options.tls_reload_seconds});
  if (!credentials.ok()) return Fail(2, std::string(credentials.status().message()));
  builder.AddListeningPort(address, *credentials, &bound_port);
  // Refuse a port another process holds instead of sharing it silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A request is a ScaledObjectRef: its metadata limit plus room for the rest.
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_metadata_bytes) + 64 * 1024);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) return Fail(1, "--port: cannot listen on " + address);
  health.Attach(server->GetHealthCheckService());

  // The sources start once every port is bound: a start-up that fails on a port or a
  // certificate leaves no watch or subscription half-started behind.
  // Membership and channels after each burst of discovery changes. Until every
  // source has started, the start-up below does this itself.
  discovery::Registry::OnChange on_discovery_change =
      [&, trimmed = false](const discovery::Registry& discovered) mutable {
        if (!sources_started) return;
        for (const auto& collector : registry.All()) {
          collector->SetRegistrations(discovered.RegistrationsFor(collector->target()));
        }
        if (zmq_subscriber && !zmq_subscriber->broker()) {
          zmq_subscriber->SetChannels(ZmqChannels(discovered.EventChannels()));
        }
        // The first listing's buffers are freed by now: hand them back once.
        if (!trimmed && discovered.Stats().listed) {
          malloc_trim(0);
          trimmed = true;
        }
      };
  if (options.discovery_backend == config::DiscoveryBackend::kEtcd) {
    absl::StatusOr<std::vector<std::string>> endpoints =
        nats::SplitServerList(options.etcd_endpoints);
    if (!endpoints.ok()) {
      return Fail(2, "--etcd-endpoints: " + std::string(endpoints.status().message()));
    }
    absl::StatusOr<std::unique_ptr<discovery::EtcdRegistry>> started =
        discovery::EtcdRegistry::Start({.endpoints = *endpoints,
                                        .prefix = "",
                                        .user = options.etcd_user,
                                        .password = options.etcd_password,
                                        .tls_ca = options.etcd_tls_ca,
                                        .tls_cert = options.etcd_tls_cert,
                                        .tls_key = options.etcd_tls_key},
                                       {options.dynamo_namespace}, on_discovery_change);
    if (!started.ok())
      return Fail(2, "--etcd-endpoints: " + std::string(started.status().message()));
    discovery = std::move(*started);
  }
  if (options.discovery_backend == config::DiscoveryBackend::kKubernetes) {
    absl::StatusOr<std::unique_ptr<discovery::KubernetesRegistry>> started =
        StartKubernetesRegistry(options, on_discovery_change);
    if (!started.ok()) return Fail(2, std::string(started.status().message()));
    discovery = std::move(*started);
  }
  if (metrics_source) {
    absl::StatusOr<std::unique_ptr<worker_pages::WorkerPagePoller>> started =
        worker_pages::WorkerPagePoller::Start(
            registry,
            [&discovery](const fleet::Target& target) {
              return discovery->RegistrationsFor(target);
            },
            {.port = static_cast<uint16_t>(options.worker_metrics_port),
             .interval = Seconds(options.check_interval_seconds),
             .on_poll = [&health](bool connected) {
               health.SetSourceConnected("worker_pages", connected);
             }});
    if (!started.ok()) return Fail(1, std::string(started.status().message()));
    page_poller = std::move(*started);
  }
  if (zmq_events) {
    absl::StatusOr<std::unique_ptr<zmq::ZmqEventSubscriber>> started =
        zmq::ZmqEventSubscriber::Start(
            {.broker_xpub = options.zmq_broker_xpub,
             .broker_namespaces = {options.dynamo_namespace},
             .channel_down_after = Seconds(options.max_staleness_seconds)},
            router);
    if (!started.ok()) return Fail(2, std::string(started.status().message()));
    zmq_subscriber = std::move(*started);
    health.SetSourceConnected("zmq", true);
    if (discovery && !zmq_subscriber->broker()) {
      zmq_subscriber->SetChannels(ZmqChannels(discovery->EventChannels()));
    }
  }
  if (nats_events) {
    nats_subscription = std::make_unique<nats::NatsEventSubscription>(*connection, router);
    std::lock_guard lock(nats_listeners->mutex);
    nats_listeners->registry = &registry;
  }
  sources_started = true;
  for (const auto& collector : registry.All()) introduce(*collector);
  // Channels registered while the sources started (the discovery callback above
  // waits for sources_started).
  if (discovery && zmq_subscriber && !zmq_subscriber->broker()) {
    zmq_subscriber->SetChannels(ZmqChannels(discovery->EventChannels()));
  }
  spdlog::info(
      "serving externalscaler.ExternalScaler on {} (port {}{}), HTTP on port {}; "
      "default target {}",
      address, bound_port, TransportName(options), (*http)->port(), default_target.ToString());

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{} received: ending streams and draining", strsignal(signal_number));
  health.SetDraining();
  streams.FinishAll();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  // The health service dies with the server; NATS callbacks may still come.
  health.Attach(nullptr);
  // The HTTP pages read the sources: they stop first, their requests finished.
  http->reset();
  // Sources stop before the registry and router they feed; discovery before the
  // subscriptions its changes reconfigure, the poller before the discovery it asks.
  {
    std::lock_guard lock(nats_listeners->mutex);
    nats_listeners->registry = nullptr;
  }
  page_poller.reset();
  discovery.reset();
  nats_subscription.reset();
  zmq_subscriber.reset();
  spdlog::info("stopped");
  return 0;
}
