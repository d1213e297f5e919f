#include "dynamo/event_envelope.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dynamo/event_test_util.h"

namespace mk::dynamo {
namespace {

using ::mk::dynamo::testing::FromHex;
using ::mk::dynamo::testing::Pack;
using ::mk::dynamo::testing::ReadHexFixture;

constexpr uint64_t kWorkerPublisher = 0x000f3a5c9e1d2b47;  // 4286294114773831
constexpr uint64_t kFpmPublisher = 0x0003c0ffee123457;     // 1056630373495895
constexpr uint64_t kRouterPublisher = 0x001a2b3c4d5e6f70;  // 7365887390543728

// An envelope map with the given fields, in order, each as (key, encoded value).
std::string Envelope(const testing::PackedFields& fields) { return testing::PackedMap(fields); }

std::vector<std::pair<std::string, std::string>> ValidFields() {
  return {{"publisher_id", Pack().Unsigned(5).Bytes()},
          {"sequence", Pack().Unsigned(6).Bytes()},
          {"published_at", Pack().Unsigned(1796040000000).Bytes()},
          {"topic", Pack().Str("kv_metrics").Bytes()},
          {"payload", Pack().Bin("\x80").Bytes()}};
}

std::vector<std::pair<std::string, std::string>> With(std::string_view key, std::string value) {
  auto fields = ValidFields();
  for (auto& field : fields) {
    if (field.first == key) field.second = std::move(value);
  }
  return fields;
}

std::vector<std::pair<std::string, std::string>> Without(std::string_view key) {
  auto fields = ValidFields();
  std::erase_if(fields, [&](const auto& field) { return field.first == key; });
  return fields;
}

// ---- Envelope fixtures -------------------------------------------------------

TEST(EventEnvelopeTest, WorkerActiveLoadFixture) {
  const std::string bytes = ReadHexFixture("envelope_activeload_v2_worker.hex");
  const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->publisher_id, kWorkerPublisher);
  EXPECT_EQ(decoded.record->sequence, 41u);
  EXPECT_EQ(decoded.record->published_at_ms, 1796040000123u);
  EXPECT_EQ(decoded.record->topic, "kv_metrics");
  EXPECT_EQ(decoded.record->payload, ReadHexFixture("activeload_v2_worker.payload.hex"));
  EXPECT_EQ(decoded.ignored.Total(), 0u);
  EXPECT_FALSE(decoded.unit.has_value());
}

TEST(EventEnvelopeTest, ForwardPassMetricsFixtureWithBin16Payload) {
  const std::string bytes = ReadHexFixture("envelope_fpm_dynamo_v1.hex");
  const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->publisher_id, kFpmPublisher);
  EXPECT_EQ(decoded.record->sequence, 1523u);
  EXPECT_EQ(decoded.record->published_at_ms, 1796040000132u);
  EXPECT_EQ(decoded.record->topic, "forward-pass-metrics");
  EXPECT_EQ(decoded.record->payload, ReadHexFixture("fpm_dynamo_v1.payload.hex"));
}

TEST(EventEnvelopeTest, NatsRouterBodyFixture) {
  const std::string bytes = ReadHexFixture("nats_activeload_v3_router.body.hex");
  const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->publisher_id, kRouterPublisher);
  EXPECT_LT(decoded.record->publisher_id, uint64_t{1} << 53);  // a random 53-bit id
  EXPECT_EQ(decoded.record->sequence, 7u);
  EXPECT_EQ(decoded.record->published_at_ms, 1796040000128u);
  EXPECT_EQ(decoded.record->topic, "kv_metrics");
  EXPECT_EQ(decoded.record->payload, ReadHexFixture("activeload_v3_router.payload.hex"));
}

TEST(EventEnvelopeTest, ViewsPointIntoTheBytesGiven) {
  const std::string bytes = ReadHexFixture("envelope_activeload_v2_worker.hex");
  const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_GE(decoded.record->payload.data(), bytes.data());
  EXPECT_EQ(decoded.record->payload.data() + decoded.record->payload.size(),
            bytes.data() + bytes.size());
}

