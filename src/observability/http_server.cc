#include "observability/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/status/status.h"

namespace mk::observability {
namespace {

// Worker threads: slow clients hold one each, the others queue.
constexpr size_t kThreads = 4;
// Each read and each write of a request must progress within this time.
constexpr time_t kIoTimeoutSeconds = 10;
// An idle kept-alive connection is closed after this, which also bounds how long
// stopping waits for one.
constexpr time_t kKeepAliveSeconds = 2;
constexpr size_t kKeepAliveRequests = 100;
// The routes are GETs: a request body is never read beyond this.
constexpr size_t kMaxBodyBytes = 64 * 1024;

std::string Where(const std::string& host, int port) {
  return "host " + host + ", port " + std::to_string(port);
}

}  // namespace

HttpServer::HttpServer() = default;

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& host, int port, std::map<std::string, HttpRoute> routes) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);
  server->server_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *server->server_;
  http.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // SO_REUSEADDR alone: the library's default, SO_REUSEPORT, would let a second
  // process share the port silently.
  http.set_socket_options([](socket_t socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_read_timeout(kIoTimeoutSeconds, 0);
  http.set_write_timeout(kIoTimeoutSeconds, 0);
  http.set_keep_alive_timeout(kKeepAliveSeconds);
  http.set_keep_alive_max_count(kKeepAliveRequests);
  http.set_payload_max_length(kMaxBodyBytes);
  // One handler for every path, looked up exactly (patterns would be regular expressions).
  const std::map<std::string, HttpRoute>& table = server->routes_;
  http.Get(".*", [&table](const httplib::Request& request, httplib::Response& response) {
    const auto route = table.find(request.path);
    if (route == table.end()) {
      response.status = 404;
      response.set_content("not found\n", "text/plain; charset=utf-8");
      return;
    }
    const HttpResponse answer = route->second();
    if (!answer.cache_control.empty()) response.set_header("Cache-Control", answer.cache_control);
    response.set_content(answer.body, answer.content_type);
  });

  errno = 0;
  const int bound =
      port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    const int error = errno;
    return absl::UnavailableError("cannot listen on " + Where(host, port) +
                                  (error != 0 ? std::string(": ") + std::strerror(error) : ""));
  }
  server->port_ = bound;
  HttpServer* self = server.get();
  server->listener_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->listener_done_ = true;
  });
  // The library's stop() only takes effect once its accept loop runs.
  while (!http.is_running() && !server->listener_done_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (server->listener_done_) {
    return absl::UnavailableError("cannot serve HTTP on " + Where(host, bound));
  }
  return server;
}

HttpServer::~HttpServer() {
  if (server_) server_->stop();
  if (listener_.joinable()) listener_.join();
}

}  // namespace mk::observability
