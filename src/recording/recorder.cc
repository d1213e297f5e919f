#include "recording/recorder.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "recording/record_format.h"

namespace mk::recording {

// What the listeners and the writer share; outlives the recorder while a listener
// holds it.
struct Recorder::Shared {
  explicit Shared(ThrottleSettings settings) : throttle(settings) {}

  void Offer(uint64_t source, const fleet::SnapshotPtr& snapshot) {
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      // The writer wakes for a snapshot to write now, or for a new due time.
      const SnapshotThrottle::Offered offered =
          throttle.Offer(source, snapshot, SnapshotThrottle::Clock::now());
      if (offered != SnapshotThrottle::Offered::kQueued &&
          offered != SnapshotThrottle::Offered::kHeld) {
        return;
      }
    }
    wake.notify_one();
  }

  void Forget(uint64_t source) {
    {
      std::lock_guard lock(mutex);
      throttle.Forget(source);
    }
    wake.notify_one();
  }

  std::mutex mutex;
  std::condition_variable wake;
  SnapshotThrottle throttle;
  bool stopping = false;
  uint64_t next_source = 1;
  // Written by the writer thread, read by Stats().
  std::atomic<uint64_t> snapshots{0}, rows{0}, bytes{0}, rotations{0}, errors{0};
};

namespace {

// Held by a collector's listener: its end (the collector's) ends the source.
struct Watched {
  std::function<void()> on_end;
  ~Watched() { on_end(); }
};

}  // namespace

Recorder::Recorder(RecorderSettings settings)
    : settings_(std::move(settings)),
      wall_offset_(std::chrono::system_clock::now().time_since_epoch() -
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       std::chrono::steady_clock::now().time_since_epoch())),
      shared_(std::make_shared<Shared>(settings_.throttle)),
      file_(RotatingFileSettings{.path = settings_.path,
                                 .max_bytes = settings_.max_bytes,
                                 .keep = settings_.keep,
                                 .header = HeaderRow()}) {}

absl::StatusOr<std::unique_ptr<Recorder>> Recorder::Start(RecorderSettings settings) {
  std::unique_ptr<Recorder> recorder(new Recorder(std::move(settings)));
  if (absl::Status status = recorder->file_.Open(); !status.ok()) return status;
  recorder->writer_ = std::thread([raw = recorder.get()] { raw->WriteUntilStopped(); });
  spdlog::info("recording every target's fleet to {} (gzip CSV, one snapshot per {:.3g}s)",
               recorder->settings_.path,
               std::chrono::duration<double>(recorder->settings_.throttle.interval).count());
  return recorder;
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->wake.notify_one();
  if (writer_.joinable()) writer_.join();
}

void Recorder::Watch(fleet::Collector& collector) {
  uint64_t source = 0;
  {
    std::lock_guard lock(shared_->mutex);
    source = shared_->next_source++;
  }
  std::shared_ptr<Shared> shared = shared_;
  auto watched = std::make_shared<Watched>([shared, source] { shared->Forget(source); });
  collector.AddListener([watched, shared, source](const fleet::SnapshotPtr& snapshot) {
    shared->Offer(source, snapshot);
  });
}

RecorderStats Recorder::Stats() const {
  RecorderStats stats{.snapshots = shared_->snapshots,
                      .rows = shared_->rows,
                      .bytes = shared_->bytes,
                      .rotations = shared_->rotations,
                      .dropped = 0,
                      .errors = shared_->errors};
  std::lock_guard lock(shared_->mutex);
  stats.dropped = shared_->throttle.dropped();
  return stats;
}

void Recorder::WriteUntilStopped() {
  SnapshotThrottle& throttle = shared_->throttle;
  std::unique_lock lock(shared_->mutex);
  while (true) {
    // Every wake-up looks again: an offer may have brought a due time nearer.
    const auto due = throttle.NextDue();
    const bool stopping = shared_->stopping;
    if (!stopping && !throttle.HasQueued() && !(due && SnapshotThrottle::Clock::now() >= *due)) {
      if (due) {
        shared_->wake.wait_until(lock, *due);
      } else {
        shared_->wake.wait(lock);
      }
      continue;
    }
    std::vector<RecordItem> items = throttle.Take(SnapshotThrottle::Clock::now(), stopping);
    lock.unlock();
    for (const RecordItem& item : items) Write(item);
    lock.lock();
    if (stopping) return;
  }
}

void Recorder::Write(const RecordItem& item) {
  rows_.clear();
  size_t rows = 0;
  auto wall = [this](std::chrono::steady_clock::time_point at) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(at.time_since_epoch()) +
        wall_offset_);
  };
  if (item.snapshot) {
    rows = AppendSnapshotRows(*item.snapshot, wall(item.snapshot->taken), rows_);
  } else {
    rows = AppendUnavailableRow(item.target, wall(item.unavailable_since), rows_);
  }
  const RotatingFileCounters before = file_.counters();
  const absl::Status status = file_.Append(rows_, rows);
  const RotatingFileCounters& after = file_.counters();
  shared_->bytes += after.bytes - before.bytes;
  shared_->rotations += after.rotations - before.rotations;
  shared_->rows += after.rows - before.rows;
  if (after.rows > before.rows) ++shared_->snapshots;
  if (!status.ok()) {
    ++shared_->errors;
    if (!failing_)
      spdlog::warn("recording: {}; retried with the next snapshot", std::string(status.message()));
    failing_ = true;
    return;
  }
  if (failing_) spdlog::info("recording: writing {} again", settings_.path);
  failing_ = false;
}

}  // namespace mk::recording
