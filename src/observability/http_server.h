// The HTTP side of the scaler (/metrics, /status, /): a small cpp-httplib server on
// its own port whose routes are plain functions returning a response. Paths match
// exactly (/statusx is 404). Routes run on the server's worker threads and must be
// thread-safe.
#ifndef METRICS_KEDA_OBSERVABILITY_HTTP_SERVER_H_
#define METRICS_KEDA_OBSERVABILITY_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace mk::observability {

struct HttpResponse {
  std::string content_type;
  std::string body;
  std::string cache_control = "";  // the Cache-Control header; empty: none
};
using HttpRoute = std::function<HttpResponse()>;

class HttpServer {
 public:
  // Listens on `host` (an address without brackets, "::1" or "0.0.0.0", or a host
  // name: config::ListenHost::address) and `port` (0: any free port); UNAVAILABLE when
  // it cannot.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                           std::map<std::string, HttpRoute> routes);
  // Stops accepting and waits for the requests being served.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  HttpServer();

  std::map<std::string, HttpRoute> routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
};

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_HTTP_SERVER_H_
