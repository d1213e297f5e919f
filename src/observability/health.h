// Keeps gRPC health checking (grpc.health.v1, service "") in step with what the
// scaler can do: SERVING once a source (NATS, the ZMQ event plane) is connected
// and the server is bound, NOT_SERVING while none is and from the moment draining
// starts. The service "liveness" stays SERVING until draining, for liveness probes
// that must not restart the scaler during a NATS outage.
// Thread-safe: NATS callbacks and main call it.
#ifndef METRICS_KEDA_OBSERVABILITY_HEALTH_H_
#define METRICS_KEDA_OBSERVABILITY_HEALTH_H_

#include <grpcpp/health_check_service_interface.h>

#include <mutex>
#include <set>
#include <string>

namespace mk::observability {

class HealthReporter {
 public:
  // The server's health service, once the server is bound.
  void Attach(grpc::HealthCheckServiceInterface* service);
  // A source's connection ("nats", "zmq"): ready while any source is connected.
  void SetSourceConnected(const std::string& source, bool connected);
  void SetDraining();

 private:
  void PublishLocked();

  std::mutex mutex_;
  grpc::HealthCheckServiceInterface* service_ = nullptr;
  std::set<std::string> connected_;
  bool draining_ = false;
};

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_HEALTH_H_
