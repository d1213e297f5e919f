// Helpers for the tests that write files and record a fleet (the recorder's, and
// replay's reading of its own recordings): a scratch directory per test, a collector
// fed by the test alone, publishing a record and waiting until the collector has
// taken it.
#ifndef METRICS_KEDA_RECORDING_RECORDER_TEST_UTIL_H_
#define METRICS_KEDA_RECORDING_RECORDER_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "fleet/collector.h"

namespace mk::recording::testing {

// A test with a directory of its own, dir_, empty at the start and removed after.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("mk_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

// A collector of target dynamo/<component>/generate that takes snapshots only when
// the test publishes.
inline std::unique_ptr<fleet::Collector> QuietCollector(std::string component) {
  fleet::CollectorSettings settings;
  settings.check_interval = std::chrono::hours(1);
  settings.max_staleness = std::chrono::hours(1);
  settings.events = true;
  return std::make_unique<fleet::Collector>(
      fleet::Target{"dynamo", std::move(component), "generate"}, settings, nullptr);
}

// Waits (10 s at most) until `done()`.
template <typename Done>
bool WaitFor(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Applies `record` and publishes it; returns once a snapshot carries it.
inline void Publish(fleet::Collector& collector, const dynamo::WorkerLoad& record) {
  collector.ApplyLoadReport(record);
  collector.Publish();
  const bool published = WaitFor([&] {
    const fleet::SnapshotPtr latest = collector.Latest();
    if (!latest) return false;
    for (const fleet::Unit& unit : latest->units) {
      if (unit.report && unit.report->key.lease_id == record.key.lease_id) {
        return unit.report->kv_active_blocks == record.kv_active_blocks &&
               unit.report->request_active_slots == record.request_active_slots;
      }
    }
    return false;
  });
  EXPECT_TRUE(published) << "the collector never published the record";
}

// A record of KV blocks `used` of 100 (and, with a slot total, request slots).
inline dynamo::WorkerLoad Record(uint64_t lease, uint64_t used, uint64_t slots_used = 0,
                                 uint64_t slots_total = 0, uint64_t waiting = 0) {
  dynamo::WorkerLoad record;
  record.key = {lease, std::nullopt};
  record.kv_active_blocks = used;
  record.kv_total_blocks = 100;
  record.request_active_slots = slots_used;
  record.request_total_slots = slots_total;
  record.num_requests_waiting = waiting;
  return record;
}

}  // namespace mk::recording::testing

#endif  // METRICS_KEDA_RECORDING_RECORDER_TEST_UTIL_H_
