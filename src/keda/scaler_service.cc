#include "keda/scaler_service.h"

#include "keda/metric_answer.h"

namespace mk::keda {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

ScalerService::ScalerService(fleet::TargetRegistry& registry, TriggerDefaults defaults,
                             ActivationStreams& streams)
    : registry_(registry), defaults_(std::move(defaults)), streams_(streams) {}

template <typename Fill>
grpc::ServerUnaryReactor* ScalerService::Answer(grpc::CallbackServerContext* context,
                                                const externalscaler::ScaledObjectRef& ref,
                                                Fill fill) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(ref.scalermetadata(), defaults_);
  if (!config.ok()) {
    reactor->Finish(ToGrpcStatus(config.status()));
    return reactor;
  }
  registry_.CollectorFor(config->target)
      ->WithFreshSnapshot(
          [reactor, config = *config, fill](absl::StatusOr<fleet::SnapshotPtr> snapshot) {
            if (!snapshot.ok()) return reactor->Finish(ToGrpcStatus(snapshot.status()));
            absl::StatusOr<MetricAnswer> answer = AnswerFor(config, (*snapshot)->figures);
            if (!answer.ok()) return reactor->Finish(ToGrpcStatus(answer.status()));
            fill(config, *answer);
            reactor->Finish(grpc::Status::OK);
          });
  return reactor;
}

grpc::ServerUnaryReactor* ScalerService::GetMetricSpec(
    grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request,
    externalscaler::GetMetricSpecResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(request->scalermetadata(), defaults_);
  if (!config.ok()) {
    reactor->Finish(ToGrpcStatus(config.status()));
    return reactor;
  }
  // Warm the target's collector: GetMetrics follows.
  registry_.CollectorFor(config->target);
  externalscaler::MetricSpec* spec = response->add_metricspecs();
  spec->set_metricname(std::string(fleet::MetricName(config->metric)));
  spec->set_targetsizefloat(config->threshold);
  spec->set_targetsize(CeilToInt64(config->threshold));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ScalerService::GetMetrics(
    grpc::CallbackServerContext* context, const externalscaler::GetMetricsRequest* request,
    externalscaler::GetMetricsResponse* response) {
  return Answer(context, request->scaledobjectref(),
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
  return Answer(context, *request, [response](const TriggerConfig&, const MetricAnswer& answer) {
    response->set_result(answer.active);
  });
}

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* ScalerService::StreamIsActive(
    grpc::CallbackServerContext* /*context*/, const externalscaler::ScaledObjectRef* request) {
  absl::StatusOr<TriggerConfig> config = ParseTriggerMetadata(request->scalermetadata(), defaults_);
  if (!config.ok()) {
    // A reactor that only reports the error.
    class Refused : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
     public:
      explicit Refused(grpc::Status status) { Finish(std::move(status)); }
      void OnDone() override { delete this; }
    };
    return new Refused(ToGrpcStatus(config.status()));
  }
  return streams_.Open(*config, registry_.CollectorFor(config->target));
}

}  // namespace mk::keda
