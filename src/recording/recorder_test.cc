#include "recording/recorder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "recording/gzip.h"
#include "recording/recorder_test_util.h"

namespace mk::recording {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class RecorderTest : public testing::ScratchDirTest {
 protected:
  RecorderSettings Settings() const {
    RecorderSettings settings;
    settings.path = (dir_ / "fleet.csv.gz").string();
    settings.throttle.interval = 200ms;
    settings.throttle.stale_after = 1h;
    return settings;
  }

  static void Publish(fleet::Collector& collector, uint64_t lease, uint64_t used) {
    testing::Publish(collector, testing::Record(lease, used));
  }

  // The file's rows after the header, each as its cells.
  static std::vector<std::vector<std::string>> Rows(const std::string& path) {
    absl::StatusOr<FileText> read = ReadMaybeGzipFile(path, 1 << 20);
    EXPECT_TRUE(read.ok()) << read.status();
    std::vector<std::vector<std::string>> rows;
    std::istringstream lines(read.ok() ? read->text : "");
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(line + "\n", HeaderRow());
    while (std::getline(lines, line)) {
      std::vector<std::string>& cells = rows.emplace_back();
      size_t start = 0;
      while (start <= line.size()) {
        const size_t comma = std::min(line.find(',', start), line.size());
        cells.push_back(line.substr(start, comma - start));
        start = comma + 1;
      }
    }
    return rows;
  }
  static const std::string& Cell(const std::vector<std::string>& row, Column column) {
    return row[static_cast<size_t>(column)];
  }
};

// A burst of snapshots is recorded as its first and, at the interval's end, its
// latest; the collector's thread never waits for the file.
TEST_F(RecorderTest, RecordsTheFirstAndTheLatestOfABurst) {
  auto collector = testing::QuietCollector("backend");
  {
    absl::StatusOr<std::unique_ptr<Recorder>> recorder = Recorder::Start(Settings());
    ASSERT_TRUE(recorder.ok()) << recorder.status();
    (*recorder)->Watch(*collector);
    const auto before = std::chrono::system_clock::now();
    for (uint64_t used = 10; used <= 50; used += 10) Publish(*collector, 0xa1, used);
    // Past the interval: the held latest goes out without another snapshot.
    EXPECT_TRUE(testing::WaitFor([&] { return (*recorder)->Stats().snapshots == 2; }));
    const RecorderStats stats = (*recorder)->Stats();
    EXPECT_EQ(stats.snapshots, 2u);
    EXPECT_EQ(stats.rows, 4u);
    EXPECT_EQ(stats.dropped, 0u);
    EXPECT_EQ(stats.errors, 0u);
    EXPECT_GT(stats.bytes, 0u);

    const auto rows = Rows(Settings().path);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(Cell(rows[0], Column::kUnit), "*");
    EXPECT_EQ(Cell(rows[0], Column::kLoadAvg), "0.1");
    EXPECT_EQ(Cell(rows[1], Column::kUnit), "a1");
    EXPECT_EQ(Cell(rows[1], Column::kKvUsed), "10");
    EXPECT_EQ(Cell(rows[3], Column::kKvUsed), "50");
    EXPECT_EQ(Cell(rows[2], Column::kLoadAvg), "0.5");
    // Wall-clock times, in milliseconds, not going back.
    const double first = std::stod(Cell(rows[0], Column::kTime));
    const double second = std::stod(Cell(rows[2], Column::kTime));
    EXPECT_LE(second - first, 5.0);
    EXPECT_GE(second, first);
    EXPECT_NEAR(first, std::chrono::duration<double>(before.time_since_epoch()).count(), 5.0);
  }
  // The recorder's end finishes the file: a complete gzip stream.
  absl::StatusOr<FileText> read = ReadMaybeGzipFile(Settings().path, 1 << 20);
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->truncated);
}

