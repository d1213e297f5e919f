// gzip (RFC 1952) through zlib, both ways: the recorder's compressing stream, and
// the bounded reading of a file that may or may not be gzip-compressed (replay).
// A GzipEncoder is not thread-safe (one per file); ReadMaybeGzipFile is.
#ifndef METRICS_KEDA_RECORDING_GZIP_H_
#define METRICS_KEDA_RECORDING_GZIP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mk::recording {

// One gzip member, compressed as it is written.
class GzipEncoder {
 public:
  GzipEncoder();
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  // Compresses `text` and appends the compressed bytes to `out`. `sync`: everything
  // so far is flushed to a byte boundary (Z_SYNC_FLUSH), so that what `out` holds
  // decompresses to all of it even if the stream never ends.
  absl::Status Write(std::string_view text, bool sync, std::string& out);
  // Ends the member (its trailer: CRC and length) into `out`. Nothing may follow.
  absl::Status Finish(std::string& out);

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;
};

struct FileText {
  std::string text;
  bool gzip = false;
  // A gzip stream that stopped before its end (a recorder killed mid-file): `text`
  // holds what was complete, and its last line may be cut short.
  bool truncated = false;
};

// The file's contents: decompressed when it starts with gzip's magic bytes (every
// member of a multi-member file), as is otherwise. RESOURCE_EXHAUSTED when the file
// or its decompressed text exceeds `max_bytes` (nothing more is read or held);
// NOT_FOUND, PERMISSION_DENIED, ... when it cannot be read; DATA_LOSS when it is
// not valid gzip.
absl::StatusOr<FileText> ReadMaybeGzipFile(const std::string& path, uint64_t max_bytes);

// The same for bytes at hand (tests, fuzzing).
absl::StatusOr<FileText> DecodeMaybeGzip(std::string_view bytes, uint64_t max_bytes);

}  // namespace mk::recording

#endif  // METRICS_KEDA_RECORDING_GZIP_H_
