#include "recording/rotating_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mk::recording {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(what + ": " + std::strerror(errno));
}

std::string Numbered(const std::string& path, size_t n) { return path + "." + std::to_string(n); }

// Renames `from` to `to`; a missing `from` is no error (fewer files than kept).
absl::Status RenameIfPresent(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  return Errno("rename " + from + " to " + to);
}

}  // namespace

RotatingGzipFile::RotatingGzipFile(RotatingFileSettings settings)
    : settings_(std::move(settings)) {}

RotatingGzipFile::~RotatingGzipFile() { (void)Close(true); }

absl::Status RotatingGzipFile::Open() { return StartFile(true); }

absl::Status RotatingGzipFile::Append(std::string_view rows, size_t row_count) {
  if (fd_ < 0) {
    // A file abandoned before its first row holds nothing worth a rotation: while
    // writes keep failing (a full disk), retries must not push the older files out.
    if (absl::Status status = StartFile(abandoned_rows_); !status.ok()) return status;
  }
  // Replay's limits are never passed: a file that cannot take these rows is rotated
  // first (unless they are its first).
  if (file_rows_ > 0 && (file_text_ + rows.size() > settings_.max_text_bytes ||
                         file_rows_ + row_count > settings_.max_rows)) {
    if (absl::Status status = Rotate(); !status.ok()) return status;
  }
  out_.clear();
  absl::Status status = encoder_->Write(rows, true, out_);
  if (status.ok()) status = WriteAll(out_);
  if (!status.ok()) {
    abandoned_rows_ = file_rows_ > 0;
    (void)Close(false);
    return status;
  }
  file_text_ += rows.size();
  file_rows_ += row_count;
  counters_.rows += row_count;
  // The size is checked after the rows that reach it: a file is at most one snapshot
  // over --record-max-bytes.
  if (file_bytes_ >= settings_.max_bytes) return Rotate();
  return absl::OkStatus();
}

absl::Status RotatingGzipFile::Rotate() {
  if (absl::Status status = Close(true); !status.ok()) return status;
  ++counters_.rotations;
  return StartFile(true);
}

absl::Status RotatingGzipFile::StartFile(bool rotate_existing) {
  const std::string& path = settings_.path;
  struct stat found {};
  if (rotate_existing && ::stat(path.c_str(), &found) == 0 && found.st_size > 0) {
    if (settings_.keep == 0) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove " + path);
    } else {
      // Oldest first: path.keep is overwritten by path.(keep-1), and so on down.
      for (size_t n = settings_.keep; n > 1; --n) {
        if (absl::Status status = RenameIfPresent(Numbered(path, n - 1), Numbered(path, n));
            !status.ok()) {
          return status;
        }
      }
      if (absl::Status status = RenameIfPresent(path, Numbered(path, 1)); !status.ok()) {
        return status;
      }
    }
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("open " + path);
  encoder_ = std::make_unique<GzipEncoder>();
  file_bytes_ = 0;
  file_text_ = 0;
  file_rows_ = 0;
  out_.clear();
  absl::Status status = encoder_->Write(settings_.header, true, out_);
  if (status.ok()) status = WriteAll(out_);
  if (!status.ok()) {
    abandoned_rows_ = false;
    (void)Close(false);
    return status;
  }
  file_text_ = settings_.header.size();
  return absl::OkStatus();
}

absl::Status RotatingGzipFile::WriteAll(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return Errno("write " + settings_.path);
    }
    bytes.remove_prefix(static_cast<size_t>(written));
    file_bytes_ += static_cast<uint64_t>(written);
    counters_.bytes += static_cast<uint64_t>(written);
  }
  return absl::OkStatus();
}

absl::Status RotatingGzipFile::Close(bool finish) {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status status;
  if (finish) {
    out_.clear();
    status = encoder_->Finish(out_);
    if (status.ok()) status = WriteAll(out_);
  }
  if (::close(fd_) != 0 && status.ok()) status = Errno("close " + settings_.path);
  fd_ = -1;
  encoder_.reset();
  return status;
}

}  // namespace mk::recording