TEST_F(RecorderTest, EveryTargetIsRecordedUntilItsCollectorGoes) {
  auto backend = testing::QuietCollector("backend");
  auto prefill = testing::QuietCollector("prefill");
  absl::StatusOr<std::unique_ptr<Recorder>> recorder = Recorder::Start(Settings());
  ASSERT_TRUE(recorder.ok());
  (*recorder)->Watch(*backend);
  (*recorder)->Watch(*prefill);
  Publish(*backend, 0xa1, 10);
  Publish(*prefill, 0xb1, 20);
  Publish(*prefill, 0xb1, 30);  // held until the interval ends...
  prefill.reset();              // ...or the collector goes
  recorder->reset();
  std::vector<std::string> components;
  for (const auto& row : Rows(Settings().path)) {
    if (Cell(row, Column::kUnit) != "*") {
      components.push_back(Cell(row, Column::kComponent) + "=" + Cell(row, Column::kKvUsed));
    }
  }
  EXPECT_EQ(components, (std::vector<std::string>{"backend=10", "prefill=20", "prefill=30"}));
}

// A target silent past the staleness bound is recorded as unavailable, so that replay
// never reads an outage as the last load standing.
TEST_F(RecorderTest, AnOutageIsRecorded) {
  RecorderSettings settings = Settings();
  settings.throttle.stale_after = 100ms;
  auto collector = testing::QuietCollector("backend");
  absl::StatusOr<std::unique_ptr<Recorder>> recorder = Recorder::Start(settings);
  ASSERT_TRUE(recorder.ok());
  (*recorder)->Watch(*collector);
  Publish(*collector, 0xa1, 10);
  EXPECT_TRUE(testing::WaitFor([&] { return (*recorder)->Stats().snapshots == 2; }));
  recorder->reset();
  const auto rows = Rows(settings.path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(Cell(rows[2], Column::kUnit), "*");
  EXPECT_EQ(Cell(rows[2], Column::kState), "unavailable");
  const double heard = std::stod(Cell(rows[0], Column::kTime));
  EXPECT_NEAR(std::stod(Cell(rows[2], Column::kTime)) - heard, 0.1, 0.0015);
}

TEST_F(RecorderTest, AnUnwritableFileIsRefusedAtStart) {
  RecorderSettings settings = Settings();
  settings.path = (dir_ / "missing" / "fleet.csv.gz").string();
  absl::StatusOr<std::unique_ptr<Recorder>> recorder = Recorder::Start(settings);
  EXPECT_FALSE(recorder.ok());
  EXPECT_NE(recorder.status().message().find(settings.path), std::string::npos);
}

// Errors after start are logged, counted and retried with the next snapshot, never
// fatal.
TEST_F(RecorderTest, WriteErrorsAreCountedAndRetried) {
  RecorderSettings settings = Settings();
  settings.max_bytes = 1;  // a new file after every snapshot
  settings.throttle.interval = 1ms;
  auto collector = testing::QuietCollector("backend");
  absl::StatusOr<std::unique_ptr<Recorder>> recorder = Recorder::Start(settings);
  ASSERT_TRUE(recorder.ok());
  (*recorder)->Watch(*collector);
  auto wait_for = [&](auto done) {
    EXPECT_TRUE(testing::WaitFor([&] { return done((*recorder)->Stats()); }));
  };
  Publish(*collector, 0xa1, 10);
  wait_for([](const RecorderStats& stats) { return stats.snapshots == 1; });
  // The directory goes: the snapshot after the next cannot start a file.
  fs::remove_all(dir_);
  Publish(*collector, 0xa1, 20);
  wait_for([](const RecorderStats& stats) { return stats.errors == 1; });
  Publish(*collector, 0xa1, 30);
  wait_for([](const RecorderStats& stats) { return stats.errors == 2; });
  fs::create_directories(dir_);
  Publish(*collector, 0xa1, 40);
  wait_for([](const RecorderStats& stats) { return stats.snapshots == 3; });
  const RecorderStats stats = (*recorder)->Stats();
  EXPECT_EQ(stats.errors, 2u);
  EXPECT_EQ(stats.snapshots, 3u);  // 10, 20 (before its rotation failed), 40
  EXPECT_EQ(stats.rows, 6u);
  recorder->reset();
  const auto rows = Rows(settings.path + ".1");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(Cell(rows[1], Column::kKvUsed), "40");
}

}  // namespace
}  // namespace mk::recording
