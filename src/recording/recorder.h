// Records what the scaler sees (`--record-file`): per target, each recorded
// snapshot's units and fleet figures, as rows of the recording format
// (record_format.h) in rotating gzip files (rotating_file.h), for replay and for
// anyone with zcat, pandas or duckdb.
//
// It listens to the collectors' snapshot publication (Collector::AddListener) and
// keeps the snapshots' path free: a listener only hands its snapshot to the
// throttle (snapshot_throttle.h: at most one per target per interval, always the
// latest, a bounded queue that drops and counts when full) under a lock no I/O is
// done under; a writer thread of its own formats, compresses and writes. Errors are
// logged when they start and stop, counted, and retried with the next snapshot:
// recording never stops the scaler.
//
// Rows carry wall-clock times: the snapshots' steady-clock times plus the offset
// between the clocks read once at start, so that a clock step (NTP) never makes a
// recording's times go back.
//
// Thread-safe. Listeners may outlive the recorder (they are then no-ops), and a
// collector may be destroyed at any time: its listener's end tells the recorder.
#ifndef METRICS_KEDA_RECORDING_RECORDER_H_
#define METRICS_KEDA_RECORDING_RECORDER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "fleet/collector.h"
#include "recording/rotating_file.h"
#include "recording/snapshot_throttle.h"

namespace mk::recording {

struct RecorderSettings {
  std::string path;
  uint64_t max_bytes = 64 << 20;  // rotate the file at this compressed size
  size_t keep = 4;                // rotated files kept: path.1 ... path.<keep>
  ThrottleSettings throttle;
};

struct RecorderStats {
  uint64_t snapshots = 0;  // snapshots written (and moments of unavailability)
  uint64_t rows = 0;       // rows written (the header rows not counted)
  uint64_t bytes = 0;      // compressed bytes written
  uint64_t rotations = 0;  // files rotated for size
  uint64_t dropped = 0;    // snapshots dropped with the queue full
  uint64_t errors = 0;     // writes that failed: a file not opened, not written, not rotated
};

class Recorder {
 public:
  // Opens the file (rotating away one found there) and starts the writer; an error
  // when the file cannot be opened at all.
  static absl::StatusOr<std::unique_ptr<Recorder>> Start(RecorderSettings settings);
  // Writes what is queued and held, then ends the file's gzip stream.
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Records the snapshots `collector` publishes from now on, until it is destroyed.
  void Watch(fleet::Collector& collector);

  RecorderStats Stats() const;

 private:
  struct Shared;
  explicit Recorder(RecorderSettings settings);
  void WriteUntilStopped();
  // Writes one item; a failure is counted and logged.
  void Write(const RecordItem& item);

  const RecorderSettings settings_;
  // Steady-clock times plus this are the rows' wall-clock times.
  const std::chrono::system_clock::duration wall_offset_;
  std::shared_ptr<Shared> shared_;
  RotatingGzipFile file_;  // the writer thread's alone
  std::string rows_;       // the writer's buffer, reused
  bool failing_ = false;   // the last write failed (for logging the change)
  std::thread writer_;
};

}  // namespace mk::recording

#endif  // METRICS_KEDA_RECORDING_RECORDER_H_
