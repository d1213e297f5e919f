#include "common/decimal.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace mk {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Skips the digits at `at`; how many there were.
size_t SkipDigits(std::string_view text, size_t& at) {
  const size_t start = at;
  while (at < text.size() && IsDigit(text[at])) ++at;
  return at - start;
}

}  // namespace

std::optional<double> ParseDecimal(std::string_view text) {
  // The grammar is checked here; std::from_chars alone would also take "inf", "nan"
  // and (with chars_format::hex) hexadecimal, and refuses a leading '+'.
  size_t at = 0;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
  const size_t number = at;
  size_t digits = SkipDigits(text, at);
  if (at < text.size() && text[at] == '.') {
    ++at;
    digits += SkipDigits(text, at);
  }
  if (digits == 0) return std::nullopt;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
    if (SkipDigits(text, at) == 0) return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;

  double value = 0;
  const char* begin = text.data() + number;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(begin, end, value, std::chars_format::general);
  if (error != std::errc() || stop != end || !std::isfinite(value)) return std::nullopt;
  return text.front() == '-' ? -value : value;
}

}  // namespace mk