// ---- Envelope rules ----------------------------------------------------------

TEST(EventEnvelopeTest, UnknownKeysAreIgnoredAndOrderDoesNotMatter) {
  auto fields = ValidFields();
  std::swap(fields[0], fields[4]);
  fields.insert(fields.begin() + 2, {"trace_context", Pack().Map(1).Str("a").Nil().Bytes()});
  fields.push_back({"headers", Pack().Array(2).Unsigned(1).Str("x").Bytes()});
  const std::string bytes = Envelope(fields);  // the views below point into it
  const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, (EventEnvelope{5, 6, 1796040000000, "kv_metrics", "\x80"}));
}

TEST(EventEnvelopeTest, EveryFieldIsRequired) {
  for (const auto& [key, detail] :
       std::vector<std::pair<std::string, std::string>>{{"publisher_id", "no publisher_id"},
                                                        {"sequence", "no sequence"},
                                                        {"published_at", "no published_at"},
                                                        {"topic", "no topic"},
                                                        {"payload", "no payload"}}) {
    const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(Envelope(Without(key)));
    EXPECT_FALSE(decoded.ok()) << key;
    EXPECT_EQ(decoded.reason, DropReason::kMissingField) << key;
    EXPECT_EQ(decoded.detail, detail);
  }
}

TEST(EventEnvelopeTest, FieldsOfTheWrongTypeAreDropped) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"publisher_id", Pack().Signed(-5).Bytes()},
      {"publisher_id", Pack().Str("5").Bytes()},
      {"sequence", Pack().Double(6.5).Bytes()},
      {"sequence", Pack().Nil().Bytes()},
      {"published_at", Pack().Signed(-1).Bytes()},
      {"topic", Pack().Bin("kv_metrics").Bytes()},
      {"topic", Pack().Unsigned(1).Bytes()},
      {"payload", Pack().Str("\x80").Bytes()},
      {"payload", Pack().Array(1).Unsigned(128).Bytes()},
      {"payload", Pack().Nil().Bytes()},
  };
  for (const auto& [key, value] : cases) {
    const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(Envelope(With(key, value)));
    EXPECT_FALSE(decoded.ok()) << key;
    EXPECT_EQ(decoded.reason, DropReason::kWrongType) << key;
  }
}

TEST(EventEnvelopeTest, AnEnvelopeThatIsNoMapIsWrongType) {
  // Positional (rmp_serde::to_vec) encoding: an array, not Dynamo's named fields.
  const std::string array =
      Pack().Array(5).Unsigned(5).Unsigned(6).Unsigned(7).Str("t").Bin("").Bytes();
  EXPECT_EQ(DecodeEventEnvelope(array).reason, DropReason::kWrongType);
  EXPECT_EQ(DecodeEventEnvelope(Pack().Str("x").Bytes()).reason, DropReason::kWrongType);
}

TEST(EventEnvelopeTest, TruncatedEnvelopesAreMalformed) {
  const std::string bytes = ReadHexFixture("envelope_activeload_v2_worker.hex");
  for (size_t size = 0; size < bytes.size(); ++size) {
    const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes.substr(0, size));
    EXPECT_FALSE(decoded.ok()) << size;
    EXPECT_EQ(decoded.reason, DropReason::kMalformedMsgpack) << size;
  }
}

TEST(EventEnvelopeTest, AHugeDeclaredPayloadIsMalformedNotAllocated) {
  // payload: bin32 declaring 4 GiB, with 3 bytes present.
  const std::string bytes = Envelope(With("payload", FromHex("c6ffffffff000102")));
  const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
  EXPECT_EQ(decoded.reason, DropReason::kMalformedMsgpack);
}

TEST(EventEnvelopeTest, PayloadMayBeAnyBinaryWidth) {
  for (const char* header : {"c403", "c50003", "c600000003"}) {
    const std::string bytes = Envelope(With("payload", FromHex(std::string(header) + "a17801")));
    const Decoded<EventEnvelope> decoded = DecodeEventEnvelope(bytes);
    ASSERT_TRUE(decoded.ok()) << header;
    EXPECT_EQ(decoded.record->payload, FromHex("a17801"));
  }
}

