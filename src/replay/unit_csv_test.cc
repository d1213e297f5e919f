// The per-unit trace reader: hand-written files, the recorder's own recordings (one
// made here by the recorder, one committed), and bad inputs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "recording/recorder.h"
#include "recording/recorder_test_util.h"
#include "replay/trace_readers.h"
#include "replay/trace_test_util.h"

namespace mk::replay {
namespace {

namespace fs = std::filesystem;
using testing::DataPaths;
using testing::Demands;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using testing::Times;

absl::StatusOr<Trace> Read(const std::vector<std::string>& files, UnitCsvOptions options = {}) {
  return ReadUnitCsv(DataPaths(files), options);
}

absl::StatusOr<Trace> Parse(std::string_view text, UnitCsvOptions options = {}) {
  const std::string_view texts[] = {text};
  return ParseUnitCsv(texts, options);
}

TEST(UnitCsvTest, EachMomentsUnitsAreConvertedToDemand) {
  absl::StatusOr<Trace> trace = Read({"units_hand_written.csv"});
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Times(*trace), (std::vector<double>{0, 5, 10}));
  // 0: loads 0.5 (KV) and 0.25; 5: both full with 8 of 16 slots' worth waiting each;
  // 10: w1 says nothing, w2's 0.1 stands for both.
  EXPECT_THAT(Demands(*trace),
              ElementsAre(Optional(DoubleNear(0.75, 1e-12)), Optional(DoubleNear(3.0, 1e-12)),
                          Optional(DoubleNear(0.2, 1e-12))));
  EXPECT_EQ(trace->slots_per_unit, 16);
}

TEST(UnitCsvTest, ALoadColumnAloneIsTheUnitsLoad) {
  absl::StatusOr<Trace> trace = Read({"units_load_only.csv"});
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Times(*trace), (std::vector<double>{0, 30}));
  EXPECT_THAT(Demands(*trace),
              ElementsAre(Optional(DoubleNear(1.2, 1e-12)), Optional(DoubleNear(1.0, 1e-12))));
  EXPECT_EQ(trace->slots_per_unit, std::nullopt);
}

TEST(UnitCsvTest, BadCellsSayWhereAndWhat) {
  EXPECT_THAT(Read({"units_bad_count.csv"}).status().message(),
              HasSubstr("units_bad_count.csv: line 3: kv_used: \"2.5\" is not a whole count"));
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "empty: no header row"},
      {"time,kv_usage\n0,0.5\n", "line 1: the header names no `unit` column"},
      {"unit,kv_usage\nw,0.5\n", "line 1: the header names no `time` column"},
      {"time,unit,pod\n0,w,x\n", "the header names no `kv_usage` column (nor any other figure"},
      {"time,unit,kv_usage\n0,w,1.5\n", "line 2: kv_usage: \"1.5\" is not a fraction in [0, 1]"},
      {"time,unit,load\n0,w,-0.5\n", "line 2: load: \"-0.5\" is not a fraction in [0, 1]"},
      {"time,unit,waiting\n0,w,-1\n", "line 2: waiting: \"-1\" is not a whole count"},
      {"time,unit,waiting\n0,w,1e300\n", "line 2: waiting: \"1e300\" is not a whole count"},
      {"time,unit,load\n0,,0.5\n", "line 2: a row without a unit"},
      {"time,unit,load\n0,w,0.5\n0,w,0.5\n", "line 3: unit w twice at time 0"},
      {"time,unit,load\n5,w,0.5\n0,w,0.5\n", "line 3: time 0 goes back from 5"},
      {"time,unit,load,units\n0,*,,x\n", "line 2: units: \"x\" is not a number"},
      {"time,unit,load,units\n0,*,,-1\n", "line 2: units: \"-1\" is not a count of units"},
      {"time,unit,load\n0,*,\n0,*,\n", "line 3: a second fleet row (unit *) at one time"},
      {"time,unit,waiting\n0,w,1\n", "no unit row of the trace defines a load"},
      {"time,unit,load\n", "no rows after the header"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Trace> trace = Parse(c.text);
    EXPECT_FALSE(trace.ok()) << c.text;
    EXPECT_THAT(trace.status().message(), HasSubstr(c.error)) << c.text;
  }
}

