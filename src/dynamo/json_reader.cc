#include "dynamo/json_reader.h"

namespace mk::dynamo::json {
namespace {

DropReason ReasonForNumberError(simdjson::error_code code) {
  return code == simdjson::INCORRECT_TYPE ? DropReason::kWrongType : DropReason::kOutOfRange;
}

// The number's text without the whitespace simdjson leaves after it.
std::string_view NumberToken(od::value& value) {
  std::string_view token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\t' ||
                            token.back() == '\r')) {
    token.remove_suffix(1);
  }
  return token;
}

bool AllDigits(std::string_view token) {
  return !token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos;
}

// A non-negative integer literal, which get_uint64 rejects only when it is >= 2^64.
bool IsDigits(od::value& value) { return AllDigits(NumberToken(value)); }

}  // namespace

od::json_type TypeOf(od::value& value) {
  od::json_type type;
  if (value.type().get(type)) throw MalformedJson{};
  return type;
}

void ReadCount(od::value value, std::optional<uint64_t>& out, FieldError& error) {
  const od::json_type type = TypeOf(value);
  if (type == od::json_type::null) {
    out.reset();
    return;
  }
  if (type != od::json_type::number) return error.Fail(DropReason::kWrongType);
  uint64_t number;
  if (const auto code = value.get_uint64().get(number)) {
    return error.Fail(IsDigits(value) ? DropReason::kOutOfRange : ReasonForNumberError(code));
  }
  out = number;
}

std::optional<Integer> ReadInteger(od::value value, FieldError& error) {
  if (TypeOf(value) != od::json_type::number) {
    error.Fail(DropReason::kWrongType);
    return std::nullopt;
  }
  const std::string_view token = NumberToken(value);
  const bool negative = !token.empty() && token.front() == '-';
  if (!AllDigits(negative ? token.substr(1) : token)) {
    error.Fail(DropReason::kWrongType);  // a fraction or an exponent
    return std::nullopt;
  }
  Integer integer{negative, 0};
  if (negative) {
    int64_t number;
    if (value.get_int64().get(number)) {
      error.Fail(DropReason::kOutOfRange);
      return std::nullopt;
    }
    // -(INT64_MIN) does not fit an int64_t; it does fit the unsigned magnitude.
    integer.magnitude = static_cast<uint64_t>(-(number + 1)) + 1;
  } else if (value.get_uint64().get(integer.magnitude)) {
    error.Fail(DropReason::kOutOfRange);
    return std::nullopt;
  }
  return integer;
}

void Fail(std::string what) { throw Invalid{std::move(what)}; }

od::object Document::Root() {
  od::object root;
  if (parser_.iterate(padded_).get(document_) || document_.get_object().get(root)) {
    Fail("not a JSON object");
  }
  return root;
}

void Document::ExpectEnd() {
  const char* trailing = nullptr;
  if (document_.current_location().get(trailing) != simdjson::OUT_OF_BOUNDS) {
    Fail("bytes after the JSON object");
  }
}

od::object ObjectOf(od::value value, std::string_view what) {
  od::object object;
  if (value.get_object().get(object)) Fail(std::string(what) + " is not an object");
  return object;
}

std::string StringOf(od::value value, std::string_view what) {
  std::string_view text;
  if (value.get_string().get(text)) Fail(std::string(what) + " is not a string");
  return std::string(text);
}

}  // namespace mk::dynamo::json
