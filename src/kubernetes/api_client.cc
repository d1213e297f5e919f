#include "kubernetes/api_client.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "absl/status/status.h"
#include "kubernetes/api_objects.h"

namespace mk::kubernetes {
namespace {

using Clock = std::chrono::steady_clock;

// A connection that takes longer than this is not one to wait for: the caller backs
// off and tries again.
constexpr long kConnectTimeoutSeconds = 10;
// An error answer's body is a Status object of a few hundred bytes.
constexpr size_t kMaxErrorBody = 64 * 1024;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct HeadersDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::string Trimmed(std::string text) {
  const auto end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

}  // namespace

std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

struct ApiClient::Transfer {
  // What the call asked.
  bool streaming = false;
  size_t max_body = 0;             // Get
  size_t max_line = 0;             // Stream
  std::chrono::seconds timeout{};  // Get: the whole call; Stream: without a byte
  const std::function<bool(std::string_view)>* on_line = nullptr;
  const std::function<void()>* on_open = nullptr;
  const std::atomic<bool>* stop = nullptr;  // the client's
  // What happened.
  CURL* curl = nullptr;
  std::string buffer;  // the body (Get, error answers) or the partial line (Stream)
  bool overflow = false;
  bool ended_by_reader = false;
  bool stopped = false;
  bool idle = false;
  Clock::time_point last_byte;

  long Status() const {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }

  // libcurl's write callback: bytes of the body as they come.
  size_t Take(const char* data, size_t size) {
    last_byte = Clock::now();
    if (!streaming || Status() != 200) {
      const size_t limit = streaming ? kMaxErrorBody : max_body;
      if (buffer.size() + size > limit) {
        overflow = true;
        return 0;
      }
      buffer.append(data, size);
      return size;
    }
    std::string_view rest(data, size);
    while (!rest.empty()) {
      const size_t newline = rest.find('\n');
      const std::string_view piece = rest.substr(0, newline);
      if (buffer.size() + piece.size() > max_line) {
        overflow = true;
        return 0;
      }
      if (newline == std::string_view::npos) {
        buffer.append(piece);
        break;
      }
      rest.remove_prefix(newline + 1);
      std::string_view line = piece;
      if (!buffer.empty()) {
        buffer.append(piece);
        line = buffer;
      }
      const bool go_on = line.empty() || (*on_line)(line);
      buffer.clear();
      if (!go_on) {
        ended_by_reader = true;
        return 0;
      }
    }
    return size;
  }

  // libcurl's header callback, once per header line; the empty line ends them.
  void Header(std::string_view line) {
    last_byte = Clock::now();
    if (on_open != nullptr && (line == "\r\n" || line == "\n") && Status() == 200) (*on_open)();
  }

  // libcurl's progress callback, at least once a second: non-zero aborts.
  int Check() {
    if (stop != nullptr && stop->load()) {
      stopped = true;
      return 1;
    }
    if (streaming && Clock::now() - last_byte > timeout) {
      idle = true;
      return 1;
    }
    return 0;
  }
};

absl::StatusOr<std::unique_ptr<ApiClient>> ApiClient::Create(ApiAccess access) {
  if (access.server.empty()) return absl::InvalidArgumentError("no Kubernetes API server URL");
  // Once per process, before any handle: libcurl's global state (TLS back-end).
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) {
    return absl::InternalError(std::string("libcurl: ") + curl_easy_strerror(init));
  }
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(access)));
}

