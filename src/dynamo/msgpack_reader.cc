#include "dynamo/msgpack_reader.h"

#include <cmath>
#include <limits>
#include <new>

namespace mk::dynamo::mpk {
namespace {

// Every string, binary and extension points into the caller's bytes: nothing is copied.
bool ReferenceAll(msgpack::type::object_type, std::size_t, void*) { return true; }

const msgpack::unpack_limit kLimits(/*array=*/kMaxEntries, /*map=*/kMaxEntries,
                                    /*str=*/kMaxBytes, /*bin=*/kMaxBytes, /*ext=*/kMaxBytes,
                                    /*depth=*/kMaxDepth);

// Thrown when a container declares more entries than the input could hold.
struct DeclaredBeyondInput {};

// msgpack-c's object builder, with one more bound: the entries declared by all
// containers together may not exceed the input's size in bytes (each array element
// takes at least one byte, each map pair two). The builder reserves a container's
// entries when it reads the header, before they arrive; without this bound a
// 5-byte array header in a short message would reserve room for kMaxEntries objects,
// and many such headers a large multiple of the input.
class BoundedObjectBuilder : public msgpack::detail::create_object_visitor {
 public:
  BoundedObjectBuilder() : create_object_visitor(&ReferenceAll, nullptr, kLimits) {}

  void Reset(msgpack::zone& zone, size_t input_bytes) {
    init();
    set_zone(zone);
    set_referenced(false);
    budget_ = input_bytes;
  }

  // Hide the base class's handlers: msgpack::parse calls these on this type.
  bool start_array(uint32_t entries) {
    if (entries <= kMaxEntries) Spend(entries);  // else the base refuses it (oversized)
    return create_object_visitor::start_array(entries);
  }
  bool start_map(uint32_t pairs) {
    if (pairs <= kMaxEntries) Spend(2 * uint64_t{pairs});
    return create_object_visitor::start_map(pairs);
  }

 private:
  void Spend(uint64_t entries) {
    if (entries > budget_) throw DeclaredBeyondInput{};
    budget_ -= entries;
  }

  uint64_t budget_ = 0;
};

struct ThreadState {
  msgpack::zone zone;
  BoundedObjectBuilder builder;
};

ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

std::optional<msgpack::object> Unpack(std::string_view bytes, Failure& failure) {
  ThreadState& state = State();
  state.zone.clear();
  state.builder.Reset(state.zone, bytes.size());
  size_t offset = 0;
  try {
    if (!msgpack::parse(bytes.data(), bytes.size(), offset, state.builder)) {
      failure = {DropReason::kMalformedMsgpack, "truncated MessagePack"};
      return std::nullopt;
    }
  } catch (const DeclaredBeyondInput&) {
    failure = {DropReason::kMalformedMsgpack,
               "a MessagePack map or array declares more entries than there are bytes"};
    return std::nullopt;
  } catch (const msgpack::insufficient_bytes&) {
    failure = {DropReason::kMalformedMsgpack, "truncated MessagePack"};
    return std::nullopt;
  } catch (const msgpack::depth_size_overflow&) {
    failure = {DropReason::kOversized, "MessagePack nested deeper than the limit"};
    return std::nullopt;
  } catch (const msgpack::array_size_overflow&) {
    failure = {DropReason::kOversized, "a MessagePack array beyond the entry limit"};
    return std::nullopt;
  } catch (const msgpack::map_size_overflow&) {
    failure = {DropReason::kOversized, "a MessagePack map beyond the entry limit"};
    return std::nullopt;
  } catch (const msgpack::size_overflow&) {
    failure = {DropReason::kOversized, "a MessagePack string, binary or extension too long"};
    return std::nullopt;
  } catch (const msgpack::unpack_error&) {
    failure = {DropReason::kMalformedMsgpack, "not MessagePack"};
    return std::nullopt;
  }
  if (offset != bytes.size()) {
    failure = {DropReason::kMalformedMsgpack, "bytes after the MessagePack value"};
    return std::nullopt;
  }
  return state.builder.data();
}

std::string_view StringOf(const msgpack::object& value) {
  if (value.type != msgpack::type::STR) return {};
  return std::string_view(value.via.str.ptr, value.via.str.size);
}

bool KeyIs(const msgpack::object& key, std::string_view name) {
  return key.type == msgpack::type::STR && StringOf(key) == name;
}

std::optional<DropReason> ReadUnsigned(const msgpack::object& value, uint64_t& out) {
  if (value.type != msgpack::type::POSITIVE_INTEGER) return DropReason::kWrongType;
  out = value.via.u64;
  return std::nullopt;
}

std::optional<DropReason> ReadOptionalUnsigned(const msgpack::object& value,
                                               std::optional<uint64_t>& out) {
  if (value.type == msgpack::type::NIL) {
    out.reset();
    return std::nullopt;
  }
  uint64_t number;
  if (auto error = ReadUnsigned(value, number)) return error;
  out = number;
  return std::nullopt;
}

std::optional<DropReason> ReadRank(const msgpack::object& value, uint32_t& out) {
  uint64_t number;
  if (auto error = ReadUnsigned(value, number)) return error;
  if (number > std::numeric_limits<uint32_t>::max()) return DropReason::kOutOfRange;
  out = static_cast<uint32_t>(number);
  return std::nullopt;
}

std::optional<DropReason> ReadNumber(const msgpack::object& value, double& out) {
  switch (value.type) {
    case msgpack::type::POSITIVE_INTEGER:
      out = static_cast<double>(value.via.u64);
      return std::nullopt;
    case msgpack::type::NEGATIVE_INTEGER:
      out = static_cast<double>(value.via.i64);
      return std::nullopt;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      if (!std::isfinite(value.via.f64)) return DropReason::kOutOfRange;
      out = value.via.f64;
      return std::nullopt;
    default:
      return DropReason::kWrongType;
  }
}

}  // namespace mk::dynamo::mpk
