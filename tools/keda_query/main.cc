// keda-query: calls a running scaler the way KEDA does (GetMetricSpec, then
// GetMetrics with the unprefixed metric name, then IsActive) for one trigger's
// metadata, and prints the answers with the replica count the HPA would choose.
// Operators use it to debug a trigger; the demo uses --watch.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "keda/hpa.h"
#include "keda/rpc_counters.h"
#include "keda/trigger_config.h"

namespace {

using externalscaler::ExternalScaler;

struct Query {
  externalscaler::ScaledObjectRef ref;
  mk::keda::HpaInputs hpa;
  double timeout_seconds = 3;
};

struct Answers {
  std::string metric_name;
  double target = 0;
  double value = 0;
  bool active = false;
  int64_t replicas = 0;
};

// The fleet as the scaler sees it for the trigger's target: the mean load and
// the KV usage (both metricType Value), and the worker count, which is the
// AverageValue total of llm_load_avg over its mean.
struct FleetView {
  std::optional<int64_t> workers;  // unknown while the mean load is 0
  double load = 0;
  double kv_percent = 0;
};


std::string Describe(const char* rpc, const grpc::Status& status) {
  return std::string(rpc) + ": " +
         std::string(mk::keda::StatusCodeName(static_cast<int>(status.error_code()))) + ": " +
         status.error_message();
}

void SetDeadline(grpc::ClientContext& context, double seconds) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::duration<double>(seconds)));
}

// The three calls of one KEDA polling cycle; an error names the failing RPC.
std::optional<Answers> Ask(ExternalScaler::Stub& stub, const Query& query, std::string& error) {
  Answers answers;
  externalscaler::GetMetricSpecResponse spec;
  {
    grpc::ClientContext context;
    SetDeadline(context, query.timeout_seconds);
    grpc::Status status = stub.GetMetricSpec(&context, query.ref, &spec);
    if (!status.ok()) return error = Describe("GetMetricSpec", status), std::nullopt;
    if (spec.metricspecs().empty()) return error = "GetMetricSpec: no metric specs", std::nullopt;
  }
  const externalscaler::MetricSpec& first = spec.metricspecs(0);
  answers.metric_name = first.metricname();
  // KEDA reads the float field when it is > 0, else the int one.
  answers.target = first.targetsizefloat() > 0 ? first.targetsizefloat()
                                               : static_cast<double>(first.targetsize());
  {
    externalscaler::GetMetricsRequest request;
    *request.mutable_scaledobjectref() = query.ref;
    request.set_metricname(first.metricname());
    externalscaler::GetMetricsResponse response;
    grpc::ClientContext context;
    SetDeadline(context, query.timeout_seconds);
    grpc::Status status = stub.GetMetrics(&context, request, &response);
    if (!status.ok()) return error = Describe("GetMetrics", status), std::nullopt;
    if (response.metricvalues().empty()) {
      return error = "GetMetrics: no matching metrics found", std::nullopt;
    }
    for (const auto& value : response.metricvalues()) {
      answers.value += value.metricvaluefloat() > 0 ? value.metricvaluefloat()
                                                    : static_cast<double>(value.metricvalue());
    }
  }
  {
    externalscaler::IsActiveResponse response;
    grpc::ClientContext context;
    SetDeadline(context, query.timeout_seconds);
    grpc::Status status = stub.IsActive(&context, query.ref, &response);
    if (!status.ok()) return error = Describe("IsActive", status), std::nullopt;
    answers.active = response.result();
  }
  mk::keda::HpaInputs hpa = query.hpa;
  hpa.total = answers.value;
  hpa.target = answers.target;
  answers.replicas = mk::keda::KedaReplicas(hpa, answers.active);
  return answers;
}

std::optional<double> Value(ExternalScaler::Stub& stub, const Query& query,
                            const std::string& metric, const std::string& type) {
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = query.ref;
  auto& metadata = *request.mutable_scaledobjectref()->mutable_scalermetadata();
  metadata["metricName"] = metric;
  metadata["metricType"] = type;
  metadata.erase("threshold");
  request.set_metricname(metric);
  externalscaler::GetMetricsResponse response;
  grpc::ClientContext context;
  SetDeadline(context, query.timeout_seconds);
  if (!stub.GetMetrics(&context, request, &response).ok() || response.metricvalues().empty()) {
    return std::nullopt;
  }
  return response.metricvalues(0).metricvaluefloat();
}

