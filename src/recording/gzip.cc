#include "recording/gzip.h"

#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

namespace mk::recording {
namespace {

// windowBits 15 (zlib's largest window) + 16: a gzip header and trailer, not zlib's.
constexpr int kGzipWindowBits = 15 + 16;
constexpr size_t kChunk = 256 * 1024;

bool IsGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string ZlibError(const z_stream& stream, int code) {
  return stream.msg != nullptr ? std::string(stream.msg) : "zlib error " + std::to_string(code);
}

absl::Status TooLarge(uint64_t max_bytes) {
  return absl::ResourceExhaustedError("holds more than " + std::to_string(max_bytes) +
                                      " bytes of text");
}

// Takes a file's bytes chunk by chunk and keeps its text, within `max_bytes`.
class Decoder {
 public:
  explicit Decoder(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  ~Decoder() {
    if (inflating_) inflateEnd(&stream_);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  absl::Status Add(std::string_view chunk) {
    if (chunk.empty()) return absl::OkStatus();
    if (!started_) {
      // The magic bytes decide; a first chunk of one byte cannot hold them, but every
      // caller's first chunk is the whole input or kChunk bytes of it.
      started_ = true;
      result_.gzip = IsGzip(chunk);
      if (result_.gzip) {
        if (inflateInit2(&stream_, kGzipWindowBits) != Z_OK) {
          return absl::ResourceExhaustedError("zlib: cannot start inflating");
        }
        inflating_ = true;
      }
    }
    if (!result_.gzip) {
      if (result_.text.size() + chunk.size() > max_bytes_) return TooLarge(max_bytes_);
      result_.text.append(chunk);
      return absl::OkStatus();
    }
    return Inflate(chunk);
  }

  FileText Finish() && {
    result_.truncated = result_.gzip && in_member_;
    return std::move(result_);
  }

 private:
  absl::Status Inflate(std::string_view chunk) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
    stream_.avail_in = static_cast<uInt>(chunk.size());
    std::array<char, kChunk> out;
    while (stream_.avail_in > 0) {
      if (!in_member_) {
        // Another member after the last one's end: gzip allows several in one file.
        if (inflateReset(&stream_) != Z_OK) return absl::DataLossError("zlib: cannot reset");
        in_member_ = true;
      }
      stream_.next_out = reinterpret_cast<Bytef*>(out.data());
      stream_.avail_out = static_cast<uInt>(out.size());
      const int code = inflate(&stream_, Z_NO_FLUSH);
      const size_t produced = out.size() - stream_.avail_out;
      if (result_.text.size() + produced > max_bytes_) return TooLarge(max_bytes_);
      result_.text.append(out.data(), produced);
      if (code == Z_STREAM_END) {
        in_member_ = false;
      } else if (code == Z_BUF_ERROR && produced == 0) {
        return absl::OkStatus();  // needs more input than this chunk holds
      } else if (code != Z_OK) {
        return absl::DataLossError("not valid gzip: " + ZlibError(stream_, code));
      }
    }
    return absl::OkStatus();
  }

  const uint64_t max_bytes_;
  bool started_ = false;
  bool inflating_ = false;
  bool in_member_ = false;
  z_stream stream_{};
  FileText result_;
};

}  // namespace

struct GzipEncoder::Stream {
  z_stream z{};
  bool finished = false;
};

GzipEncoder::GzipEncoder() : stream_(std::make_unique<Stream>()) {
  // Default level and memory: a few hundred KiB per file; a recording compresses
  // about ninefold.
  if (deflateInit2(&stream_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    stream_->finished = true;  // every Write then fails, and says so
  }
}

GzipEncoder::~GzipEncoder() { deflateEnd(&stream_->z); }

namespace {

absl::Status Deflate(z_stream& z, std::string_view text, int flush, std::string& out) {
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  std::array<char, kChunk> buffer;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = static_cast<uInt>(buffer.size());
    const int code = deflate(&z, flush);
    if (code == Z_STREAM_ERROR) return absl::InternalError("zlib: " + ZlibError(z, code));
    out.append(buffer.data(), buffer.size() - z.avail_out);
    // Done once deflate has taken all the input and left room in the output: it had
    // nothing more to say for this flush.
    if (code == Z_STREAM_END || (z.avail_in == 0 && z.avail_out > 0)) return absl::OkStatus();
  }
}

}  // namespace

absl::Status GzipEncoder::Write(std::string_view text, bool sync, std::string& out) {
  if (stream_->finished) return absl::FailedPreconditionError("gzip stream finished or broken");
  // zlib counts input in 32 bits: larger texts go in parts.
  constexpr size_t kPart = std::numeric_limits<uInt>::max() / 2;
  while (text.size() > kPart) {
    if (absl::Status status = Deflate(stream_->z, text.substr(0, kPart), Z_NO_FLUSH, out);
        !status.ok()) {
      return status;
    }
    text.remove_prefix(kPart);
  }
  return Deflate(stream_->z, text, sync ? Z_SYNC_FLUSH : Z_NO_FLUSH, out);
}

absl::Status GzipEncoder::Finish(std::string& out) {
  if (stream_->finished) return absl::FailedPreconditionError("gzip stream finished or broken");
  stream_->finished = true;
  return Deflate(stream_->z, {}, Z_FINISH, out);
}

absl::StatusOr<FileText> DecodeMaybeGzip(std::string_view bytes, uint64_t max_bytes) {
  Decoder decoder(max_bytes);
  for (size_t at = 0; at < bytes.size(); at += kChunk) {
    if (absl::Status status = decoder.Add(bytes.substr(at, kChunk)); !status.ok()) return status;
  }
  return std::move(decoder).Finish();
}

absl::StatusOr<FileText> ReadMaybeGzipFile(const std::string& path, uint64_t max_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    const std::string why = path + ": " + std::strerror(error);
    if (error == ENOENT) return absl::NotFoundError(why);
    if (error == EACCES) return absl::PermissionDeniedError(why);
    return absl::UnavailableError(why);
  }
  Decoder decoder(max_bytes);
  std::string chunk(kChunk, '\0');
  absl::Status status;
  // The compressed bytes are bounded too: a file larger than its limit is refused
  // before more of it is read, whatever it holds.
  uint64_t read_bytes = 0;
  while (status.ok()) {
    const size_t got = std::fread(chunk.data(), 1, chunk.size(), file);
    if (got == 0) break;
    read_bytes += got;
    if (read_bytes > max_bytes) {
      status = TooLarge(max_bytes);
      break;
    }
    status = decoder.Add(std::string_view(chunk.data(), got));
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (!status.ok()) return absl::Status(status.code(), path + ": " + std::string(status.message()));
  if (failed) return absl::DataLossError(path + ": read error");
  return std::move(decoder).Finish();
}

}  // namespace mk::recording
