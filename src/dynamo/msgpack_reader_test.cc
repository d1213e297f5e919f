#include "dynamo/msgpack_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "dynamo/event_test_util.h"

namespace mk::dynamo::mpk {
namespace {

using ::mk::dynamo::testing::FromHex;
using ::mk::dynamo::testing::Pack;
using ::mk::dynamo::testing::ReadHexFixture;

// The failure of unpacking `bytes`, which must fail.
Failure FailureOf(const std::string& bytes) {
  Failure failure;
  const std::optional<msgpack::object> object = Unpack(bytes, failure);
  EXPECT_FALSE(object.has_value()) << "unpacked " << bytes.size() << " bytes";
  return failure;
}

// `levels` arrays, each holding the next; the innermost is empty.
std::string NestedArrays(size_t levels) { return std::string(levels, '\x91') + '\x90'; }

TEST(MsgpackReaderTest, UnpacksAFixtureMapWithoutCopyingStrings) {
  const std::string bytes = ReadHexFixture("activeload_v2_worker.payload.hex");
  Failure failure;
  const std::optional<msgpack::object> object = Unpack(bytes, failure);
  ASSERT_TRUE(object.has_value()) << failure.detail;
  ASSERT_EQ(object->type, msgpack::type::MAP);
  ASSERT_EQ(object->via.map.size, 5u);
  const msgpack::object_kv& first = object->via.map.ptr[0];
  EXPECT_TRUE(KeyIs(first.key, "worker_id"));
  uint64_t worker_id = 0;
  EXPECT_EQ(ReadUnsigned(first.val, worker_id), std::nullopt);
  EXPECT_EQ(worker_id, 0x694d9a3f1e2b7c05u);
  // The key's text is the input's own bytes.
  const std::string_view key = StringOf(first.key);
  EXPECT_GE(key.data(), bytes.data());
  EXPECT_LT(key.data(), bytes.data() + bytes.size());
}

TEST(MsgpackReaderTest, EveryTruncationIsMalformed) {
  const std::string bytes = ReadHexFixture("envelope_fpm_dynamo_v1.hex");
  for (size_t size = 0; size < bytes.size(); ++size) {
    const Failure failure = FailureOf(bytes.substr(0, size));
    EXPECT_EQ(failure.reason, DropReason::kMalformedMsgpack) << "prefix of " << size << " bytes";
  }
}

TEST(MsgpackReaderTest, TrailingBytesAreMalformed) {
  const Failure failure = FailureOf(ReadHexFixture("activeload_v1_worker.payload.hex") + '\xc0');
  EXPECT_EQ(failure.reason, DropReason::kMalformedMsgpack);
  EXPECT_EQ(failure.detail, "bytes after the MessagePack value");
}

TEST(MsgpackReaderTest, TheNeverUsedByteIsMalformed) {
  const Failure failure = FailureOf(FromHex("81a178c1"));  // {"x": <0xc1>}
  EXPECT_EQ(failure.reason, DropReason::kMalformedMsgpack);
  EXPECT_EQ(failure.detail, "not MessagePack");
}

TEST(MsgpackReaderTest, NestingUpToTheDepthLimitIsRead) {
  Failure failure;
  EXPECT_TRUE(Unpack(NestedArrays(kMaxDepth - 1), failure).has_value()) << failure.detail;
}

TEST(MsgpackReaderTest, NestingBeyondTheDepthLimitIsOversized) {
  const Failure failure = FailureOf(NestedArrays(kMaxDepth));
  EXPECT_EQ(failure.reason, DropReason::kOversized);
  EXPECT_EQ(failure.detail, "MessagePack nested deeper than the limit");
}

TEST(MsgpackReaderTest, ADepthBombIsOversizedWithoutRecursing) {
  // A megabyte of one-element arrays, and of one-pair maps, each inside the last.
  EXPECT_EQ(FailureOf(NestedArrays(1 << 20)).reason, DropReason::kOversized);
  std::string maps;
  for (int i = 0; i < (1 << 19); ++i) maps += "\x81\xa1k";
  EXPECT_EQ(FailureOf(maps + '\xc0').reason, DropReason::kOversized);
}

TEST(MsgpackReaderTest, ContainersBeyondTheEntryLimitAreOversized) {
  // Declared sizes alone, with the entries present: kMaxEntries + 1 nils.
  const std::string nils(kMaxEntries + 1, '\xc0');
  Failure failure = FailureOf(Pack().Array(kMaxEntries + 1).Raw(nils).Bytes());
  EXPECT_EQ(failure.reason, DropReason::kOversized);
  EXPECT_EQ(failure.detail, "a MessagePack array beyond the entry limit");
  failure = FailureOf(Pack().Map(kMaxEntries + 1).Raw(nils).Raw(nils).Bytes());
  EXPECT_EQ(failure.reason, DropReason::kOversized);
  EXPECT_EQ(failure.detail, "a MessagePack map beyond the entry limit");
  // At the limit they are read.
  EXPECT_TRUE(Unpack(Pack().Array(kMaxEntries).Raw(nils.substr(1)).Bytes(), failure).has_value());
}

TEST(MsgpackReaderTest, HugeDeclaredContainerSizesAreRefusedBeforeAnyAllocation) {
  // array32 and map32 of 2^32 - 1 entries, in five bytes.
  EXPECT_EQ(FailureOf(FromHex("ddffffffff")).reason, DropReason::kOversized);
  EXPECT_EQ(FailureOf(FromHex("dfffffffff")).reason, DropReason::kOversized);
}

TEST(MsgpackReaderTest, EntriesDeclaredBeyondTheBytesPresentAreMalformed) {
  // An array of kMaxEntries arrays of kMaxEntries nils each, cut after the headers:
  // 771 bytes declaring 65,792 entries.
  std::string bytes = Pack().Array(kMaxEntries).Bytes();
  for (size_t i = 0; i < kMaxEntries; ++i) bytes += Pack().Array(kMaxEntries).Bytes();
  const Failure failure = FailureOf(bytes);
  EXPECT_EQ(failure.reason, DropReason::kMalformedMsgpack);
  EXPECT_EQ(failure.detail,
            "a MessagePack map or array declares more entries than there are bytes");
}

TEST(MsgpackReaderTest, HugeDeclaredStringAndBinaryLengthsAreTruncated) {
  for (const char* hex : {"dbffffffff41", "c6ffffffff41", "c9ffffffff0141"}) {
    const Failure failure = FailureOf(FromHex(hex));  // str32, bin32, ext32 of 4 GiB
    EXPECT_EQ(failure.reason, DropReason::kMalformedMsgpack) << hex;
    EXPECT_EQ(failure.detail, "truncated MessagePack") << hex;
  }
}

TEST(MsgpackReaderTest, StringsAndBinariesBeyondTheByteLimitAreOversized) {
  const std::string big(kMaxBytes + 1, 'x');
  EXPECT_EQ(FailureOf(Pack().Str(big).Bytes()).reason, DropReason::kOversized);
  EXPECT_EQ(FailureOf(Pack().Bin(big).Bytes()).reason, DropReason::kOversized);
  Failure failure;
  EXPECT_TRUE(Unpack(Pack().Bin(big.substr(1)).Bytes(), failure).has_value());
}

TEST(MsgpackReaderTest, EmptyInputIsMalformed) {
  EXPECT_EQ(FailureOf("").reason, DropReason::kMalformedMsgpack);
}

TEST(MsgpackReaderTest, UnpackingAgainReusesTheZoneAndGivesTheSameValue) {
  const std::string bytes = ReadHexFixture("fpm_dynamo_v1.payload.hex");
  Failure failure;
  for (int i = 0; i < 3; ++i) {
    const std::optional<msgpack::object> object = Unpack(bytes, failure);
    ASSERT_TRUE(object.has_value());
    ASSERT_EQ(object->type, msgpack::type::MAP);
    EXPECT_EQ(object->via.map.size, 7u);
    EXPECT_FALSE(Unpack("\xc1", failure).has_value());
  }
}

// The value of a one-value MessagePack text; the test fails when it does not unpack.
msgpack::object ValueOf(const std::string& bytes) {
  Failure failure;
  const std::optional<msgpack::object> object = Unpack(bytes, failure);
  EXPECT_TRUE(object.has_value()) << failure.detail;
  return object.value_or(msgpack::object());
}

TEST(MsgpackReaderTest, ReadUnsignedTakesNonNegativeIntegersOfAnyWidth) {
  uint64_t out = 0;
  EXPECT_EQ(ReadUnsigned(ValueOf(Pack().Unsigned(UINT64_MAX).Bytes()), out), std::nullopt);
  EXPECT_EQ(out, UINT64_MAX);
  // A signed encoding of a non-negative value (int8 5) is still a count.
  EXPECT_EQ(ReadUnsigned(ValueOf(FromHex("d005")), out), std::nullopt);
  EXPECT_EQ(out, 5u);
  EXPECT_EQ(ReadUnsigned(ValueOf(Pack().Signed(-1).Bytes()), out), DropReason::kWrongType);
  EXPECT_EQ(ReadUnsigned(ValueOf(Pack().Double(3.0).Bytes()), out), DropReason::kWrongType);
  EXPECT_EQ(ReadUnsigned(ValueOf(Pack().Str("3").Bytes()), out), DropReason::kWrongType);
  EXPECT_EQ(ReadUnsigned(ValueOf(Pack().Nil().Bytes()), out), DropReason::kWrongType);
}

TEST(MsgpackReaderTest, ReadOptionalUnsignedTakesNil) {
  std::optional<uint64_t> out = 7;
  EXPECT_EQ(ReadOptionalUnsigned(ValueOf(Pack().Nil().Bytes()), out), std::nullopt);
  EXPECT_EQ(out, std::nullopt);
  EXPECT_EQ(ReadOptionalUnsigned(ValueOf(Pack().Unsigned(9).Bytes()), out), std::nullopt);
  EXPECT_EQ(out, 9u);
  EXPECT_EQ(ReadOptionalUnsigned(ValueOf(Pack().Bool(true).Bytes()), out), DropReason::kWrongType);
}

TEST(MsgpackReaderTest, ReadRankRefusesValuesBeyond32Bits) {
  uint32_t out = 0;
  EXPECT_EQ(ReadRank(ValueOf(Pack().Unsigned(UINT32_MAX).Bytes()), out), std::nullopt);
  EXPECT_EQ(out, UINT32_MAX);
  EXPECT_EQ(ReadRank(ValueOf(Pack().Unsigned(uint64_t{UINT32_MAX} + 1).Bytes()), out),
            DropReason::kOutOfRange);
}

TEST(MsgpackReaderTest, ReadNumberTakesIntegersAndFiniteFloats) {
  double out = 0;
  EXPECT_EQ(ReadNumber(ValueOf(Pack().Double(2.5).Bytes()), out), std::nullopt);
  EXPECT_EQ(out, 2.5);
  EXPECT_EQ(ReadNumber(ValueOf(Pack().Signed(-4).Bytes()), out), std::nullopt);
  EXPECT_EQ(out, -4.0);
  EXPECT_EQ(ReadNumber(ValueOf(FromHex("ca3f800000")), out), std::nullopt);  // float32 1.0
  EXPECT_EQ(out, 1.0);
  EXPECT_EQ(ReadNumber(ValueOf(Pack().Double(std::nan("")).Bytes()), out), DropReason::kOutOfRange);
  EXPECT_EQ(ReadNumber(ValueOf(Pack().Double(-INFINITY).Bytes()), out), DropReason::kOutOfRange);
  EXPECT_EQ(ReadNumber(ValueOf(Pack().Str("1").Bytes()), out), DropReason::kWrongType);
}

}  // namespace
}  // namespace mk::dynamo::mpk
