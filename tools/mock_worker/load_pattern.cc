#include "mock_worker/load_pattern.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <utility>

#include "common/decimal.h"

namespace mk::mock {

// Builds LoadPattern values; the only code allowed to set the private fields, so
// every pattern that exists has passed validation.
struct PatternBuilder {
  static LoadPattern Make(LoadPattern::Kind kind, double a, double b, double c) {
    LoadPattern p;
    p.kind_ = kind;
    p.a_ = a;
    p.b_ = b;
    p.c_ = c;
    return p;
  }
  static LoadPattern MakeCsv(std::vector<LoadPattern::Point> points) {
    LoadPattern p;
    p.kind_ = LoadPattern::Kind::kCsv;
    p.points_ = std::move(points);
    return p;
  }
};

namespace {

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view Trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

PatternError Error(std::string message) { return PatternError{std::move(message)}; }

// Reads argument `what` of a pattern as a load in [0, 1].
std::optional<PatternError> ReadLoad(std::string_view text, std::string_view what, double& out) {
  const std::optional<double> v = ParseDecimal(text);
  if (!v || *v < 0 || *v > 1) {
    return Error(std::string(what) + " must be a number in [0, 1], got '" + std::string(text) +
                 "'");
  }
  out = *v;
  return std::nullopt;
}

// Reads argument `what` of a pattern as a duration in seconds > 0.
std::optional<PatternError> ReadSeconds(std::string_view text, std::string_view what, double& out) {
  const std::optional<double> v = ParseDecimal(text);
  if (!v || *v <= 0) {
    return Error(std::string(what) + " must be a number of seconds > 0, got '" + std::string(text) +
                 "'");
  }
  out = *v;
  return std::nullopt;
}

// The three-argument patterns share a shape: LOAD:LOAD:SECONDS.
PatternResult ParseThree(LoadPattern::Kind kind, std::string_view name, std::string_view usage,
                         std::string_view args) {
  const std::vector<std::string_view> parts = Split(args, ':');
  if (parts.size() != 3) {
    return Error(std::string(name) + " pattern needs " + std::string(usage) + ", got '" +
                 std::string(name) + ":" + std::string(args) + "'");
  }
  const std::vector<std::string_view> names = Split(usage.substr(usage.find(':') + 1), ':');
  double a = 0, b = 0, c = 0;
  if (auto e = ReadLoad(parts[0], std::string(name) + " " + std::string(names[0]), a)) return *e;
  if (auto e = ReadLoad(parts[1], std::string(name) + " " + std::string(names[1]), b)) return *e;
  if (auto e = ReadSeconds(parts[2], std::string(name) + " " + std::string(names[2]), c)) {
    return *e;
  }
  return PatternBuilder::Make(kind, a, b, c);
}

PatternResult ParseCsv(const std::string& path) {
  if (path.empty()) return Error("csv pattern needs a file path: csv:PATH");
  std::ifstream in(path);
  if (!in) return Error("csv pattern: cannot open file '" + path + "'");
  std::vector<LoadPattern::Point> points;
  std::string line;
  int line_no = 0;
  bool seen_first_line = false;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view text = Trim(line);
    if (text.empty()) continue;
    const std::string where = "csv pattern: " + path + ":" + std::to_string(line_no) + ": ";
    const std::vector<std::string_view> fields = Split(text, ',');
    const bool first_line = !seen_first_line;
    seen_first_line = true;
    if (fields.size() != 2) {
      return Error(where + "expected 'time,load', got '" + std::string(text) + "'");
    }
    const std::optional<double> time = ParseDecimal(Trim(fields[0]));
    // A first line whose time is not a number is the header.
    if (!time && first_line) continue;
    if (!time || *time < 0) {
      return Error(where + "time must be a number of seconds >= 0, got '" +
                   std::string(Trim(fields[0])) + "'");
    }
    const std::optional<double> load = ParseDecimal(Trim(fields[1]));
    if (!load || *load < 0 || *load > 1) {
      return Error(where + "load must be a number in [0, 1], got '" + std::string(Trim(fields[1])) +
                   "'");
    }
    if (!points.empty() && *time <= points.back().time) {
      return Error(where + "times must be strictly ascending");
    }
    points.push_back({*time, *load});
  }
  if (in.bad()) return Error("csv pattern: error reading file '" + path + "'");
  if (points.empty()) return Error("csv pattern: file '" + path + "' has no 'time,load' rows");
  return PatternBuilder::MakeCsv(std::move(points));
}

}  // namespace

LoadPattern LoadPattern::Constant(double value) {
  return PatternBuilder::Make(Kind::kConstant, std::clamp(value, 0.0, 1.0), 0, 0);
}

double LoadPattern::At(double t) const {
  if (!(t > 0)) t = 0;  // also maps NaN to 0
  double v = 0;
  switch (kind_) {
    case Kind::kConstant:
      v = a_;
      break;
    case Kind::kRamp:
      v = t >= c_ ? b_ : a_ + (b_ - a_) * (t / c_);
      break;
    case Kind::kSine: {
      const double mid = (a_ + b_) / 2;
      const double amplitude = (b_ - a_) / 2;
      v = mid - amplitude * std::cos(2 * std::numbers::pi * t / c_);
      // Rounding may step just outside [MIN, MAX]; keep the promise of [0, 1].
      v = std::clamp(v, std::min(a_, b_), std::max(a_, b_));
      break;
    }
    case Kind::kStep:
      v = std::fmod(t, c_) < c_ / 2 ? a_ : b_;
      break;
    case Kind::kCsv: {
      // The last row whose time is <= t; before the first row, the first row.
      const auto after = std::upper_bound(points_.begin(), points_.end(), t,
                                          [](double x, const Point& p) { return x < p.time; });
      v = after == points_.begin() ? points_.front().load : std::prev(after)->load;
      break;
    }
  }
  return std::clamp(v, 0.0, 1.0);
}

PatternResult ParseLoadPattern(std::string_view spec) {
  constexpr std::string_view kAccepted =
      "constant:V, ramp:FROM:TO:SECONDS, sine:MIN:MAX:PERIOD, step:LOW:HIGH:PERIOD or csv:PATH";
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return Error("unknown load pattern '" + std::string(spec) + "': expected " +
                 std::string(kAccepted));
  }
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view args = spec.substr(colon + 1);
  if (kind == "constant") {
    if (args.find(':') != std::string_view::npos) {
      return Error("constant pattern needs constant:V, got '" + std::string(spec) + "'");
    }
    double v = 0;
    if (auto e = ReadLoad(args, "constant V", v)) return *e;
    return PatternBuilder::Make(LoadPattern::Kind::kConstant, v, 0, 0);
  }
  if (kind == "ramp") {
    return ParseThree(LoadPattern::Kind::kRamp, "ramp", "ramp:FROM:TO:SECONDS", args);
  }
  if (kind == "sine") {
    return ParseThree(LoadPattern::Kind::kSine, "sine", "sine:MIN:MAX:PERIOD", args);
  }
  if (kind == "step") {
    return ParseThree(LoadPattern::Kind::kStep, "step", "step:LOW:HIGH:PERIOD", args);
  }
  if (kind == "csv") return ParseCsv(std::string(args));  // the path may contain ':'
  return Error("unknown load pattern kind '" + std::string(kind) + "': expected " +
               std::string(kAccepted));
}

}  // namespace mk::mock
