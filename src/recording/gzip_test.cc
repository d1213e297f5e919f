#include "recording/gzip.h"

#include <gtest/gtest.h>

#include <fstream>

namespace mk::recording {
namespace {

std::string Compressed(const std::vector<std::string>& parts, bool finish) {
  GzipEncoder encoder;
  std::string out;
  for (const std::string& part : parts) {
    EXPECT_TRUE(encoder.Write(part, true, out).ok());
  }
  if (finish) {
    EXPECT_TRUE(encoder.Finish(out).ok());
  }
  return out;
}

TEST(GzipTest, WrittenTextReadsBack) {
  const std::string bytes = Compressed({"time,load\n", "0,0.5\n", "1,0.75\n"}, true);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x1f);  // gzip's magic bytes
  EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0x8b);
  absl::StatusOr<FileText> read = DecodeMaybeGzip(bytes, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->text, "time,load\n0,0.5\n1,0.75\n");
  EXPECT_TRUE(read->gzip);
  EXPECT_FALSE(read->truncated);
}

// A process killed before the stream's end leaves every synced write readable.
TEST(GzipTest, ASyncedStreamWithoutItsEndReadsToTheLastSync) {
  const std::string bytes = Compressed({"a,b\n", "1,2\n"}, false);
  absl::StatusOr<FileText> read = DecodeMaybeGzip(bytes, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->text, "a,b\n1,2\n");
  EXPECT_TRUE(read->truncated);
  // Cut anywhere: what was complete is kept, and it is said to be cut short.
  for (size_t cut = 10; cut < bytes.size(); ++cut) {
    absl::StatusOr<FileText> partial = DecodeMaybeGzip(bytes.substr(0, cut), 1 << 20);
    ASSERT_TRUE(partial.ok()) << cut << ": " << partial.status();
    EXPECT_TRUE(partial->truncated);
    EXPECT_TRUE(std::string("a,b\n1,2\n").starts_with(partial->text)) << partial->text;
  }
}

TEST(GzipTest, PlainTextPassesAsItIs) {
  absl::StatusOr<FileText> read = DecodeMaybeGzip("time,load\n0,1\n", 100);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->text, "time,load\n0,1\n");
  EXPECT_FALSE(read->gzip);
  EXPECT_FALSE(read->truncated);
}

TEST(GzipTest, EveryMemberOfAMultiMemberFileIsRead) {
  const std::string bytes = Compressed({"one\n"}, true) + Compressed({"two\n"}, true);
  absl::StatusOr<FileText> read = DecodeMaybeGzip(bytes, 100);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->text, "one\ntwo\n");
  EXPECT_FALSE(read->truncated);
}

// A small file that would decompress to a lot is refused at the limit, not held.
TEST(GzipTest, TextBeyondTheLimitIsRefused) {
  const std::string bomb = Compressed({std::string(8 << 20, '0')}, true);
  EXPECT_LT(bomb.size(), 64u << 10);
  absl::StatusOr<FileText> read = DecodeMaybeGzip(bomb, 1 << 20);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kResourceExhausted) << read.status();
  EXPECT_EQ(DecodeMaybeGzip(std::string(101, 'x'), 100).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(DecodeMaybeGzip(std::string(100, 'x'), 100).ok());
}

TEST(GzipTest, CorruptGzipIsDataLoss) {
  std::string bytes = Compressed({"time,load\n0,0.5\n"}, true);
  bytes[12] = static_cast<char>(bytes[12] ^ 0x55);
  bytes[13] = static_cast<char>(bytes[13] ^ 0x55);
  EXPECT_EQ(DecodeMaybeGzip(bytes, 100).status().code(), absl::StatusCode::kDataLoss);
  // Garbage after a member's end.
  EXPECT_EQ(DecodeMaybeGzip(Compressed({"x\n"}, true) + "junk", 100).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeMaybeGzip("\x1f\x8b\x08\xff\xff\xff\xff\xff", 100).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(GzipTest, FilesAreReadTheSameWay) {
  const std::string path = ::testing::TempDir() + "/gzip_test_file.csv.gz";
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << Compressed({"time,load\n", "0,0.5\n"}, true);
  }
  absl::StatusOr<FileText> read = ReadMaybeGzipFile(path, 1 << 20);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->text, "time,load\n0,0.5\n");
  EXPECT_EQ(ReadMaybeGzipFile(path, 8).status().code(), absl::StatusCode::kResourceExhausted);
  absl::StatusOr<FileText> missing = ReadMaybeGzipFile(path + ".missing", 100);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path + ".missing"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mk::recording
