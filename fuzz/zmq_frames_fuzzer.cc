// libFuzzer target: arbitrary bytes as one ZMQ multipart message of Dynamo's event
// plane, decoded as a ZMQ event source would, then its payload as an ActiveLoad and
// as a ForwardPassMetrics.
//
// Input format: frames one after the other, each a 2-byte big-endian length and that
// many bytes (the last frame takes what is left when the input is shorter). So the
// fuzzer varies the frame count and every frame's size as well as the bytes.
//
// Invariants, beside those of fuzz/event_checks.h: a kept message has exactly four
// frames, 8-byte id frames equal to the envelope's ids, a version-1 header whose
// length is the rest of frame 3, and that rest decodes alone to the same envelope; a
// message of another frame count is dropped as bad_frames; decoding is deterministic.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dynamo/event_envelope.h"
#include "event_checks.h"
#include "fuzz_check.h"

namespace {

using mk::dynamo::Decoded;
using mk::dynamo::DropReason;
using mk::dynamo::ZmqEvent;

std::vector<std::string_view> SplitFrames(std::string_view input) {
  std::vector<std::string_view> frames;
  while (input.size() >= 2) {
    const size_t length = (static_cast<uint8_t>(input[0]) << 8) | static_cast<uint8_t>(input[1]);
    input.remove_prefix(2);
    const size_t taken = length < input.size() ? length : input.size();
    frames.push_back(input.substr(0, taken));
    input.remove_prefix(taken);
  }
  return frames;
}

uint64_t BigEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (char byte : bytes) value = (value << 8) | static_cast<uint8_t>(byte);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> frames =
      SplitFrames(std::string_view(reinterpret_cast<const char*>(data), size));
  const Decoded<ZmqEvent> decoded = mk::dynamo::DecodeZmqEvent(frames);
  mk::fuzz::CheckShape(
      decoded, "ZMQ",
      {DropReason::kBadFrames, DropReason::kUnsupportedVersion, DropReason::kMalformedMsgpack,
       DropReason::kOversized, DropReason::kWrongType, DropReason::kMissingField});
  MK_FUZZ_CHECK(mk::fuzz::Same(decoded, mk::dynamo::DecodeZmqEvent(frames)),
                "decoding a ZMQ message twice differed");
  if (frames.size() != 4) {
    MK_FUZZ_CHECK(!decoded.ok() && decoded.reason == DropReason::kBadFrames,
                  "%zu frames not dropped as bad_frames", frames.size());
    return 0;
  }
  if (!decoded.ok()) return 0;

  const ZmqEvent& event = *decoded.record;
  MK_FUZZ_CHECK(frames[1].size() == 8 && frames[2].size() == 8, "id frames of %zu and %zu bytes",
                frames[1].size(), frames[2].size());
  MK_FUZZ_CHECK(BigEndian(frames[1]) == event.envelope.publisher_id &&
                    BigEndian(frames[2]) == event.envelope.sequence,
                "id frames differ from the kept envelope");
  const std::string_view frame = frames[3];
  MK_FUZZ_CHECK(
      frame.size() >= 5 && frame[0] == 1 && BigEndian(frame.substr(1, 4)) == frame.size() - 5,
      "kept with a bad header");
  MK_FUZZ_CHECK(event.frame_topic == frames[0], "frame 0 not kept as it came");
  const std::string_view envelope_bytes = frame.substr(5);
  const Decoded<mk::dynamo::EventEnvelope> alone = mk::dynamo::DecodeEventEnvelope(envelope_bytes);
  MK_FUZZ_CHECK(alone.ok() && *alone.record == event.envelope,
                "frame 3's envelope decodes otherwise alone");
  mk::fuzz::CheckEnvelope(alone, envelope_bytes);
  mk::fuzz::CheckPayload(event.envelope.payload);
  return 0;
}
