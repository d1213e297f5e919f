#include "recording/rotating_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "recording/recorder_test_util.h"

namespace mk::recording {
namespace {

namespace fs = std::filesystem;

class RotatingFileTest : public testing::ScratchDirTest {
 protected:
  RotatingFileSettings Settings() const {
    return {.path = (dir_ / "fleet.csv.gz").string(), .header = "time,unit\n"};
  }
  static std::string Text(const std::string& path) {
    absl::StatusOr<FileText> read = ReadMaybeGzipFile(path, 1 << 20);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? read->text : "";
  }
};

TEST_F(RotatingFileTest, EachAppendIsReadableBeforeTheFileEnds) {
  RotatingGzipFile file(Settings());
  ASSERT_TRUE(file.Open().ok());
  ASSERT_TRUE(file.Append("1,a\n2,a\n", 2).ok());
  // The writer still has the file open: what it appended is there already.
  absl::StatusOr<FileText> read = ReadMaybeGzipFile(Settings().path, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->text, "time,unit\n1,a\n2,a\n");
  EXPECT_TRUE(read->truncated);
  ASSERT_TRUE(file.Append("3,a\n", 1).ok());
  EXPECT_EQ(Text(Settings().path), "time,unit\n1,a\n2,a\n3,a\n");
  EXPECT_EQ(file.counters().rows, 3u);
  EXPECT_EQ(file.counters().bytes, fs::file_size(Settings().path));
}

TEST_F(RotatingFileTest, AFinishedFileIsPlainGzip) {
  {
    RotatingGzipFile file(Settings());
    ASSERT_TRUE(file.Open().ok());
    ASSERT_TRUE(file.Append("1,a\n", 1).ok());
  }
  absl::StatusOr<FileText> read = ReadMaybeGzipFile(Settings().path, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_FALSE(read->truncated);
  // What zcat, pandas and duckdb read: the system's gzip agrees.
  if (std::system("command -v gzip >/dev/null 2>&1") != 0) GTEST_SKIP() << "no gzip";
  const std::string out = (dir_ / "zcat.txt").string();
  ASSERT_EQ(std::system(("gzip -dc < '" + Settings().path + "' > '" + out + "'").c_str()), 0);
  std::ifstream text(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(text), {}), "time,unit\n1,a\n");
}

TEST_F(RotatingFileTest, RotatesAtTheSizeAndKeepsTheNewestFiles) {
  RotatingFileSettings settings = Settings();
  settings.max_bytes = 1;  // every append fills a file
  settings.keep = 2;
  RotatingGzipFile file(settings);
  ASSERT_TRUE(file.Open().ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(file.Append(std::to_string(i) + ",a\n", 1).ok());
  }
  EXPECT_EQ(file.counters().rotations, 5u);
  // Each file has its own header and its own gzip stream; .1 is the newest.
  EXPECT_EQ(Text(settings.path), "time,unit\n");
  EXPECT_EQ(Text(settings.path + ".1"), "time,unit\n5,a\n");
  EXPECT_EQ(Text(settings.path + ".2"), "time,unit\n4,a\n");
  EXPECT_FALSE(fs::exists(settings.path + ".3"));
}

TEST_F(RotatingFileTest, RotatesBeforeReplaysLimitsArePassed) {
  RotatingFileSettings settings = Settings();
  settings.max_rows = 2;
  RotatingGzipFile file(settings);
  ASSERT_TRUE(file.Open().ok());
  ASSERT_TRUE(file.Append("1,a\n", 1).ok());
  ASSERT_TRUE(file.Append("2,a\n", 1).ok());
  ASSERT_TRUE(file.Append("3,a\n", 1).ok());
  EXPECT_EQ(Text(settings.path + ".1"), "time,unit\n1,a\n2,a\n");
  EXPECT_EQ(Text(settings.path), "time,unit\n3,a\n");

  settings.path = (dir_ / "text.csv.gz").string();
  settings.max_rows = 100;
  settings.max_text_bytes = 20;  // the header and one row
  RotatingGzipFile by_text(settings);
  ASSERT_TRUE(by_text.Open().ok());
  ASSERT_TRUE(by_text.Append("1,a\n", 1).ok());
  ASSERT_TRUE(by_text.Append("2,abcdef\n", 1).ok());
  EXPECT_EQ(by_text.counters().rotations, 1u);
}

TEST_F(RotatingFileTest, WithNothingKeptOnlyTheCurrentFileRemains) {
  RotatingFileSettings settings = Settings();
  settings.max_bytes = 1;
  settings.keep = 0;
  RotatingGzipFile file(settings);
  ASSERT_TRUE(file.Open().ok());
  ASSERT_TRUE(file.Append("1,a\n", 1).ok());
  ASSERT_TRUE(file.Append("2,a\n", 1).ok());
  EXPECT_EQ(Text(settings.path), "time,unit\n");
  EXPECT_FALSE(fs::exists(settings.path + ".1"));
}

// A restart never appends to the last run's file: it is rotated away whole.
TEST_F(RotatingFileTest, AFileFoundAtStartIsRotatedAway) {
  {
    RotatingGzipFile first(Settings());
    ASSERT_TRUE(first.Open().ok());
    ASSERT_TRUE(first.Append("1,a\n", 1).ok());
  }
  RotatingGzipFile second(Settings());
  ASSERT_TRUE(second.Open().ok());
  ASSERT_TRUE(second.Append("2,b\n", 1).ok());
  EXPECT_EQ(Text(Settings().path + ".1"), "time,unit\n1,a\n");
  EXPECT_EQ(Text(Settings().path), "time,unit\n2,b\n");
  EXPECT_EQ(second.counters().rotations, 0u);
}

TEST_F(RotatingFileTest, AFileThatCannotBeOpenedSaysWhere) {
  RotatingFileSettings settings = Settings();
  settings.path = (dir_ / "no" / "such" / "dir.csv.gz").string();
  RotatingGzipFile file(settings);
  const absl::Status status = file.Open();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(settings.path), std::string::npos) << status;
  // Appends fail the same way, and succeed once the directory is there.
  EXPECT_FALSE(file.Append("1,a\n", 1).ok());
  fs::create_directories(dir_ / "no" / "such");
  EXPECT_TRUE(file.Append("2,a\n", 1).ok());
  EXPECT_EQ(Text(settings.path), "time,unit\n2,a\n");
}

}  // namespace
}  // namespace mk::recording
