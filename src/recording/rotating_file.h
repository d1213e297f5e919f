// The recording's files: `path`, written as one gzip stream with its own header
// row, and its rotated predecessors path.1 (the newest) ... path.<keep> (the
// oldest). Every Append is flushed to the file (Z_SYNC_FLUSH) before it returns, so
// that whatever kills the process, each file decompresses to every row appended
// before (the open one lacks only gzip's trailer), and each file is readable on its
// own. The file is rotated once its compressed size reaches `max_bytes` (so it is at
// most one Append over), and before its text or rows would pass what replay reads
// (record_format.h). A file found at `path` when
// recording starts is rotated away, never appended to. Data reaches the kernel
// per Append, not the disk: no fsync, which would cost a disk round trip per
// snapshot.
//
// Not thread-safe: one writer thread owns it.
#ifndef METRICS_KEDA_RECORDING_ROTATING_FILE_H_
#define METRICS_KEDA_RECORDING_ROTATING_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "recording/gzip.h"
#include "recording/record_format.h"

namespace mk::recording {

struct RotatingFileSettings {
  std::string path;
  uint64_t max_bytes = 64 << 20;  // compressed, on disk
  size_t keep = 4;                // rotated files kept beside `path`
  std::string header;             // the first line of every file
  uint64_t max_text_bytes = kMaxFileBytes;
  uint64_t max_rows = kMaxFileRows;
};

struct RotatingFileCounters {
  uint64_t bytes = 0;      // compressed bytes written, every file
  uint64_t rows = 0;       // rows appended (not the headers)
  uint64_t rotations = 0;  // files closed for size (not the one found at start)
};

class RotatingGzipFile {
 public:
  explicit RotatingGzipFile(RotatingFileSettings settings);
  ~RotatingGzipFile();  // ends the gzip stream of the current file
  RotatingGzipFile(const RotatingGzipFile&) = delete;
  RotatingGzipFile& operator=(const RotatingGzipFile&) = delete;

  // Opens `path` for the first time (rotating away a file found there): an error
  // says the recording cannot be written at all (no such directory, no permission).
  absl::Status Open();

  // Appends `rows` (`row_count` whole lines) and flushes them, then rotates if the
  // file is full. After an error the file is abandoned as it stands (readable up to
  // its last whole flush) and the next Append starts a new one.
  absl::Status Append(std::string_view rows, size_t row_count);

  const RotatingFileCounters& counters() const { return counters_; }

 private:
  // Starts a new file at `path` with its header; `rotate_existing`: a file found
  // there is first rotated away (path -> path.1 -> ... -> path.keep), else replaced.
  absl::Status StartFile(bool rotate_existing);
  absl::Status WriteAll(std::string_view bytes);
  // Ends the current file's stream and closes it; `finish`: write the gzip trailer.
  absl::Status Close(bool finish);
  absl::Status Rotate();

  const RotatingFileSettings settings_;
  int fd_ = -1;
  std::unique_ptr<GzipEncoder> encoder_;
  uint64_t file_bytes_ = 0;  // compressed, this file
  uint64_t file_text_ = 0;   // uncompressed, this file
  uint64_t file_rows_ = 0;
  bool abandoned_rows_ = true;  // the file left by the last error held rows
  std::string out_;             // compressed bytes on their way to the file, reused
  RotatingFileCounters counters_;
};

}  // namespace mk::recording

#endif  // METRICS_KEDA_RECORDING_ROTATING_FILE_H_
