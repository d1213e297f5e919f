#include "keda/scaler_service.h"

#include <chrono>

#include "keda/metric_answer.h"

namespace mk::keda {
namespace {

using Clock = std::chrono::steady_clock;

std::string ScaledObjectName(const externalscaler::ScaledObjectRef& ref) {
  return ref.namespace_() + "/" + ref.name();
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

ScalerService::ScalerService(fleet::TargetRegistry& registry, TriggerDefaults defaults,
                             ActivationStreams& streams, RpcCounters& counters,
                             TriggerLog& triggers)
    : registry_(registry),
      defaults_(std::move(defaults)),
      streams_(streams),
      counters_(counters),
      triggers_(triggers) {}

absl::StatusOr<TriggerConfig> ScalerService::Parse(const externalscaler::ScaledObjectRef& ref) {
  absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(ref.scalermetadata(), defaults_);
  if (config.status().code() == absl::StatusCode::kResourceExhausted) {
    counters_.RecordMetadataRejected();
  }
  return config;
}

template <typename Fill>
grpc::ServerUnaryReactor* ScalerService::Answer(Rpc rpc, grpc::CallbackServerContext* context,
                                                const externalscaler::ScaledObjectRef& ref,
                                                Fill fill) {
  const auto started = Clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<TriggerConfig> config = Parse(ref);
  // Every way out: counted, logged as the trigger's last answer, finished.
  auto finish = [this, rpc, started, reactor, &ref, config](
                    const absl::Status& status, const std::optional<MetricAnswer>& answer) {
    counters_.Record(rpc, static_cast<int>(status.code()), Clock::now() - started);
    triggers_.Record(ScaledObjectName(ref), ref.scalermetadata(), rpc, config, status, answer);
    reactor->Finish(ToGrpcStatus(status));
  };
  if (!config.ok()) {
    finish(config.status(), std::nullopt);
    return reactor;
  }
  absl::StatusOr<std::shared_ptr<fleet::Collector>> collector =
      registry_.CollectorFor(config->target);
  if (!collector.ok()) {
    finish(collector.status(), std::nullopt);
    return reactor;
  }
  if (config->kv_total_blocks) (*collector)->SetFallbackKvTotalBlocks(config->kv_total_blocks);
  (*collector)->WantSourceView(config->source);
  (*collector)
      ->WithFreshSnapshot(
          [finish, config = *config, fill](absl::StatusOr<fleet::SnapshotPtr> snapshot) {
            if (!snapshot.ok()) return finish(snapshot.status(), std::nullopt);
            absl::StatusOr<MetricAnswer> answer = AnswerFor(config, **snapshot);
            if (!answer.ok()) return finish(answer.status(), std::nullopt);
            fill(config, *answer);
            finish(absl::OkStatus(), *answer);
          });
  return reactor;
}

grpc::ServerUnaryReactor* ScalerService::GetMetricSpec(
    grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request,
    externalscaler::GetMetricSpecResponse* response) {
  const auto started = Clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<TriggerConfig> config = Parse(*request);
  if (config.ok()) {
    // Warm the target's collector: GetMetrics follows. A target over the limit
    // still gets its spec: the spec never depends on collection.
    (void)registry_.CollectorFor(config->target);
    externalscaler::MetricSpec* spec = response->add_metricspecs();
    spec->set_metricname(std::string(fleet::MetricName(config->metric)));
    spec->set_targetsizefloat(config->threshold);
    spec->set_targetsize(CeilToInt64(config->threshold));
  } else {
    triggers_.Record(ScaledObjectName(*request), request->scalermetadata(), Rpc::kGetMetricSpec,
                     config, config.status(), std::nullopt);
  }
  counters_.Record(Rpc::kGetMetricSpec, static_cast<int>(config.status().code()),
                   Clock::now() - started);
  reactor->Finish(ToGrpcStatus(config.status()));
  return reactor;
}

grpc::ServerUnaryReactor* ScalerService::GetMetrics(
    grpc::CallbackServerContext* context, const externalscaler::GetMetricsRequest* request,
    externalscaler::GetMetricsResponse* response) {
  return Answer(Rpc::kGetMetrics, context, request->scaledobjectref(),
                [request, response](const TriggerConfig& config, const MetricAnswer& answer) {
                  externalscaler::MetricValue* value = response->add_metricvalues();
                  value->set_metricname(request->metricname().empty()
                                            ? std::string(fleet::MetricName(config.metric))
                                            : request->metricname());
                  value->set_metricvaluefloat(answer.value);
                  value->set_metricvalue(CeilToInt64(answer.value));
                });
}

grpc::ServerUnaryReactor* ScalerService::IsActive(grpc::CallbackServerContext* context,
                                                  const externalscaler::ScaledObjectRef* request,
                                                  externalscaler::IsActiveResponse* response) {
  return Answer(Rpc::kIsActive, context, *request,
                [response](const TriggerConfig&, const MetricAnswer& answer) {
                  response->set_result(answer.active);
                });
}

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* ScalerService::StreamIsActive(
    grpc::CallbackServerContext* /*context*/, const externalscaler::ScaledObjectRef* request) {
  absl::StatusOr<TriggerConfig> config = Parse(*request);
  counters_.Record(Rpc::kStreamIsActive, static_cast<int>(config.status().code()),
                   std::chrono::nanoseconds(0));
  absl::StatusOr<std::shared_ptr<fleet::Collector>> collector =
      config.ok() ? registry_.CollectorFor(config->target) : config.status();
  if (!collector.ok()) {
    triggers_.Record(ScaledObjectName(*request), request->scalermetadata(), Rpc::kStreamIsActive,
                     config, collector.status(), std::nullopt);
    return RefusedStream(ToGrpcStatus(collector.status()));
  }
  if (config->kv_total_blocks) (*collector)->SetFallbackKvTotalBlocks(config->kv_total_blocks);
  (*collector)->WantSourceView(config->source);
  return streams_.Open(*config, std::move(*collector));
}

}  // namespace mk::keda
