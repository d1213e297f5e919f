#include "replay/trace_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mk::replay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::vector<std::string>> AllRows(CsvRows& rows) {
  std::vector<std::vector<std::string>> all;
  while (true) {
    absl::StatusOr<const std::vector<std::string>*> row = rows.Next();
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || *row == nullptr) return all;
    all.push_back(**row);
  }
}

TEST(CsvRowsTest, ReadsWhatSpreadsheetsAndPandasWrite) {
  CsvRows rows("trace.csv",
               "\xEF\xBB\xBF"
               "time, load ,\"a \"\"b\"\"\"\r\n"
               "\r\n"
               "0,0.5,\"x,y\"\r\n"
               "  1 ,,  \n",
               false, 100);
  absl::StatusOr<std::vector<std::string>> header = rows.Header();
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_THAT(*header, ElementsAre("time", "load", "a \"b\""));
  EXPECT_THAT(AllRows(rows), ElementsAre(ElementsAre("0", "0.5", "x,y"), ElementsAre("1", "", "")));
  EXPECT_EQ(rows.line(), 4u);
}

TEST(CsvRowsTest, BadRowsNameTheirLine) {
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"", "trace.csv: empty: no header row"},
      {"time,time\n", "line 1: the header names column \"time\" twice"},
      {"time,load\n0,1\n1\n", "line 3: 1 cells where the header has 2"},
      {"time,load\n0,1,2\n", "line 2: 3 cells where the header has 2"},
      {"time,load\n0,\"1\n", "line 2: a quoted cell is not closed on its line"},
      {"time,load\n0,\"1\"x\n", "line 2: text after a quoted cell"},
  };
  for (const Case& c : cases) {
    CsvRows rows("trace.csv", c.text, false, 100);
    absl::Status status = rows.Header().status();
    while (status.ok()) {
      absl::StatusOr<const std::vector<std::string>*> row = rows.Next();
      status = row.status();
      if (status.ok() && *row == nullptr) break;
    }
    EXPECT_THAT(status.message(), HasSubstr(c.error)) << c.text;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
  }
}

TEST(CsvRowsTest, RowsBeyondTheLimitAreRefused) {
  CsvRows rows("trace.csv", "time\n1\n2\n3\n", false, 2);
  ASSERT_TRUE(rows.Header().ok());
  ASSERT_TRUE(rows.Next().ok());
  ASSERT_TRUE(rows.Next().ok());
  EXPECT_THAT(rows.Next().status().message(), HasSubstr("line 4: more than 2 rows"));
}

// A file cut short (a killed recorder) loses its half-written last line, not its
// readability.
TEST(CsvRowsTest, ACutShortTextLosesItsLastPartialLine) {
  CsvRows rows("trace.csv", "time,load\n0,1\n1,0.", true, 100);
  ASSERT_TRUE(rows.Header().ok());
  EXPECT_THAT(AllRows(rows), ElementsAre(ElementsAre("0", "1")));
  CsvRows whole("trace.csv", "time,load\n0,1\n1,0.", false, 100);
  ASSERT_TRUE(whole.Header().ok());
  EXPECT_THAT(AllRows(whole), ElementsAre(ElementsAre("0", "1"), ElementsAre("1", "0.")));
}

TEST(NumberCellTest, EmptyAndNanAreNoValueNeverZero) {
  EXPECT_EQ(NumberCell("").value, std::nullopt);
  EXPECT_EQ(NumberCell("NaN").value, std::nullopt);
  EXPECT_EQ(NumberCell("nan").value, std::nullopt);
  EXPECT_EQ(NumberCell("NaN").error, "");
  EXPECT_EQ(NumberCell("0").value, 0.0);
  EXPECT_EQ(NumberCell("1.5e2").value, 150.0);
  EXPECT_EQ(NumberCell("-0.25").value, -0.25);
  for (const char* bad : {"inf", "+Inf", "0x10", "1,5", "one", "1e999"}) {
    EXPECT_THAT(NumberCell(bad).error, HasSubstr("is not a number")) << bad;
    EXPECT_EQ(NumberCell(bad).value, std::nullopt) << bad;
  }
}

TEST(ParseTimeTest, SecondsOrRfc3339) {
  EXPECT_EQ(ParseTime("12.5")->seconds, 12.5);
  EXPECT_FALSE(ParseTime("12.5")->rfc3339);
  EXPECT_EQ(ParseTime("1767225600.250")->seconds, 1767225600.25);
  EXPECT_EQ(ParseTime("2026-01-01T00:00:00Z")->seconds, 1767225600);
  EXPECT_TRUE(ParseTime("2026-01-01T00:00:00Z")->rfc3339);
  EXPECT_EQ(ParseTime("2026-01-01T01:00:00.5+01:00")->seconds, 1767225600.5);
  EXPECT_EQ(ParseTime("2026-01-01 00:00:01+00:00")->seconds, 1767225601);  // pandas
  EXPECT_EQ(ParseTime("2026-01-01T00:00:02")->seconds, 1767225602);        // no offset: UTC
  for (const char* bad :
       {"", "yesterday", "2026-13-01T00:00:00Z", "infinite-future", "1e999", "12:00"}) {
    EXPECT_FALSE(ParseTime(bad)) << bad;
  }
}

TEST(StartAtZeroTest, TimesBecomeRelativeToTheFirst) {
  std::vector<TraceSample> samples(3);
  samples[0].time = 1767225600;
  samples[1].time = 1767225615.5;
  samples[2].time = 1767225630;
  StartAtZero(samples);
  EXPECT_EQ(samples[0].time, 0);
  EXPECT_EQ(samples[1].time, 15.5);
  EXPECT_EQ(samples[2].time, 30);
}

}  // namespace
}  // namespace mk::replay
