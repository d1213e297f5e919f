// Numbers as users write them in flags and trigger metadata: decimal notation only.
// Pure; thread-safe.
#ifndef METRICS_KEDA_COMMON_DECIMAL_H_
#define METRICS_KEDA_COMMON_DECIMAL_H_

#include <optional>
#include <string_view>

namespace mk {

// The whole text as a finite number written in decimal: an optional sign, digits with
// an optional fraction ("10", "0.7", "5.") or a fraction alone (".5"), then an optional
// exponent ("1e-3", "2E+2"). Anything else is nothing: empty text, spaces before or
// after, hexadecimal ("0x10", "0x1p-3"), "inf", "nan", a trailing character, and a
// value a double cannot hold: too large ("1e999") or so small it would read as 0
// ("1e-999").
std::optional<double> ParseDecimal(std::string_view text);

}  // namespace mk

#endif  // METRICS_KEDA_COMMON_DECIMAL_H_