// Units whose figures are unknown are taken to be as loaded as the known ones; with
// none known, or a fleet row saying the fleet could not be read, there is no demand.
TEST(UnitCsvTest, UnknownUnitsAndUnreadableFleets) {
  absl::StatusOr<Trace> trace = Parse(
      "time,unit,state,load,units\n"
      "0,*,reporting,,3\n"
      "0,a,reporting,0.5,1\n"
      "0,b,unreadable,,1\n"
      "0,c,pending,,1\n"
      "1,*,unreadable,,2\n"
      "1,a,unreadable,,1\n"
      "1,b,unreadable,,1\n"
      "2,*,pending,,1\n"
      "2,a,pending,,1\n"
      "3,*,reporting,,0\n"
      "4,*,unavailable,,\n"
      "5,*,reporting,,2\n"
      "5,a,reporting,0.25,1\n");  // cut short: b never came
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_THAT(Demands(*trace),
              ElementsAre(Optional(DoubleNear(1.5, 1e-12)), std::nullopt, std::nullopt,
                          Optional(0.0), std::nullopt, Optional(DoubleNear(0.5, 1e-12))));
}

TEST(UnitCsvTest, TheTargetIsChosenWhereThereAreSeveral) {
  const std::string text =
      "time,namespace,component,endpoint,unit,load\n"
      "0,dynamo,backend,generate,a,0.5\n"
      "0,dynamo,prefill,generate,p,0.25\n"
      "1,dynamo,prefill,generate,p,1\n"
      "1,dynamo,backend,generate,a,0.75\n";
  absl::StatusOr<Trace> none = Parse(text);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(),
              HasSubstr("2 targets: say which to read (dynamo/backend/generate, "
                        "dynamo/prefill/generate)"));
  absl::StatusOr<Trace> prefill = Parse(text, {.target = "dynamo/prefill/generate"});
  ASSERT_TRUE(prefill.ok()) << prefill.status();
  EXPECT_EQ(Demands(*prefill), (std::vector<std::optional<double>>{0.25, 1}));
  absl::StatusOr<Trace> other = Parse(text, {.target = "dynamo/decode/generate"});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(other.status().message(), HasSubstr("dynamo/decode/generate is not in the trace"));
}

