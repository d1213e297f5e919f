// The simdjson on-demand reading every JSON decoder of this directory shares: one
// reused parser that reads a message as exactly one JSON object, a loop over an
// object's fields, and strict readers of counts and 64-bit integers; and, for
// documents read whole whose first problem is reported in words (the Kubernetes
// API's objects, src/kubernetes/; Prometheus API answers, src/replay/), readers that
// say what is wrong. Not a public interface of the library: callers are decoders in
// src/dynamo/ and those two. A JsonObjectParser or a Document is not thread-safe
// (one per decoder or document); the functions are pure.
#ifndef METRICS_KEDA_DYNAMO_JSON_READER_H_
#define METRICS_KEDA_DYNAMO_JSON_READER_H_

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "dynamo/drop_reason.h"

namespace mk::dynamo::json {

namespace od = simdjson::ondemand;

// Thrown by the readers below when the JSON text itself is broken (the document
// cannot be read on): the caller drops the whole message as malformed_json.
// Value errors (a wrong type, a number out of range) are never thrown: they are
// recorded in a FieldError (or the caller's FieldProblem) and only make the record
// they belong to unusable.
struct MalformedJson {};

// Where a bad field's reason goes: the report's first error, or a slot of its own
// for a field that only some reports use.
struct FieldError {
  std::optional<DropReason> reason;
  void Fail(DropReason why) {
    if (!reason) reason = why;
  }
};

// Calls `visit(key, value)` for each field of `object`, in order; throws
// MalformedJson when the text cannot be read on. `value` must be read or skipped
// before the next field: simdjson's on-demand values are read in place.
template <typename Visit>
void ForEachField(od::object object, Visit&& visit) {
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      throw MalformedJson{};
    }
    visit(key, field.value());
  }
}

// The value's JSON type; throws MalformedJson when the text cannot say.
od::json_type TypeOf(od::value& value);

// A count: null leaves `out` empty; a non-negative integer < 2^64 sets it; anything
// else fails `error` (wrong_type: a string, a negative or fractional number;
// out_of_range: an integer >= 2^64).
void ReadCount(od::value value, std::optional<uint64_t>& out, FieldError& error);

// A signed 64-bit or unsigned 64-bit integer, as the worker ids of the JSON events:
// wrong_type unless an integer; out_of_range when below -2^63 or above 2^64 - 1.
// Negative values are returned as such; the caller decides what they mean.
struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;  // when negative, -value (fits: 2^63 at most)
};
std::optional<Integer> ReadInteger(od::value value, FieldError& error);

// A parser and the padded copy of the message it needs (simdjson reads past the
// end), both reused from one message to the next.
class JsonObjectParser {
 public:
  // Reads `text` as exactly one JSON object and calls `read(root)` on it; false when
  // `text` is not one (truncated, not an object, bytes after it) or `read` throws
  // MalformedJson.
  template <typename Read>
  bool Parse(std::string_view text, Read&& read) {
    padded_.assign(text);
    padded_.resize(text.size() + simdjson::SIMDJSON_PADDING, ' ');
    try {
      od::document doc;
      od::object root;
      if (parser_.iterate(padded_.data(), text.size(), padded_.size()).get(doc) ||
          doc.get_object().get(root)) {
        return false;
      }
      read(root);
      // Anything after the root object (a second document, garbage) is malformed.
      const char* trailing = nullptr;
      return doc.current_location().get(trailing) == simdjson::OUT_OF_BOUNDS;
    } catch (const MalformedJson&) {
      return false;
    }
  }

 private:
  od::parser parser_;
  std::string padded_;
};

// ---- Documents read whole, with the reason for their first problem ----

// Thrown by the readers below on anything unexpected, naming it; ParseDocument
// answers it as INVALID_ARGUMENT.
struct Invalid {
  std::string what;
};
[[noreturn]] void Fail(std::string what);

// One JSON object read from its own padded copy of the text.
class Document {
 public:
  explicit Document(std::string_view text) : padded_(text) {}
  od::object Root();
  // After the root has been read: nothing but white space may follow it.
  void ExpectEnd();

 private:
  simdjson::padded_string padded_;
  od::parser parser_;
  od::document document_;
};

// Calls `visit(element)` for each element of the array `value` (`what` names it).
template <typename Visit>
void ForEachElement(od::value value, std::string_view what, Visit&& visit) {
  od::array array;
  if (value.get_array().get(array)) Fail(std::string(what) + " is not an array");
  for (auto entry : array) {
    od::value element;
    if (entry.get(element)) Fail("malformed JSON in " + std::string(what));
    visit(element);
  }
}

od::object ObjectOf(od::value value, std::string_view what);
std::string StringOf(od::value value, std::string_view what);

// `read(root)` of the one JSON object in `text`, or INVALID_ARGUMENT "<what>: <why>".
template <typename Read>
auto ParseDocument(std::string_view text, std::string_view what, Read&& read)
    -> absl::StatusOr<decltype(read(std::declval<od::object>()))> {
  try {
    Document document(text);
    auto result = read(document.Root());
    document.ExpectEnd();
    return result;
  } catch (const Invalid& invalid) {
    return absl::InvalidArgumentError(std::string(what) + ": " + invalid.what);
  } catch (const MalformedJson&) {
    return absl::InvalidArgumentError(std::string(what) + ": malformed JSON");
  }
}

}  // namespace mk::dynamo::json

#endif  // METRICS_KEDA_DYNAMO_JSON_READER_H_
