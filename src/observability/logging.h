// Process-wide logging setup: spdlog to stderr, as text or as one JSON object
// per line (for log pipelines). Called once by main before anything logs.
#ifndef METRICS_KEDA_OBSERVABILITY_LOGGING_H_
#define METRICS_KEDA_OBSERVABILITY_LOGGING_H_

#include <string>

namespace mk::observability {

// `level`: trace, debug, info, warn, error. `format`: text or json.
void ConfigureLogging(const std::string& level, const std::string& format);

}  // namespace mk::observability

#endif  // METRICS_KEDA_OBSERVABILITY_LOGGING_H_
