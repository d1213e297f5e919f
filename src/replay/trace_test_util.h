// Helpers for the trace readers' tests: the files of tests/data/replay/, and a
// trace's times and demands as plain vectors for comparisons.
#ifndef METRICS_KEDA_REPLAY_TRACE_TEST_UTIL_H_
#define METRICS_KEDA_REPLAY_TRACE_TEST_UTIL_H_

#include <optional>
#include <string>
#include <vector>

#include "replay/trace.h"

namespace mk::replay::testing {

inline std::string DataPath(const std::string& file) {
  return std::string(MK_TEST_DATA_DIR) + "/replay/" + file;
}

inline std::vector<std::string> DataPaths(const std::vector<std::string>& files) {
  std::vector<std::string> paths;
  for (const std::string& file : files) paths.push_back(DataPath(file));
  return paths;
}

inline std::vector<double> Times(const Trace& trace) {
  std::vector<double> times;
  for (const TraceSample& sample : trace.samples) times.push_back(sample.time);
  return times;
}

inline std::vector<std::optional<double>> Demands(const Trace& trace) {
  std::vector<std::optional<double>> demands;
  for (const TraceSample& sample : trace.samples) demands.push_back(sample.demand);
  return demands;
}

}  // namespace mk::replay::testing

#endif  // METRICS_KEDA_REPLAY_TRACE_TEST_UTIL_H_
