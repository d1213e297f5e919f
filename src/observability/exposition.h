// The Prometheus text exposition of everything the scaler knows, rendered at
// scrape time from the live objects: fleet figures per target and per worker
// (so a worker's series vanish with it, and a target's figures vanish while no
// servable snapshot exists), scrape and RPC counters and histograms, NATS state,
// push streams and the recording. Thread-safe; reads only.
#ifndef METRICS_KEDA_OBSERVABILITY_EXPOSITION_H_
#define METRICS_KEDA_OBSERVABILITY_EXPOSITION_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fleet/target_registry.h"
#include "keda/activation_streams.h"
#include "keda/rpc_counters.h"
#include "nats/nats_connection.h"
#include "recording/recorder.h"

namespace mk::observability {

// One source's health (NATS, the ZMQ event plane, etcd discovery), as main gathers
// it from the transports: its state and named counters.
struct SourceHealth {
  std::string name;  // "nats", "zmq", "etcd"
  std::string role;  // what the scaler uses it for: "stats", "events", "discovery", ...
  bool connected = false;
  std::vector<std::pair<std::string, uint64_t>> counters;  // e.g. {"sequence_gaps", 3}
  std::vector<std::pair<std::string, uint64_t>> gauges;    // e.g. {"channels_open", 12}
};

struct ScalerState {
  const fleet::TargetRegistry& registry;
  const keda::RpcCounters& rpc;
  const keda::ActivationStreams& streams;
  const nats::NatsConnection* nats;  // null when no source uses NATS
  std::string version;
  std::function<std::vector<SourceHealth>()> sources;  // may be empty
  const recording::Recorder* recorder = nullptr;       // null when not recording
};

std::string RenderPrometheusText(const ScalerState& state);

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_EXPOSITION_H_
