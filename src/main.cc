// metrics-keda: wires the NATS source, the fleet collectors and the KEDA gRPC
// service together, then waits for SIGTERM/SIGINT to drain and exit 0.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "config/options.h"
#include "fleet/collector.h"
#include "fleet/target_registry.h"
#include "keda/activation_streams.h"
#include "keda/scaler_service.h"
#include "nats/nats_connection.h"
#include "nats/stats_scraper.h"

namespace {

std::chrono::nanoseconds Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

std::string ListenAddress(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
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

  spdlog::set_default_logger(spdlog::stderr_color_mt("metrics-keda"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  spdlog::set_level(spdlog::level::from_str(options.log_level));

  // Termination signals are taken by sigwait below, never by another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::vector<std::string>> servers = nats::SplitServerList(options.nats_server);
  if (!servers.ok()) {
    std::fprintf(stderr, "metrics-keda: --nats-server: %s\n",
                 std::string(servers.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<nats::NatsConnection>> connection =
      nats::NatsConnection::Start({.servers = *servers});
  if (!connection.ok()) {
    std::fprintf(stderr, "metrics-keda: %s\n", std::string(connection.status().message()).c_str());
    return 1;
  }

  const fleet::Target default_target{options.dynamo_namespace, options.component_name,
                                     options.endpoint_name};
  const fleet::CollectorSettings settings{
      .check_interval = Seconds(options.check_interval_seconds),
      .cache_ttl = Seconds(options.cache_ttl_seconds),
      .max_staleness = Seconds(options.max_staleness_seconds),
      .scrape_window = Seconds(options.scrape_window_seconds),
  };
  fleet::TargetRegistry registry(
      default_target, settings,
      nats::StatsScraperFactory(**connection, options.legacy_service_names),
      Seconds(options.target_idle_seconds));
  keda::ActivationStreams streams(settings.check_interval);
  keda::ScalerService service(registry, {default_target, options.threshold}, streams);

  grpc::ServerBuilder builder;
  int bound_port = 0;
  const std::string address = ListenAddress(options.host, options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &bound_port);
  // Refuse a port another process holds instead of sharing it silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    std::fprintf(stderr, "metrics-keda: --port: cannot listen on %s\n", address.c_str());
    return 1;
  }
  spdlog::info("serving externalscaler.ExternalScaler on {} (port {}); default target {}", address,
               bound_port, default_target.ToString());

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{} received: ending streams and draining", strsignal(signal_number));
  streams.FinishAll();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  spdlog::info("stopped");
  return 0;
}
