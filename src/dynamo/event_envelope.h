// Decodes the outer layers of a Dynamo event-plane message (Dynamo 0.9 on, January
// 2026): the MessagePack EventEnvelope that both transports carry, and the ZMQ
// multipart message around it. What is inside the envelope (an ActiveLoad, a
// ForwardPassMetrics) is decoded by active_load.h and forward_pass_metrics.h.
//
// Pure functions: bytes in, a validated plain struct or a drop reason out; no I/O.
// Any input may be given: every unpack is bounded (msgpack_reader.h), nothing is
// copied, nothing recurses. Safe to call from any thread at once. The decoded
// strings are views into the bytes given, valid while those bytes are.
#ifndef METRICS_KEDA_DYNAMO_EVENT_ENVELOPE_H_
#define METRICS_KEDA_DYNAMO_EVENT_ENVELOPE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dynamo/decoded.h"

namespace mk::dynamo {

// Dynamo's EventEnvelope: a MessagePack map with named fields. On NATS it is the whole
// message body; on ZMQ it follows the 5-byte header of the fourth frame.
struct EventEnvelope {
  // `publisher_id`: who published; the worker's instance id in early 2026, since then
  // a random 53-bit number per publisher (not a worker id: the payload names the
  // worker).
  uint64_t publisher_id = 0;
  // `sequence`: per publisher, from 0; a restart starts again at 0.
  uint64_t sequence = 0;
  // `published_at`: milliseconds since the Unix epoch, by the publisher's clock.
  uint64_t published_at_ms = 0;
  // `topic`: the plain topic ("kv_metrics", "forward-pass-metrics"), not the subject.
  std::string_view topic;
  // `payload` (MessagePack bin): the MessagePack-encoded record.
  std::string_view payload;

  friend bool operator==(const EventEnvelope&, const EventEnvelope&) = default;
};

// Decodes one envelope. All five fields are required; other keys are ignored.
// Drops: malformed_msgpack / oversized (see msgpack_reader.h), wrong_type (not a map,
// or a field of the wrong MessagePack type: the ids and the time must be
// non-negative integers, topic a string, payload a binary), missing_field.
Decoded<EventEnvelope> DecodeEventEnvelope(std::string_view bytes);

// The frame-3 header: a version byte, then the envelope's length as a big-endian u32.
inline constexpr size_t kZmqFrameHeaderBytes = 5;
inline constexpr uint8_t kZmqFrameVersion = 1;

// One ZMQ event: frame 0 and the envelope of frame 3.
struct ZmqEvent {
  // Frame 0 as received: the plain topic on direct connections, the full subject
  // (namespace.<ns>....<topic>) through a broker. Not checked against the envelope:
  // it only serves the subscription filter.
  std::string_view frame_topic;
  EventEnvelope envelope;

  friend bool operator==(const ZmqEvent&, const ZmqEvent&) = default;
};

// Decodes one ZMQ multipart message of Dynamo's event plane, as Dynamo's own
// subscriber reads it: exactly four frames, (0) topic, (1) publisher id as 8 bytes
// big-endian, (2) sequence as 8 bytes big-endian, (3) the 5-byte header (version 1,
// envelope length) followed by exactly that many bytes of envelope.
//
// Drops, in the order checked: bad_frames (not four frames; frame 1 or 2 not 8
// bytes; frame 3 shorter than its header; a declared length longer than the bytes
// after the header ("fewer bytes than its header declares") or shorter ("bytes after
// the envelope")); unsupported_version (header version not 1); the envelope's own
// drops (DecodeEventEnvelope); bad_frames when frame 1 or 2 differs from the
// envelope's publisher_id or sequence.
//
// Frames 1 and 2 are copies of the envelope's ids that Dynamo's publisher writes
// from the envelope itself, for subscribers that deduplicate without decoding it. A
// message whose copies disagree was not written by that publisher, or was damaged
// on the way: there is no telling which id is right, and the scaler tracks
// sequences per publisher, so the message is dropped rather than trusted either way.
Decoded<ZmqEvent> DecodeZmqEvent(std::span<const std::string_view> frames);

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_EVENT_ENVELOPE_H_
