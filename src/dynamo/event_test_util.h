// Helpers for the event decoders' unit tests: the fixtures in tests/data/events/
// (binary ones stored as lowercase hex) and a small MessagePack writer for inputs
// built in the tests.
#ifndef METRICS_KEDA_DYNAMO_EVENT_TEST_UTIL_H_
#define METRICS_KEDA_DYNAMO_EVENT_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <msgpack.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mk::dynamo::testing {

// Bytes from hex text; whitespace is skipped, anything else fails the test.
inline std::string FromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const int value = nibble(c);
    EXPECT_GE(value, 0) << "not hex: '" << c << "'";
    if (value < 0) return bytes;
    if (high < 0) {
      high = value;
    } else {
      bytes.push_back(static_cast<char>(high * 16 + value));
      high = -1;
    }
  }
  EXPECT_LT(high, 0) << "odd number of hex digits";
  return bytes;
}

// The file tests/data/events/<name> as it is stored.
inline std::string ReadEventFile(const std::string& name) {
  const std::string path = std::string(MK_TEST_DATA_DIR) + "/events/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The bytes a .hex fixture holds.
inline std::string ReadHexFixture(const std::string& name) { return FromHex(ReadEventFile(name)); }

// Writes MessagePack values one after the other: Pack().Map(1).Str("a").Unsigned(1).Bytes().
class Pack {
 public:
  Pack() : packer_(&buffer_) {}
  Pack& Map(uint32_t pairs) {
    packer_.pack_map(pairs);
    return *this;
  }
  Pack& Array(uint32_t entries) {
    packer_.pack_array(entries);
    return *this;
  }
  Pack& Str(std::string_view text) {
    packer_.pack_str(static_cast<uint32_t>(text.size()));
    packer_.pack_str_body(text.data(), static_cast<uint32_t>(text.size()));
    return *this;
  }
  Pack& Bin(std::string_view bytes) {
    packer_.pack_bin(static_cast<uint32_t>(bytes.size()));
    packer_.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
    return *this;
  }
  Pack& Unsigned(uint64_t value) {
    packer_.pack_uint64(value);
    return *this;
  }
  Pack& Signed(int64_t value) {
    packer_.pack_int64(value);
    return *this;
  }
  // Always a float64 (0xcb), as Python's encoders write floats; msgpack-c's own
  // pack_double would write an integral value as an integer.
  Pack& Double(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    char bytes[9] = {static_cast<char>(0xcb)};
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    buffer_.write(bytes, sizeof bytes);
    return *this;
  }
  Pack& Bool(bool value) {
    if (value) {
      packer_.pack_true();
    } else {
      packer_.pack_false();
    }
    return *this;
  }
  Pack& Nil() {
    packer_.pack_nil();
    return *this;
  }
  // Bytes already encoded (a nested value written by another Pack, or raw test bytes).
  Pack& Raw(std::string_view bytes) {
    buffer_.write(bytes.data(), bytes.size());
    return *this;
  }
  std::string Bytes() const { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_;
};

// A MessagePack map of the given fields, in order, each as (key, encoded value).
using PackedFields = std::vector<std::pair<std::string, std::string>>;
inline std::string PackedMap(const PackedFields& fields) {
  Pack pack;
  pack.Map(static_cast<uint32_t>(fields.size()));
  for (const auto& [key, value] : fields) pack.Str(key).Raw(value);
  return pack.Bytes();
}

}  // namespace mk::dynamo::testing

#endif  // METRICS_KEDA_DYNAMO_EVENT_TEST_UTIL_H_
