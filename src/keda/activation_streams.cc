#include "keda/activation_streams.h"

#include <optional>

#include "keda/metric_answer.h"

namespace mk::keda {

// One StreamIsActive call. Writes are serialised: while one is in flight the
// newest state waits in `queued_`. Start* and Finish are called outside mutex_,
// since gRPC may run a reaction inline, and nothing touches the stream after
// them, since a reaction may end it. Owned by ActivationStreams (and, for the
// length of a heartbeat, by its heartbeat thread); the collector calls it through
// a listener that OnDone removes before the stream may go.
class ActivationStream final : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
 public:
  ActivationStream(ActivationStreams* owner, TriggerConfig config,
                   std::shared_ptr<fleet::Collector> collector)
      : owner_(owner), config_(std::move(config)), collector_(std::move(collector)) {}
  ~ActivationStream() override { collector_->RemoveListener(listener_); }

  // Registers with the collector and sends the state if a servable one is known.
  void Start() {
    listener_ =
        collector_->AddListener([this](const fleet::SnapshotPtr& s) { Evaluate(*s, false); });
    if (absl::StatusOr<fleet::SnapshotPtr> snapshot = collector_->Servable(); snapshot.ok()) {
      Evaluate(**snapshot, false);
    }
  }

  // Sends the state of the servable snapshot, changed or not; nothing at all
  // while no snapshot is servable (KEDA keeps its last state meanwhile).
  void Heartbeat() {
    if (absl::StatusOr<fleet::SnapshotPtr> snapshot = collector_->Servable(); snapshot.ok()) {
      Evaluate(**snapshot, true);
    }
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
    owner_->Remove(this);  // may delete this stream
  }

 private:
  // Sends the trigger's state in `snapshot` if it flipped (always, for a
  // heartbeat). Snapshots older than one already evaluated are ignored, so a late
  // evaluation cannot overwrite a newer state; an undefined figure sends nothing.
  void Evaluate(const fleet::Snapshot& snapshot, bool heartbeat) {
    const absl::StatusOr<MetricAnswer> answer = AnswerFor(config_, snapshot);
    std::unique_lock lock(mutex_);
    if (snapshot.version < evaluated_version_) return;
    evaluated_version_ = snapshot.version;
    if (!answer.ok()) return;
    if (!heartbeat && state_ == answer->active) return;
    state_ = answer->active;
    SendLocked(lock);
  }

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
  uint64_t evaluated_version_ = 0;  // the newest snapshot version evaluated
  std::optional<bool> state_;       // unknown until a servable snapshot defines it
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
  std::shared_ptr<ActivationStream> stream;
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
    stream = std::make_shared<ActivationStream>(this, std::move(config), std::move(collector));
    closing = closing_;
    streams_.emplace(stream.get(), stream);
  }
  stream->Start();
  if (closing) stream->FinishOk();
  return stream.get();
}

std::vector<std::shared_ptr<ActivationStream>> ActivationStreams::OpenStreams() const {
  std::vector<std::shared_ptr<ActivationStream>> streams;
  std::lock_guard lock(mutex_);
  streams.reserve(streams_.size());
  for (const auto& [raw, stream] : streams_) streams.push_back(stream);
  return streams;
}

void ActivationStreams::FinishAll() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  for (const auto& stream : OpenStreams()) stream->FinishOk();
}

size_t ActivationStreams::open_count() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

uint64_t ActivationStreams::messages_sent() const { return messages_sent_.load(); }

void ActivationStreams::Remove(ActivationStream* stream) {
  std::shared_ptr<ActivationStream> removed;
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    removed = std::move(it->second);
    streams_.erase(it);
  }
  // `removed` goes here, outside the lock, unless a heartbeat still holds it.
}

void ActivationStreams::HeartbeatUntilStopped() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, heartbeat_interval_, [this] { return stopping_; })) {
    lock.unlock();
    for (const auto& stream : OpenStreams()) stream->Heartbeat();
    lock.lock();
  }
}

}  // namespace mk::keda
