// The files the status page loads besides itself, compiled into the binary at build
// time (cmake/embed_file.cmake), so that the page needs nothing from the network or
// the disk: Chart.js, from Debian's libjs-chart.js, and the page's own chart script
// (status_charts.js). Each is served at its path with a year's caching: the page
// links it with its hash in the query (Url()), so a new build's file has a new URL.
// main serves the routes; the status page links the URLs. Immutable; thread-safe.
#ifndef METRICS_KEDA_OBSERVABILITY_STATIC_FILES_H_
#define METRICS_KEDA_OBSERVABILITY_STATIC_FILES_H_

#include <map>
#include <string>
#include <string_view>

#include "observability/http_server.h"

namespace mk::observability {

struct StaticFile {
  std::string_view path;  // e.g. /static/chart.js
  std::string_view content_type;
  std::string_view body;
  std::string_view sha256;  // of the body, in hex

  std::string Url() const;  // path?v=<the first 16 hex digits of sha256>
};

const StaticFile& ChartJs();
const StaticFile& StatusChartsJs();

// A route for each file.
std::map<std::string, HttpRoute> StaticFileRoutes();

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_STATIC_FILES_H_
