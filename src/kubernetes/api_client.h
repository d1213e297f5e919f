// HTTP(S) to the Kubernetes API server for one ApiAccess, over libcurl: GETs with a
// bounded body (lists), and streamed GETs cut into lines (watches). Each call makes
// its own connection, so calls may run on any threads at once; watches are few and
// long, lists rare, so connection reuse is not worth sharing handles.
//
// Credentials: the bearer token is read from its file when the file changes (the
// kubelet rotates projected service account tokens), and once more when the server
// answers 401, before the call is retried once: a rotated token costs no error.
//
// Thread-safe.
#ifndef METRICS_KEDA_KUBERNETES_API_CLIENT_H_
#define METRICS_KEDA_KUBERNETES_API_CLIENT_H_

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "kubernetes/api_access.h"

namespace mk::kubernetes {

struct HttpAnswer {
  long status = 0;   // the HTTP status
  std::string body;  // for a stream: only when the status is not 200
};

// `text` percent-encoded for a URL's query (RFC 3986 unreserved characters kept).
std::string QueryEscape(std::string_view text);

class ApiClient {
 public:
  // INVALID_ARGUMENT when the access cannot be used (no server).
  static absl::StatusOr<std::unique_ptr<ApiClient>> Create(ApiAccess access);

  // GET `path` (with its query). UNAVAILABLE when the server cannot be reached or
  // does not answer within `timeout` (or Stop); RESOURCE_EXHAUSTED when the body exceeds
  // `max_body` bytes. Any HTTP status is an answer.
  absl::StatusOr<HttpAnswer> Get(const std::string& path, size_t max_body,
                                 std::chrono::seconds timeout);

  // GET `path` as a stream: each complete line (without its newline) goes to
  // `on_line`, which returns false to end the stream. Returns the answer when the
  // stream ends: by the server (status 200), by `on_line`, or with another status
  // (its body, up to 64 KiB). UNAVAILABLE when the connection fails or when no byte
  // came for `idle_timeout`; RESOURCE_EXHAUSTED when a line exceeds `max_line` bytes.
  // `on_open`, if given, is called once the server has answered 200, before any line.
  absl::StatusOr<HttpAnswer> Stream(const std::string& path, size_t max_line,
                                    std::chrono::seconds idle_timeout,
                                    const std::function<bool(std::string_view)>& on_line,
                                    const std::function<void()>& on_open = nullptr);

  // Ends every call in progress within a second, and every later one at once, with
  // UNAVAILABLE: for shutting down.
  void Stop() { stopped_ = true; }

  const ApiAccess& access() const { return access_; }

 private:
  explicit ApiClient(ApiAccess access) : access_(std::move(access)) {}
  // The bearer token to send: the file's, re-read when its modification time moved
  // or `reread`, else the fixed one.
  std::string Token(bool reread);
  struct Transfer;
  absl::StatusOr<HttpAnswer> Perform(const std::string& path, Transfer& transfer);

  const ApiAccess access_;
  std::mutex token_mutex_;
  std::string token_;
  std::timespec token_mtime_{};
  std::atomic<bool> stopped_{false};
};

}  // namespace mk::kubernetes

#endif  // METRICS_KEDA_KUBERNETES_API_CLIENT_H_
