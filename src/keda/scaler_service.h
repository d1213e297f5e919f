// externalscaler.ExternalScaler over gRPC's callback API. Each RPC parses its
// trigger metadata (INVALID_ARGUMENT on a bad value), finds the target's
// collector and answers from a snapshot: at once when it is fresh, else when the
// shared refresh completes, with UNAVAILABLE when no snapshot within the
// staleness bound can be had. GetMetricSpec never depends on the fleet. Every
// answer is counted and kept in the trigger log.
// Thread-safe; owned by main and outlived by everything it refers to.
#ifndef METRICS_KEDA_KEDA_SCALER_SERVICE_H_
#define METRICS_KEDA_KEDA_SCALER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "externalscaler.grpc.pb.h"
#include "fleet/target_registry.h"
#include "keda/activation_streams.h"
#include "keda/rpc_counters.h"
#include "keda/trigger_config.h"
#include "keda/trigger_log.h"

namespace mk::keda {

class ScalerService final : public externalscaler::ExternalScaler::CallbackService {
 public:
  ScalerService(fleet::TargetRegistry& registry, TriggerDefaults defaults,
                ActivationStreams& streams, RpcCounters& counters, TriggerLog& triggers);

  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* context,
                                          const externalscaler::ScaledObjectRef* request,
                                          externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const externalscaler::GetMetricsRequest* request,
                                       externalscaler::GetMetricsResponse* response) override;
  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* context,
                                     const externalscaler::ScaledObjectRef* request,
                                     externalscaler::IsActiveResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* context,
      const externalscaler::ScaledObjectRef* request) override;

 private:
  // Answers `rpc` for the trigger of `ref` from a fresh snapshot through `fill`,
  // or finishes with the error.
  // The trigger's config; counts metadata refused for its size.
  absl::StatusOr<TriggerConfig> Parse(const externalscaler::ScaledObjectRef& ref);

  template <typename Fill>
  grpc::ServerUnaryReactor* Answer(Rpc rpc, grpc::CallbackServerContext* context,
                                   const externalscaler::ScaledObjectRef& ref, Fill fill);

  fleet::TargetRegistry& registry_;
  const TriggerDefaults defaults_;
  ActivationStreams& streams_;
  RpcCounters& counters_;
  TriggerLog& triggers_;
};

// The gRPC status for an absl one (same code and message).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_SCALER_SERVICE_H_
