// metrics-keda: wires the NATS source, the fleet collectors, the KEDA gRPC
// service and the HTTP observability endpoints together, then waits for
// SIGTERM/SIGINT to drain and exit 0.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "config/options.h"
#include "fleet/collector.h"
#include "fleet/target_registry.h"
#include "keda/activation_streams.h"
#include "keda/rpc_counters.h"
#include "keda/scaler_service.h"
#include "keda/server_credentials.h"
#include "keda/trigger_log.h"
#include "nats/nats_connection.h"
#include "nats/stats_scraper.h"
#include "observability/exposition.h"
#include "observability/health.h"
#include "observability/http_server.h"
#include "observability/logging.h"
#include "observability/status_page.h"

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

  // Termination signals are taken by sigwait below, never by another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::vector<std::string>> servers = nats::SplitServerList(options.nats_server);
  if (!servers.ok()) return Fail(2, "--nats-server: " + std::string(servers.status().message()));
  observability::HealthReporter health;
  absl::StatusOr<std::unique_ptr<nats::NatsConnection>> connection = nats::NatsConnection::Start({
      .servers = *servers,
      .credentials_file = options.nats_creds,
      .user = options.nats_user,
      .password = options.nats_password,
      .token = options.nats_token,
      .tls_ca = options.nats_tls_ca,
      .tls_cert = options.nats_tls_cert,
      .tls_key = options.nats_tls_key,
      .on_state_change = [&health](bool connected) { health.SetNatsConnected(connected); },
  });
  if (!connection.ok()) {
    const bool bad_setting = connection.status().code() == absl::StatusCode::kInvalidArgument;
    return Fail(bad_setting ? 2 : 1, std::string(connection.status().message()));
  }

  const fleet::Target default_target{options.dynamo_namespace, options.component_name,
                                     options.endpoint_name};
  const fleet::CollectorSettings settings{
      .check_interval = Seconds(options.check_interval_seconds),
      .cache_ttl = Seconds(options.cache_ttl_seconds),
      .max_staleness = Seconds(options.max_staleness_seconds),
      .scrape_window = Seconds(options.scrape_window_seconds),
      .max_workers = options.max_workers_per_target,
  };
  fleet::TargetRegistry registry(
      default_target, settings,
      nats::StatsScraperFactory(**connection, options.legacy_service_names,
                                options.max_message_bytes),
      Seconds(options.target_idle_seconds), options.max_targets);
  keda::ActivationStreams streams(settings.check_interval, options.max_streams);
  keda::RpcCounters rpc_counters;
  keda::TriggerLog trigger_log;
  keda::ScalerService service(registry,
                              {default_target, options.threshold, options.max_metadata_bytes},
                              streams, rpc_counters, trigger_log);

  const observability::ScalerState state{registry, rpc_counters, streams, **connection,
                                         METRICS_KEDA_VERSION};
  absl::StatusOr<std::unique_ptr<observability::HttpServer>> http =
      observability::HttpServer::Start(
          options.host.address, options.metrics_port,
          {{"/metrics",
            [&] {
              return observability::HttpResponse{"text/plain; version=0.0.4; charset=utf-8",
                                                 observability::RenderPrometheusText(state)};
            }},
           {"/status",
            [&] {
              return observability::HttpResponse{
                  "application/json",
                  observability::StatusJson(observability::GatherStatus(state, trigger_log))};
            }},
           {"/", [&] {
              return observability::HttpResponse{
                  "text/html; charset=utf-8",
                  observability::StatusHtml(observability::GatherStatus(state, trigger_log))};
            }}});
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
  spdlog::info("stopped");
  return 0;
}
