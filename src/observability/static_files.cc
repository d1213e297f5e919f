#include "observability/static_files.h"

namespace mk::observability {

// Defined by the sources cmake/embed_file.cmake generates.
namespace embedded {
std::string_view ChartJs();
std::string_view ChartJsSha256();
std::string_view StatusChartsJs();
std::string_view StatusChartsJsSha256();
}  // namespace embedded

namespace {

StaticFile JavaScript(std::string_view path, std::string_view body, std::string_view sha256) {
  return {.path = path,
          .content_type = "text/javascript; charset=utf-8",
          .body = body,
          .sha256 = sha256};
}

}  // namespace

std::string StaticFile::Url() const {
  return std::string(path) + "?v=" + std::string(sha256.substr(0, 16));
}

const StaticFile& ChartJs() {
  static const StaticFile file =
      JavaScript("/static/chart.js", embedded::ChartJs(), embedded::ChartJsSha256());
  return file;
}

const StaticFile& StatusChartsJs() {
  static const StaticFile file = JavaScript("/static/status-charts.js", embedded::StatusChartsJs(),
                                            embedded::StatusChartsJsSha256());
  return file;
}

std::map<std::string, HttpRoute> StaticFileRoutes() {
  std::map<std::string, HttpRoute> routes;
  for (const StaticFile* file : {&ChartJs(), &StatusChartsJs()}) {
    routes.emplace(std::string(file->path), [file] {
      return HttpResponse{.content_type = std::string(file->content_type),
                          .body = std::string(file->body),
                          .cache_control = "public, max-age=31536000, immutable"};
    });
  }
  return routes;
}

}  // namespace mk::observability