TEST(UnitCsvTest, LimitsAreRefusedNotHeld) {
  const std::string text = "time,unit,load\n0,a,0.5\n1,a,0.5\n";
  EXPECT_TRUE(Parse(text, {.limits = {.max_bytes = 1 << 20, .max_rows = 2}}).ok());
  EXPECT_THAT(Parse(text, {.limits = {.max_bytes = 1 << 20, .max_rows = 1}}).status().message(),
              HasSubstr("line 3: more than 1 rows"));
  EXPECT_EQ(Parse(text, {.limits = {.max_bytes = 10, .max_rows = 2}}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// ---- the recorder's own files ----

class RecordingTest : public recording::testing::ScratchDirTest {
 protected:
  // Records two targets: backend's two units, then one of them busier and a third
  // unreadable, then silence past the staleness bound; prefill's one unit.
  void RecordFleet(const recording::RecorderSettings& settings) {
    using recording::testing::Publish;
    using recording::testing::Record;
    auto backend = recording::testing::QuietCollector("backend");
    auto prefill = recording::testing::QuietCollector("prefill");
    absl::StatusOr<std::unique_ptr<recording::Recorder>> recorder =
        recording::Recorder::Start(settings);
    ASSERT_TRUE(recorder.ok()) << recorder.status();
    (*recorder)->Watch(*backend);
    (*recorder)->Watch(*prefill);
    auto written = [&](uint64_t snapshots) {
      EXPECT_TRUE(
          recording::testing::WaitFor([&] { return (*recorder)->Stats().snapshots >= snapshots; }));
    };
    backend->ApplyLoadReport(Record(0xa1, 50, 4, 16, 0));
    Publish(*backend, Record(0xa2, 20, 2, 16, 4));
    written(1);
    std::this_thread::sleep_for(settings.throttle.interval);
    backend->RecordEventDrop(0xa3, 0, dynamo::DropReason::kMalformedMsgpack);
    Publish(*backend, Record(0xa1, 80));
    written(2);
    Publish(*prefill, Record(0xb1, 10));
    written(5);  // and both targets' silence
  }
};

recording::RecorderSettings Settings(const std::string& path) {
  recording::RecorderSettings settings;
  settings.path = path;
  settings.throttle.interval = std::chrono::milliseconds(20);
  settings.throttle.stale_after = std::chrono::milliseconds(200);
  return settings;
}

// The backend fleet: 0.5 + (0.2 + 4 of 16 slots waiting); then 0.8 and the same 0.45
// standing for three units, one unreadable; then no servable picture.
void ExpectBackend(const Trace& trace) {
  ASSERT_EQ(trace.samples.size(), 3u);
  EXPECT_THAT(Demands(trace), ElementsAre(Optional(DoubleNear(0.95, 1e-12)),
                                          Optional(DoubleNear(1.875, 1e-12)), std::nullopt));
  EXPECT_EQ(trace.samples[0].time, 0);
  EXPECT_GT(trace.samples[1].time, 0);
  EXPECT_LT(trace.samples[1].time, 5);
  EXPECT_NEAR(trace.samples[2].time - trace.samples[1].time, 0.2, 0.0015);
  EXPECT_EQ(trace.slots_per_unit, 16);
}

TEST_F(RecordingTest, ReplayReadsWhatTheRecorderWrote) {
  const std::string path = (dir_ / "fleet.csv.gz").string();
  RecordFleet(Settings(path));
  const std::vector<std::string> paths = {path};
  absl::StatusOr<Trace> none = ReadUnitCsv(paths);
  EXPECT_THAT(none.status().message(),
              HasSubstr("(dynamo/backend/generate, dynamo/prefill/generate)"));
  absl::StatusOr<Trace> backend = ReadUnitCsv(paths, {.target = "dynamo/backend/generate"});
  ASSERT_TRUE(backend.ok()) << backend.status();
  ExpectBackend(*backend);
  absl::StatusOr<Trace> prefill = ReadUnitCsv(paths, {.target = "dynamo/prefill/generate"});
  ASSERT_TRUE(prefill.ok()) << prefill.status();
  EXPECT_THAT(Demands(*prefill), ElementsAre(Optional(DoubleNear(0.1, 1e-12)), std::nullopt));
  // ReadTrace tells the format by itself.
  absl::StatusOr<Trace> any = ReadTrace(paths, {.target = "dynamo/backend/generate"});
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(Demands(*any), Demands(*backend));
}

// A rotated set is read whole, whatever order its files are given in.
TEST_F(RecordingTest, ARotatedSetIsReadWhole) {
  const std::string path = (dir_ / "fleet.csv.gz").string();
  recording::RecorderSettings settings = Settings(path);
  settings.max_bytes = 1;  // a file per snapshot
  settings.keep = 10;
  RecordFleet(settings);
  std::vector<std::string> paths = {path};
  for (int n = 1; fs::exists(path + "." + std::to_string(n)); ++n) {
    paths.push_back(path + "." + std::to_string(n));
  }
  EXPECT_GE(paths.size(), 6u);
  absl::StatusOr<Trace> backend = ReadUnitCsv(paths, {.target = "dynamo/backend/generate"});
  ASSERT_TRUE(backend.ok()) << backend.status();
  ExpectBackend(*backend);
  // The same file twice overlaps itself: not one recording.
  paths.push_back(paths.back());
  EXPECT_THAT(ReadUnitCsv(paths, {.target = "dynamo/backend/generate"}).status().message(),
              HasSubstr("overlap in time"));
}

// A recording made by the recorder and kept: dynamo/backend/generate as above.
TEST(CommittedRecordingTest, Reads) {
  absl::StatusOr<Trace> backend = Read({"recording.csv.gz"}, {.target = "dynamo/backend/generate"});
  ASSERT_TRUE(backend.ok()) << backend.status();
  ExpectBackend(*backend);
}

}  // namespace
}  // namespace mk::replay