std::optional<FleetView> AskFleet(ExternalScaler::Stub& stub, const Query& query) {
  const auto load = Value(stub, query, "llm_load_avg", "Value");
  const auto total = Value(stub, query, "llm_load_avg", "AverageValue");
  const auto kv = Value(stub, query, "llm_kv_blocks_usage_percent", "Value");
  if (!load || !total || !kv) return std::nullopt;
  FleetView view{std::nullopt, *load, *kv};
  if (*load > 0) view.workers = std::llround(*total / *load);
  return view;
}

std::string Now() {
  const std::time_t t = std::time(nullptr);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%H:%M:%S", std::localtime(&t));
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Call a metrics-keda scaler the way KEDA does and explain the answer", "keda-query"};
  std::string address = "localhost:9090", metric_type = "AverageValue";
  std::vector<std::string> metadata;
  Query query;
  double watch = 0;
  int count = 0;
  std::string name = "keda-query", object_namespace = "default";
  app.add_option("--address", address, "Scaler address host:port")->capture_default_str();
  app.add_option("--name", name, "ScaledObject name sent")->capture_default_str();
  app.add_option("--object-namespace", object_namespace, "ScaledObject namespace sent")
      ->capture_default_str();
  app.add_option("--current", query.hpa.current_replicas, "Current replicas")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}))
      ->capture_default_str();
  app.add_option("--min", query.hpa.min_replicas, "minReplicaCount")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}))
      ->capture_default_str();
  app.add_option("--max", query.hpa.max_replicas, "maxReplicaCount")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))
      ->capture_default_str();
  app.add_option("--timeout", query.timeout_seconds, "Deadline of each call, seconds")
      ->check(CLI::Range(0.001, 600.0))
      ->capture_default_str();
  app.add_option("--watch", watch, "Repeat every SECONDS, one line each (0: once)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--count", count, "With --watch: stop after N lines (0: until killed)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("metadata", metadata, "Trigger metadata as key=value");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  query.ref.set_name(name);
  query.ref.set_namespace_(object_namespace);
  for (const std::string& pair : metadata) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "keda-query: metadata \"%s\": expected key=value\n", pair.c_str());
      return 2;
    }
    (*query.ref.mutable_scalermetadata())[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  if (auto it = query.ref.scalermetadata().find("metricType");
      it != query.ref.scalermetadata().end() && it->second == "Value") {
    query.hpa.metric_type = mk::keda::MetricType::kValue;
  }

  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = ExternalScaler::NewStub(channel);
  const char* type_name =
      query.hpa.metric_type == mk::keda::MetricType::kValue ? "Value" : "AverageValue";
  if (watch <= 0) {
    std::string error;
    const std::optional<Answers> answers = Ask(*stub, query, error);
    if (!answers) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::printf("metric:   %s (target %g)\n", answers->metric_name.c_str(), answers->target);
    std::printf("value:    %g\n", answers->value);
    std::printf("active:   %s\n", answers->active ? "true" : "false");
    std::printf("replicas: %lld (HPA %s, tolerance %g, current %lld, min %lld, max %lld)\n",
                static_cast<long long>(answers->replicas), type_name, query.hpa.tolerance,
                static_cast<long long>(query.hpa.current_replicas),
                static_cast<long long>(query.hpa.min_replicas),
                static_cast<long long>(query.hpa.max_replicas));
    return 0;
  }
  std::printf("%-8s %7s %6s %6s  %-32s %10s %7s %8s\n", "time", "workers", "load", "kv%",
              "metric (target)", "value", "active", "replicas");
  for (int line = 0; count == 0 || line < count; ++line) {
    if (line > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(watch));
    }
    std::string error;
    const std::optional<Answers> answers = Ask(*stub, query, error);
    const std::optional<FleetView> fleet = answers ? AskFleet(*stub, query) : std::nullopt;
    if (answers && fleet) {
      char target[32];
      std::snprintf(target, sizeof target, "%g", answers->target);
      const std::string metric = answers->metric_name + " (" + target + ")";
      const std::string workers = fleet->workers ? std::to_string(*fleet->workers) : "-";
      std::printf("%-8s %7s %6.3f %6.1f  %-32s %10.3f %7s %8lld\n", Now().c_str(), workers.c_str(),
                  fleet->load, fleet->kv_percent, metric.c_str(), answers->value,
                  answers->active ? "true" : "false", static_cast<long long>(answers->replicas));
    } else {
      std::printf("%-8s %s\n", Now().c_str(),
                  answers ? "fleet figures unavailable" : error.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}
