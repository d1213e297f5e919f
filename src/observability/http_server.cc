#include "observability/http_server.h"

#include <CivetServer.h>

#include "absl/status/status.h"

namespace mk::observability {

class HttpServer::Handler : public CivetHandler {
 public:
  explicit Handler(const HttpRoute& route) : route_(route) {}

  bool handleGet(CivetServer*, mg_connection* connection) override {
    const HttpResponse response = route_();
    mg_send_http_ok(connection, response.content_type.c_str(),
                    static_cast<long long>(response.body.size()));
    mg_write(connection, response.body.data(), response.body.size());
    return true;
  }

 private:
  const HttpRoute& route_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& host, int port, std::map<std::string, HttpRoute> routes) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);
  const bool ipv6 = host.find(':') != std::string::npos;
  const std::string listen = (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  const std::vector<std::string> options = {"listening_ports",    listen, "num_threads", "4",
                                            "request_timeout_ms", "10000"};
  try {
    server->server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    return absl::UnavailableError("cannot listen on " + listen + ": " + e.what());
  }
  mg_server_port bound{};
  if (mg_get_server_ports(server->server_->getContext(), 1, &bound) != 1) {
    return absl::UnavailableError("cannot listen on " + listen);
  }
  server->port_ = bound.port;
  for (const auto& [path, route] : server->routes_) {
    server->handlers_.push_back(std::make_unique<Handler>(route));
    // Exact paths only ("$"), so /status does not also answer /statusx.
    server->server_->addHandler(path + "$", server->handlers_.back().get());
  }
  return server;
}

HttpServer::~HttpServer() {
  if (server_) server_->close();
}

}  // namespace mk::observability
