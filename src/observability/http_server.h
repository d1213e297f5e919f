// The HTTP side of the scaler (/metrics, /status, /): a small civetweb server
// on its own port whose routes are plain functions returning a response.
// Routes run on civetweb's worker threads and must be thread-safe.
#ifndef METRICS_KEDA_OBSERVABILITY_HTTP_SERVER_H_
#define METRICS_KEDA_OBSERVABILITY_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

class CivetServer;

namespace mk::observability {

struct HttpResponse {
  std::string content_type;
  std::string body;
};
using HttpRoute = std::function<HttpResponse()>;

class HttpServer {
 public:
  // Listens on host:port (port 0: any free port); UNAVAILABLE when it cannot.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                           std::map<std::string, HttpRoute> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  class Handler;
  HttpServer() = default;

  std::map<std::string, HttpRoute> routes_;
  std::vector<std::unique_ptr<Handler>> handlers_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_HTTP_SERVER_H_
