// StreamIsActive: each open stream sends its trigger's activation state when
// known, again whenever a snapshot update flips it (from the collector's thread,
// so within milliseconds of the round that flips it), and as a heartbeat every
// check interval so idle proxies keep the stream. Every state sent comes from a
// servable snapshot (younger than the staleness bound): while there is none, a
// stream sends nothing, and a stream never evaluates a snapshot older than one
// it has evaluated. On shutdown every stream ends with OK, which KEDA reconnects
// to without back-off.
//
// ActivationStreams owns the set of open streams and the heartbeat thread. At
// most `max_streams` are open at once; more are refused RESOURCE_EXHAUSTED.
// Thread-safe; a stream goes when gRPC is done with it. No stream write or
// finish is started under the set's mutex.
#ifndef METRICS_KEDA_KEDA_ACTIVATION_STREAMS_H_
#define METRICS_KEDA_KEDA_ACTIVATION_STREAMS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "fleet/collector.h"
#include "keda/trigger_config.h"

namespace mk::keda {

class ActivationStream;

class ActivationStreams {
 public:
  ActivationStreams(std::chrono::nanoseconds heartbeat_interval, size_t max_streams = 1000);
  ~ActivationStreams();  // after FinishAll and the server's shutdown
  ActivationStreams(const ActivationStreams&) = delete;
  ActivationStreams& operator=(const ActivationStreams&) = delete;

  // A new stream for the trigger, fed by `collector`.
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* Open(
      TriggerConfig config, std::shared_ptr<fleet::Collector> collector);

  // Ends every open stream with OK; streams opened later end at once.
  void FinishAll();

  size_t open_count() const;
  uint64_t messages_sent() const;
  uint64_t rejected() const { return rejected_.load(); }

 private:
  friend class ActivationStream;
  void Remove(ActivationStream* stream);
  // The open streams, held so that none goes while the caller uses them.
  std::vector<std::shared_ptr<ActivationStream>> OpenStreams() const;
  void HeartbeatUntilStopped();

  const std::chrono::nanoseconds heartbeat_interval_;
  const size_t max_streams_;
  std::atomic<uint64_t> rejected_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  bool stopping_ = false;
  std::map<ActivationStream*, std::shared_ptr<ActivationStream>> streams_;
  std::atomic<uint64_t> messages_sent_{0};
  std::thread heartbeat_;
};

// A StreamIsActive call refused at once with `status`.
grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* RefusedStream(grpc::Status status);

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_ACTIVATION_STREAMS_H_
