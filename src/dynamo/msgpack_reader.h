// Bounded MessagePack unpacking and typed field readers, for the event decoders of
// this directory (envelope, ActiveLoad, ForwardPassMetrics). Not a public interface
// of the library: callers are decoders in src/dynamo/.
//
// What it promises: every unpack is bounded. Maps and arrays hold at most
// kMaxEntries entries, strings, binaries and extensions at most kMaxBytes bytes,
// containers nest at most kMaxDepth deep (msgpack::unpack_limit), and no value may
// declare more entries, over all its containers, than there are bytes to hold them,
// so a short message cannot make the unpacker reserve memory for entries that are not
// there: memory is at most a small multiple of the input's size, and the unpacker
// never recurses. Strings and binaries are not copied: the objects point into the
// bytes given, which must outlive them.
//
// Thread-safety: each thread unpacks into a zone of its own, reused from one unpack
// to the next: an object is valid until the same thread unpacks again.
#ifndef METRICS_KEDA_DYNAMO_MSGPACK_READER_H_
#define METRICS_KEDA_DYNAMO_MSGPACK_READER_H_

#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string_view>

#include "dynamo/decoded.h"
#include "dynamo/drop_reason.h"

namespace mk::dynamo::mpk {

inline constexpr size_t kMaxEntries = 256;    // per map (pairs) or array
inline constexpr size_t kMaxBytes = 1 << 20;  // per string, binary or extension
inline constexpr size_t kMaxDepth = 8;        // containers within containers

// Why something could not be read: the reason counted, and a static text saying what.
struct Failure {
  DropReason reason = DropReason::kMalformedMsgpack;
  std::string_view detail;
};

// The single MessagePack value that fills `bytes` exactly. On failure, empty with
// `failure` set: malformed_msgpack (invalid, truncated, a declared size beyond the
// bytes present, trailing bytes) or oversized (beyond the limits above).
std::optional<msgpack::object> Unpack(std::string_view bytes, Failure& failure);

// The text of a string value; empty for any other type (check the type first).
std::string_view StringOf(const msgpack::object& value);
// True for a string key equal to `name`.
bool KeyIs(const msgpack::object& key, std::string_view name);

// Typed readers: each sets `out` and returns nothing, or returns why it could not.
//   ReadUnsigned: a non-negative integer (any width); negative integers, floats and
//     other types are wrong_type.
//   ReadOptionalUnsigned: the same, or nil (out reset).
//   ReadRank: ReadUnsigned, and out_of_range above 2^32 - 1.
//   ReadNumber: any integer or float, as a double; non-finite values are out_of_range.
std::optional<DropReason> ReadUnsigned(const msgpack::object& value, uint64_t& out);
std::optional<DropReason> ReadOptionalUnsigned(const msgpack::object& value,
                                               std::optional<uint64_t>& out);
std::optional<DropReason> ReadRank(const msgpack::object& value, uint32_t& out);
std::optional<DropReason> ReadNumber(const msgpack::object& value, double& out);

}  // namespace mk::dynamo::mpk

#endif  // METRICS_KEDA_DYNAMO_MSGPACK_READER_H_
