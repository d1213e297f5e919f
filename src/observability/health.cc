#include "observability/health.h"

namespace mk::observability {

void HealthReporter::Attach(grpc::HealthCheckServiceInterface* service) {
  std::lock_guard lock(mutex_);
  service_ = service;
  PublishLocked();
}

void HealthReporter::SetSourceConnected(const std::string& source, bool connected) {
  std::lock_guard lock(mutex_);
  connected ? (void)connected_.insert(source) : (void)connected_.erase(source);
  PublishLocked();
}

void HealthReporter::SetDraining() {
  std::lock_guard lock(mutex_);
  draining_ = true;
  PublishLocked();
}

void HealthReporter::PublishLocked() {
  if (service_ == nullptr) return;
  const bool serving = !connected_.empty() && !draining_;
  service_->SetServingStatus(serving);
  // The scaler's own service name answers the same as the server as a whole.
  service_->SetServingStatus("externalscaler.ExternalScaler", serving);
  // For liveness probes: the process works, whatever NATS does, until it drains.
  service_->SetServingStatus("liveness", !draining_);
}

}  // namespace mk::observability