std::string ApiClient::Token(bool reread) {
  std::lock_guard lock(token_mutex_);
  if (access_.token_file.empty()) return access_.token;
  struct stat info {};
  if (stat(access_.token_file.c_str(), &info) != 0) return token_;  // keep the last one
  const bool moved =
      info.st_mtim.tv_sec != token_mtime_.tv_sec || info.st_mtim.tv_nsec != token_mtime_.tv_nsec;
  if (!reread && !moved && !token_.empty()) return token_;
  // A service account token is about a KiB; refuse to read a huge file.
  constexpr off_t kMaxTokenBytes = 64 * 1024;
  if (info.st_size > kMaxTokenBytes) return token_;
  std::ifstream in(access_.token_file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return token_;
  token_ = Trimmed(text.str());
  token_mtime_ = info.st_mtim;
  return token_;
}

absl::StatusOr<HttpAnswer> ApiClient::Perform(const std::string& path, Transfer& transfer) {
  absl::StatusOr<HttpAnswer> answer;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // Declared before the handle, so that they outlive it.
    char error[CURL_ERROR_SIZE] = {};
    std::unique_ptr<curl_slist, HeadersDeleter> headers(
        curl_slist_append(nullptr, "Accept: application/json"));
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return absl::ResourceExhaustedError("libcurl: cannot make a handle");
    CURL* handle = curl.get();
    transfer.curl = handle;
    transfer.stop = &stopped_;
    if (stopped_) return absl::UnavailableError("GET " + path + ": stopped");
    transfer.buffer.clear();
    transfer.overflow = transfer.ended_by_reader = transfer.stopped = transfer.idle = false;
    transfer.last_byte = Clock::now();

    if (const std::string token = Token(attempt > 0); !token.empty()) {
      headers.reset(
          curl_slist_append(headers.release(), ("Authorization: Bearer " + token).c_str()));
    }
    const std::string url = access_.server + path;
    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSeconds);
    // A dead peer on a quiet watch is found by keepalive probes, not by waiting
    // out the watch's timeout.
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPINTVL, 10L);
    if (!transfer.streaming) {
      curl_easy_setopt(handle, CURLOPT_TIMEOUT, static_cast<long>(transfer.timeout.count()));
    }
    curl_blob ca{const_cast<char*>(access_.ca_pem.data()), access_.ca_pem.size(), CURL_BLOB_NOCOPY};
    if (!access_.ca_pem.empty()) {
      // The cluster's CA alone, as client-go trusts it: not the system's as well.
      curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &ca);
      curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
    }
    if (access_.insecure_skip_tls_verify) {
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_blob cert{const_cast<char*>(access_.client_cert_pem.data()),
                   access_.client_cert_pem.size(), CURL_BLOB_NOCOPY};
    curl_blob key{const_cast<char*>(access_.client_key_pem.data()), access_.client_key_pem.size(),
                  CURL_BLOB_NOCOPY};
    if (!access_.client_cert_pem.empty()) {
      curl_easy_setopt(handle, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(handle, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(handle, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(handle, CURLOPT_SSLKEY_BLOB, &key);
    }
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(
        handle, CURLOPT_WRITEFUNCTION,
        +[](char* data, size_t size, size_t count, void* self) -> size_t {
          return static_cast<Transfer*>(self)->Take(data, size * count);
        });
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(
        handle, CURLOPT_HEADERFUNCTION,
        +[](char* data, size_t size, size_t count, void* self) -> size_t {
          static_cast<Transfer*>(self)->Header(std::string_view(data, size * count));
          return size * count;
        });
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(
        handle, CURLOPT_XFERINFOFUNCTION,
        +[](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
          return static_cast<Transfer*>(self)->Check();
        });

    const CURLcode code = curl_easy_perform(handle);
    const long status = transfer.Status();
    if (transfer.overflow) {
      return absl::ResourceExhaustedError(
          "GET " + path + ": " +
          (transfer.streaming && status == 200
               ? "a watch event longer than " + std::to_string(transfer.max_line) + " bytes"
               : "an answer larger than " +
                     std::to_string(transfer.streaming ? kMaxErrorBody : transfer.max_body) +
                     " bytes"));
    }
    if (transfer.stopped) return absl::UnavailableError("GET " + path + ": stopped");
    if (transfer.idle) {
      return absl::UnavailableError("GET " + path + ": nothing received for " +
                                    std::to_string(transfer.timeout.count()) + "s");
    }
    if (code != CURLE_OK && !transfer.ended_by_reader) {
      return absl::UnavailableError("GET " + access_.server + path + ": " +
                                    (error[0] != '\0' ? error : curl_easy_strerror(code)));
    }
    answer = HttpAnswer{status, std::move(transfer.buffer)};
    // A rotated token: read it again and retry once.
    if (status != 401 || access_.token_file.empty()) break;
  }
  return answer;
}

absl::StatusOr<HttpAnswer> ApiClient::Get(const std::string& path, size_t max_body,
                                          std::chrono::seconds timeout) {
  Transfer transfer;
  transfer.max_body = max_body;
  transfer.timeout = timeout;
  return Perform(path, transfer);
}

absl::StatusOr<HttpAnswer> ApiClient::Stream(const std::string& path, size_t max_line,
                                             std::chrono::seconds idle_timeout,
                                             const std::function<bool(std::string_view)>& on_line,
                                             const std::function<void()>& on_open) {
  Transfer transfer;
  transfer.streaming = true;
  transfer.max_line = max_line;
  transfer.timeout = idle_timeout;
  transfer.on_line = &on_line;
  transfer.on_open = on_open ? &on_open : nullptr;
  absl::StatusOr<HttpAnswer> answer = Perform(path, transfer);
  if (answer.ok() && answer->status == 200) answer->body.clear();
  return answer;
}

}  // namespace mk::kubernetes
