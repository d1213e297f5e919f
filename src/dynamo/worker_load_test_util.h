// Helpers for the unit tests of the decoders that make WorkerLoad reports (the
// stats decoder, the JSON LoadEvent decoder, the worker gauges): building an expected
// report, printing one in failure messages, reading the fixtures in tests/data/.
#ifndef METRICS_KEDA_DYNAMO_WORKER_LOAD_TEST_UTIL_H_
#define METRICS_KEDA_DYNAMO_WORKER_LOAD_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

#include "dynamo/worker_load.h"

namespace mk::dynamo {

// Found by argument-dependent lookup: readable failures for WorkerLoad comparisons.
inline void PrintTo(const WorkerLoad& unit, std::ostream* os) {
  auto optional = [os](const std::optional<double>& value) {
    if (value) {
      *os << *value;
    } else {
      *os << "none";
    }
  };
  *os << "{lease=0x" << LeaseHex(unit.key.lease_id) << " rank=";
  if (unit.key.dp_rank) {
    *os << *unit.key.dp_rank;
  } else {
    *os << "none";
  }
  *os << " slots=" << unit.request_active_slots << "/" << unit.request_total_slots
      << " kv=" << unit.kv_active_blocks << "/" << unit.kv_total_blocks << " waiting=";
  if (unit.num_requests_waiting) {
    *os << *unit.num_requests_waiting;
  } else {
    *os << "none";
  }
  *os << " prefill_tokens_queued=";
  if (unit.prefill_tokens_queued) {
    *os << *unit.prefill_tokens_queued;
  } else {
    *os << "none";
  }
  *os << " gpu_cache=";
  optional(unit.gpu_cache_usage_perc);
  *os << " hit_rate=";
  optional(unit.gpu_prefix_cache_hit_rate);
  *os << "}";
}

namespace testing {

inline WorkerLoad MakeWorkerLoad(uint64_t lease, std::optional<uint32_t> rank,
                                 uint64_t active_slots, uint64_t total_slots, uint64_t kv_active,
                                 uint64_t kv_total, uint64_t waiting,
                                 std::optional<double> gpu_cache, std::optional<double> hit_rate) {
  WorkerLoad load;
  load.key = WorkerKey{lease, rank};
  load.request_active_slots = active_slots;
  load.request_total_slots = total_slots;
  load.kv_active_blocks = kv_active;
  load.kv_total_blocks = kv_total;
  load.num_requests_waiting = waiting;
  load.gpu_cache_usage_perc = gpu_cache;
  load.gpu_prefix_cache_hit_rate = hit_rate;
  return load;
}

// A file of tests/data/<dir>/, whole; a missing one fails the test.
inline std::string ReadTestData(const std::string& dir, const std::string& name) {
  const std::string path = std::string(MK_TEST_DATA_DIR) + "/" + dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A file of tests/data/stats/, whole.
inline std::string ReadStatsFixture(const std::string& name) { return ReadTestData("stats", name); }

}  // namespace testing
}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_WORKER_LOAD_TEST_UTIL_H_
