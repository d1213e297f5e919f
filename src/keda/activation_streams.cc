#include "keda/activation_streams.h"

#include <optional>

#include "keda/metric_answer.h"

namespace mk::keda {

// One StreamIsActive call. Writes are serialised: while one is in flight the
// newest state waits in `queued_`. Start* and Finish are called outside mutex_,
// since gRPC may run a reaction inline.
class ActivationStream final : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
 public:
  ActivationStream(ActivationStreams* owner, TriggerConfig config,
                   std::shared_ptr<fleet::Collector> collector)
      : owner_(owner), config_(std::move(config)), collector_(std::move(collector)) {}

  // Registers with the collector and sends the state if one is known already.
  void Start() {
    listener_ = collector_->AddListener([this](const fleet::SnapshotPtr& s) { Evaluate(s); });
    if (absl::StatusOr<fleet::SnapshotPtr> snapshot = collector_->Servable(); snapshot.ok()) {
      Evaluate(*snapshot);
    }
  }

  void Evaluate(const fleet::SnapshotPtr& snapshot) {
    absl::StatusOr<MetricAnswer> answer = AnswerFor(config_, snapshot->figures);
    if (!answer.ok()) return;  // an undefined figure has no activation state
    std::unique_lock lock(mutex_);
    if (state_ == answer->active) return;
    state_ = answer->active;
    SendLocked(lock);
  }

  void Heartbeat() {
    std::unique_lock lock(mutex_);
    if (state_) SendLocked(lock);
  }

  void FinishOk() {
    std::unique_lock lock(mutex_);
    FinishLocked(lock, grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mutex_);
    writing_ = false;
    if (ok) owner_->messages_sent_.fetch_add(1);
    if (finish_after_write_) {
      // A finish (shutdown, or the client's cancel) waited for this write.
      finish_after_write_ = false;
      lock.unlock();
      Finish(finish_status_);
    } else if (ok && queued_) {
      SendLocked(lock);
    }
    // A failed write means the client is gone: OnCancel follows and finishes.
  }

  void OnCancel() override {
    std::unique_lock lock(mutex_);
    FinishLocked(lock, grpc::Status::CANCELLED);
  }

  void OnDone() override {
    collector_->RemoveListener(listener_);
    owner_->Remove(this);
    delete this;
  }

 private:
  // Sends state_ now, or after the write in flight.
  void SendLocked(std::unique_lock<std::mutex>& lock) {
    if (finished_) return;
    if (writing_) {
      queued_ = true;
      return;
    }
    queued_ = false;
    writing_ = true;
    response_.set_result(*state_);
    lock.unlock();
    StartWrite(&response_);
  }

  void FinishLocked(std::unique_lock<std::mutex>& lock, grpc::Status status) {
    if (finished_) return;
    finished_ = true;
    if (writing_) {
      finish_after_write_ = true;
      finish_status_ = std::move(status);
      return;
    }
    lock.unlock();
    Finish(std::move(status));
  }

  ActivationStreams* const owner_;
  const TriggerConfig config_;
  const std::shared_ptr<fleet::Collector> collector_;
  uint64_t listener_ = 0;

  std::mutex mutex_;
  std::optional<bool> state_;  // unknown until a servable snapshot is seen
  bool writing_ = false;
  bool queued_ = false;
  bool finished_ = false;
  bool finish_after_write_ = false;
  grpc::Status finish_status_;
  externalscaler::IsActiveResponse response_;
};

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* RefusedStream(grpc::Status status) {
  class Refused : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
   public:
    explicit Refused(grpc::Status why) { Finish(std::move(why)); }
    void OnDone() override { delete this; }
  };
  return new Refused(std::move(status));
}

ActivationStreams::ActivationStreams(std::chrono::nanoseconds heartbeat_interval,
                                     size_t max_streams)
    : heartbeat_interval_(heartbeat_interval), max_streams_(max_streams) {
  heartbeat_ = std::thread([this] { HeartbeatUntilStopped(); });
}

ActivationStreams::~ActivationStreams() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  heartbeat_.join();
}

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* ActivationStreams::Open(
    TriggerConfig config, std::shared_ptr<fleet::Collector> collector) {
  ActivationStream* stream = nullptr;
  bool closing;
  {
    std::lock_guard lock(mutex_);
    if (streams_.size() >= max_streams_) {
      ++rejected_;
      return RefusedStream(
          grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                       "StreamIsActive refused: " + std::to_string(streams_.size()) +
                           " streams are open already (--max-streams)"));
    }
    stream = new ActivationStream(this, std::move(config), std::move(collector));
    closing = closing_;
    streams_.insert(stream);
  }
  stream->Start();
  if (closing) stream->FinishOk();
  return stream;
}

void ActivationStreams::FinishAll() {
  std::lock_guard lock(mutex_);
  closing_ = true;
  for (ActivationStream* stream : streams_) stream->FinishOk();
}

size_t ActivationStreams::open_count() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

uint64_t ActivationStreams::messages_sent() const { return messages_sent_.load(); }

void ActivationStreams::Remove(ActivationStream* stream) {
  std::lock_guard lock(mutex_);
  streams_.erase(stream);
}

void ActivationStreams::HeartbeatUntilStopped() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, heartbeat_interval_, [this] { return stopping_; })) {
    for (ActivationStream* stream : streams_) stream->Heartbeat();
  }
}

}  // namespace mk::keda