// ---- ZMQ messages ------------------------------------------------------------

std::vector<std::string> ZmqFixture(const std::string& event) {
  std::vector<std::string> frames;
  for (int i = 0; i < 4; ++i) {
    frames.push_back(ReadHexFixture("zmq_" + event + ".frame" + std::to_string(i) + ".hex"));
  }
  return frames;
}

Decoded<ZmqEvent> DecodeFrames(const std::vector<std::string>& frames) {
  const std::vector<std::string_view> views(frames.begin(), frames.end());
  return DecodeZmqEvent(views);
}

// Frame 3 for `envelope`: version 1, its length, then the envelope.
std::string Frame3(std::string_view envelope, uint8_t version = 1) {
  std::string frame(1, static_cast<char>(version));
  for (int shift = 24; shift >= 0; shift -= 8) {
    frame.push_back(static_cast<char>((envelope.size() >> shift) & 0xff));
  }
  return frame.append(envelope);
}

std::string BigEndian64(uint64_t value) {
  std::string bytes;
  for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(value >> shift));
  return bytes;
}

TEST(ZmqEventTest, WorkerActiveLoadFixture) {
  const std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  const Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->frame_topic, "kv_metrics");
  EXPECT_EQ(decoded.record->envelope,
            (EventEnvelope{kWorkerPublisher, 41, 1796040000123, "kv_metrics",
                           ReadHexFixture("activeload_v2_worker.payload.hex")}));
  // Frame 3 is the header and exactly the NATS body of the same event.
  EXPECT_EQ(frames[3].substr(kZmqFrameHeaderBytes),
            ReadHexFixture("envelope_activeload_v2_worker.hex"));
}

TEST(ZmqEventTest, ForwardPassMetricsFixture) {
  const std::vector<std::string> frames = ZmqFixture("fpm_dynamo_v1");
  const Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->frame_topic, "forward-pass-metrics");
  EXPECT_EQ(decoded.record->envelope,
            (EventEnvelope{kFpmPublisher, 1523, 1796040000132, "forward-pass-metrics",
                           ReadHexFixture("fpm_dynamo_v1.payload.hex")}));
}

TEST(ZmqEventTest, ThroughABrokerFrameZeroIsTheFullSubject) {
  std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  frames[0] = "namespace.dynamo.component.backend.endpoint.generate.kv_metrics";
  const Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->frame_topic, frames[0]);
  EXPECT_EQ(decoded.record->envelope.topic, "kv_metrics");
}

TEST(ZmqEventTest, OtherFrameCountsAreBadFrames) {
  const std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  for (size_t count : {0, 1, 2, 3, 5, 6}) {
    std::vector<std::string> some;
    for (size_t i = 0; i < count; ++i) some.push_back(frames[i % 4]);
    const Decoded<ZmqEvent> decoded = DecodeFrames(some);
    EXPECT_FALSE(decoded.ok()) << count;
    EXPECT_EQ(decoded.reason, DropReason::kBadFrames) << count;
    EXPECT_EQ(decoded.detail, "not four frames") << count;
  }
}

TEST(ZmqEventTest, IdFramesMustBeEightBytes) {
  for (size_t size : {0, 1, 7, 9, 16}) {
    std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
    frames[1] = std::string(size, '\0');
    Decoded<ZmqEvent> decoded = DecodeFrames(frames);
    EXPECT_EQ(decoded.reason, DropReason::kBadFrames) << size;
    EXPECT_EQ(decoded.detail, "frame 1 (publisher id) is not 8 bytes") << size;

    frames = ZmqFixture("activeload_v2_worker");
    frames[2] = std::string(size, '\0');
    decoded = DecodeFrames(frames);
    EXPECT_EQ(decoded.reason, DropReason::kBadFrames) << size;
    EXPECT_EQ(decoded.detail, "frame 2 (sequence) is not 8 bytes") << size;
  }
}

