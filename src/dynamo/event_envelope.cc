#include "dynamo/event_envelope.h"

#include <optional>

#include "dynamo/msgpack_reader.h"

namespace mk::dynamo {
namespace {

uint64_t BigEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (char byte : bytes) value = (value << 8) | static_cast<uint8_t>(byte);
  return value;
}

}  // namespace

Decoded<EventEnvelope> DecodeEventEnvelope(std::string_view bytes) {
  using Result = Decoded<EventEnvelope>;
  mpk::Failure failure;
  const std::optional<msgpack::object> root = mpk::Unpack(bytes, failure);
  if (!root) return Result::Drop(failure.reason, failure.detail);
  if (root->type != msgpack::type::MAP) {
    return Result::Drop(DropReason::kWrongType, "the envelope is not a map");
  }
  EventEnvelope envelope;
  bool has_publisher = false, has_sequence = false, has_time = false, has_topic = false,
       has_payload = false;
  const msgpack::object_kv* const end = root->via.map.ptr + root->via.map.size;
  for (const msgpack::object_kv* kv = root->via.map.ptr; kv != end; ++kv) {
    const std::string_view key = mpk::StringOf(kv->key);
    const msgpack::object& value = kv->val;
    if (key == "publisher_id") {
      if (mpk::ReadUnsigned(value, envelope.publisher_id)) {
        return Result::Drop(DropReason::kWrongType, "publisher_id is not an unsigned integer");
      }
      has_publisher = true;
    } else if (key == "sequence") {
      if (mpk::ReadUnsigned(value, envelope.sequence)) {
        return Result::Drop(DropReason::kWrongType, "sequence is not an unsigned integer");
      }
      has_sequence = true;
    } else if (key == "published_at") {
      if (mpk::ReadUnsigned(value, envelope.published_at_ms)) {
        return Result::Drop(DropReason::kWrongType, "published_at is not an unsigned integer");
      }
      has_time = true;
    } else if (key == "topic") {
      if (value.type != msgpack::type::STR) {
        return Result::Drop(DropReason::kWrongType, "topic is not a string");
      }
      envelope.topic = mpk::StringOf(value);
      has_topic = true;
    } else if (key == "payload") {
      if (value.type != msgpack::type::BIN) {
        return Result::Drop(DropReason::kWrongType, "payload is not a binary");
      }
      envelope.payload = std::string_view(value.via.bin.ptr, value.via.bin.size);
      has_payload = true;
    }
  }
  if (!has_publisher) return Result::Drop(DropReason::kMissingField, "no publisher_id");
  if (!has_sequence) return Result::Drop(DropReason::kMissingField, "no sequence");
  if (!has_time) return Result::Drop(DropReason::kMissingField, "no published_at");
  if (!has_topic) return Result::Drop(DropReason::kMissingField, "no topic");
  if (!has_payload) return Result::Drop(DropReason::kMissingField, "no payload");
  return Result::Keep(envelope);
}

Decoded<ZmqEvent> DecodeZmqEvent(std::span<const std::string_view> frames) {
  using Result = Decoded<ZmqEvent>;
  if (frames.size() != 4) return Result::Drop(DropReason::kBadFrames, "not four frames");
  if (frames[1].size() != 8) {
    return Result::Drop(DropReason::kBadFrames, "frame 1 (publisher id) is not 8 bytes");
  }
  if (frames[2].size() != 8) {
    return Result::Drop(DropReason::kBadFrames, "frame 2 (sequence) is not 8 bytes");
  }
  const std::string_view frame = frames[3];
  if (frame.size() < kZmqFrameHeaderBytes) {
    return Result::Drop(DropReason::kBadFrames, "frame 3 is shorter than its 5-byte header");
  }
  if (static_cast<uint8_t>(frame[0]) != kZmqFrameVersion) {
    return Result::Drop(DropReason::kUnsupportedVersion, "frame 3 header version is not 1");
  }
  const uint64_t declared = BigEndian(frame.substr(1, 4));
  const size_t present = frame.size() - kZmqFrameHeaderBytes;
  if (declared > present) {
    return Result::Drop(DropReason::kBadFrames,
                        "frame 3 holds fewer bytes than its header declares");
  }
  if (declared < present) {
    return Result::Drop(DropReason::kBadFrames,
                        "frame 3 holds bytes after the envelope its header declares");
  }
  Decoded<EventEnvelope> envelope = DecodeEventEnvelope(frame.substr(kZmqFrameHeaderBytes));
  if (!envelope.record) return Result::Drop(envelope.reason, envelope.detail);
  if (BigEndian(frames[1]) != envelope.record->publisher_id) {
    return Result::Drop(DropReason::kBadFrames,
                        "frame 1 (publisher id) differs from the envelope's publisher_id");
  }
  if (BigEndian(frames[2]) != envelope.record->sequence) {
    return Result::Drop(DropReason::kBadFrames,
                        "frame 2 (sequence) differs from the envelope's sequence");
  }
  return Result::Keep(ZmqEvent{frames[0], *envelope.record});
}

}  // namespace mk::dynamo
