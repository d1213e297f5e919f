// The time,load trace reader, on the files of tests/data/replay/ and texts at hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "recording/gzip.h"
#include "replay/trace_readers.h"
#include "replay/trace_test_util.h"

namespace mk::replay {
namespace {

using testing::DataPath;
using testing::Demands;
using ::testing::HasSubstr;
using testing::Times;

TEST(LoadCsvTest, RelativeSecondsWithAnotherTriggersColumn) {
  absl::StatusOr<Trace> trace = ReadLoadCsv(DataPath("load_relative.csv"));
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Times(*trace), (std::vector<double>{0, 10, 20, 35}));
  // NaN is no value at that moment: an error there, never an idle fleet.
  EXPECT_EQ(Demands(*trace), (std::vector<std::optional<double>>{0.5, 1.25, std::nullopt, 2}));
  ASSERT_EQ(trace->samples[0].columns.size(), 1u);
  EXPECT_EQ(trace->samples[0].columns.at("queue_depth"), 3);
  EXPECT_EQ(trace->samples[1].columns.at("queue_depth"), std::nullopt);
  EXPECT_EQ(trace->samples[2].columns.at("queue_depth"), 7);
  EXPECT_EQ(trace->samples[3].columns.at("queue_depth"), 0);
  EXPECT_EQ(trace->slots_per_unit, std::nullopt);
}

// A gzip stream without its end (a writer killed, a copy cut short) is read up to
// its last whole row, and the trace says so.
TEST(LoadCsvTest, ACutShortGzipStreamIsReadToItsLastWholeRowWithAWarning) {
  recording::GzipEncoder encoder;
  std::string bytes;
  ASSERT_TRUE(encoder.Write("time,load\n0,1\n1,0.5\n2,0.", /*sync=*/true, bytes).ok());
  absl::StatusOr<Trace> cut = ParseLoadCsv(bytes);
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_EQ(Times(*cut), (std::vector<double>{0, 1}));
  ASSERT_EQ(cut->warnings.size(), 1u);
  EXPECT_THAT(cut->warnings[0], HasSubstr("cut short"));

  ASSERT_TRUE(encoder.Write("25\n", /*sync=*/false, bytes).ok());
  ASSERT_TRUE(encoder.Finish(bytes).ok());
  absl::StatusOr<Trace> whole = ParseLoadCsv(bytes);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(Times(*whole), (std::vector<double>{0, 1, 2}));
  EXPECT_TRUE(whole->warnings.empty());
}

TEST(LoadCsvTest, Rfc3339TimestampsStartAtZero) {
  absl::StatusOr<Trace> trace = ReadLoadCsv(DataPath("load_rfc3339.csv"));
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Times(*trace), (std::vector<double>{0, 15.5, 30}));
  EXPECT_EQ(Demands(*trace), (std::vector<std::optional<double>>{1, 1.5, 0.25}));
}

TEST(LoadCsvTest, GzipCompressedEpochSeconds) {
  absl::StatusOr<Trace> trace = ReadLoadCsv(DataPath("load_epoch.csv.gz"));
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Times(*trace), (std::vector<double>{0, 1.5, 3}));
  EXPECT_EQ(Demands(*trace), (std::vector<std::optional<double>>{0.5, 0.75, 1}));
}

TEST(LoadCsvTest, BadFilesSayWhereAndWhat) {
  absl::StatusOr<Trace> back = ReadLoadCsv(DataPath("load_times_back.csv"));
  EXPECT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(back.status().message(), HasSubstr("load_times_back.csv: line 4: time 5 does not "
                                                 "follow 10: times must strictly increase"));
  EXPECT_THAT(ReadLoadCsv(DataPath("load_negative.csv")).status().message(),
              HasSubstr("load_negative.csv: line 3: load: negative: -1"));
  absl::StatusOr<Trace> missing = ReadLoadCsv(DataPath("no_such_file.csv"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no_such_file.csv"));
}

TEST(LoadCsvTest, BadTextsSayWhereAndWhat) {
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "empty: no header row"},
      {"t,load\n0,1\n", "line 1: the header names no `time` column"},
      {"time,demand\n0,1\n", "line 1: the header names no `load` column"},
      {"time,load\n", "no rows after the header"},
      {"time,load\n0,1\n0,1\n", "line 3: time 0 does not follow 0"},
      {"time,load\nnow,1\n", "line 2: time \"now\" is neither seconds nor an RFC 3339 timestamp"},
      {"time,load\n0,1\n2026-01-05T14:00:00Z,1\n",
       "line 3: time \"2026-01-05T14:00:00Z\": the "
       "trace mixes seconds and RFC 3339 timestamps"},
      {"time,load\n0,high\n", "line 2: load: \"high\" is not a number"},
      {"time,load\n0,inf\n", "line 2: load: \"inf\" is not a number"},
      {"time,load,other\n0,1,x\n", "line 2: other: \"x\" is not a number"},
      {"time,load\n0,1,2\n", "line 2: 3 cells where the header has 2"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Trace> trace = ParseLoadCsv(c.text);
    EXPECT_FALSE(trace.ok()) << c.text;
    EXPECT_THAT(trace.status().message(), HasSubstr("text 1: "));
    EXPECT_THAT(trace.status().message(), HasSubstr(c.error)) << c.text;
  }
}

TEST(LoadCsvTest, LimitsAreRefusedNotHeld) {
  const std::string text = "time,load\n0,1\n1,1\n2,1\n";
  EXPECT_TRUE(ParseLoadCsv(text, {.max_bytes = text.size(), .max_rows = 3}).ok());
  EXPECT_EQ(ParseLoadCsv(text, {.max_bytes = text.size() - 1, .max_rows = 3}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(ParseLoadCsv(text, {.max_bytes = 1 << 20, .max_rows = 2}).status().message(),
              HasSubstr("line 4: more than 2 rows"));
}

// The unnamed index column pandas writes is no trigger's column.
TEST(LoadCsvTest, UnnamedColumnsAreIgnored) {
  absl::StatusOr<Trace> trace = ParseLoadCsv(",time,load\n0,0,0.5\n1,60,0.75\n");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Times(*trace), (std::vector<double>{0, 60}));
  EXPECT_TRUE(trace->samples[0].columns.empty());
}

}  // namespace
}  // namespace mk::replay