TEST(ZmqEventTest, AFrameShorterThanItsHeaderIsBadFrames) {
  for (size_t size = 0; size < kZmqFrameHeaderBytes; ++size) {
    std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
    frames[3].resize(size);
    const Decoded<ZmqEvent> decoded = DecodeFrames(frames);
    EXPECT_EQ(decoded.reason, DropReason::kBadFrames) << size;
    EXPECT_EQ(decoded.detail, "frame 3 is shorter than its 5-byte header") << size;
  }
}

TEST(ZmqEventTest, OtherHeaderVersionsAreUnsupported) {
  for (int version : {0, 2, 0x85, 0xff}) {
    std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
    frames[3][0] = static_cast<char>(version);
    const Decoded<ZmqEvent> decoded = DecodeFrames(frames);
    EXPECT_EQ(decoded.reason, DropReason::kUnsupportedVersion) << version;
  }
}

TEST(ZmqEventTest, ALengthBeyondTheBytesPresentIsBadFrames) {
  std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  frames[3].pop_back();  // declares 174 bytes, holds 173
  Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kBadFrames);
  EXPECT_EQ(decoded.detail, "frame 3 holds fewer bytes than its header declares");
  // A declared length of 4 GiB - 1.
  frames = ZmqFixture("activeload_v2_worker");
  frames[3].replace(1, 4, "\xff\xff\xff\xff");
  decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kBadFrames);
  EXPECT_EQ(decoded.detail, "frame 3 holds fewer bytes than its header declares");
}

TEST(ZmqEventTest, BytesBeyondTheDeclaredLengthAreBadFrames) {
  std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  frames[3].push_back('\xc0');
  Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kBadFrames);
  EXPECT_EQ(decoded.detail, "frame 3 holds bytes after the envelope its header declares");
  // A length of 0 before a whole envelope.
  frames = ZmqFixture("activeload_v2_worker");
  frames[3].replace(1, 4, std::string(4, '\0'));
  decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kBadFrames);
  EXPECT_EQ(decoded.detail, "frame 3 holds bytes after the envelope its header declares");
}

TEST(ZmqEventTest, AnEmptyEnvelopeOfLengthZeroIsMalformed) {
  std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  frames[3] = Frame3("");
  EXPECT_EQ(DecodeFrames(frames).reason, DropReason::kMalformedMsgpack);
}

TEST(ZmqEventTest, TheEnvelopesOwnDropsPassThrough) {
  std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  frames[3] = Frame3(Envelope(Without("topic")));
  frames[1] = BigEndian64(5);
  frames[2] = BigEndian64(6);
  Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.detail, "no topic");
  frames[3] = Frame3("\x85\xac");  // a map of five, cut short
  decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kMalformedMsgpack);
}

TEST(ZmqEventTest, IdFramesThatDisagreeWithTheEnvelopeAreBadFrames) {
  std::vector<std::string> frames = ZmqFixture("activeload_v2_worker");
  frames[1] = BigEndian64(kWorkerPublisher + 1);
  Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kBadFrames);
  EXPECT_EQ(decoded.detail, "frame 1 (publisher id) differs from the envelope's publisher_id");

  frames = ZmqFixture("activeload_v2_worker");
  frames[2] = BigEndian64(40);
  decoded = DecodeFrames(frames);
  EXPECT_EQ(decoded.reason, DropReason::kBadFrames);
  EXPECT_EQ(decoded.detail, "frame 2 (sequence) differs from the envelope's sequence");
}

TEST(ZmqEventTest, BuiltFramesRoundTrip) {
  const std::string envelope = Envelope(ValidFields());
  const std::vector<std::string> frames = {"kv_metrics", BigEndian64(5), BigEndian64(6),
                                           Frame3(envelope)};
  const Decoded<ZmqEvent> decoded = DecodeFrames(frames);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->envelope, (EventEnvelope{5, 6, 1796040000000, "kv_metrics", "\x80"}));
}

}  // namespace
}  // namespace mk::dynamo
