// A fleet load pattern for the mock worker: L(t) in [0, 1] as a function of the
// seconds t since the pattern started. ParseLoadPattern turns the `--pattern` text
// into a pattern or a one-line error; it reads the file of a `csv:` pattern and does
// no other I/O. A parsed LoadPattern is an immutable value: At() is pure, always
// returns a finite value in [0, 1], and is safe to call from any thread.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_LOAD_PATTERN_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_LOAD_PATTERN_H_

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mk::mock {

class LoadPattern {
 public:
  enum class Kind { kConstant, kRamp, kSine, kStep, kCsv };

  // One row of a csv pattern: from `time` seconds on, the load is `load`.
  struct Point {
    double time = 0;
    double load = 0;
  };

  static LoadPattern Constant(double value);

  Kind kind() const { return kind_; }

  // The fleet load t seconds after the pattern started; t < 0 is taken as 0.
  double At(double t) const;

 private:
  LoadPattern() = default;
  friend struct PatternBuilder;

  Kind kind_ = Kind::kConstant;
  // constant: a; ramp: a=FROM b=TO c=SECONDS; sine: a=MIN b=MAX c=PERIOD;
  // step: a=LOW b=HIGH c=PERIOD.
  double a_ = 0;
  double b_ = 0;
  double c_ = 0;
  std::vector<Point> points_;  // csv: at least one, times strictly ascending
};

struct PatternError {
  std::string message;  // one line, names the offending part
};

using PatternResult = std::variant<LoadPattern, PatternError>;

// Accepts `constant:V`, `ramp:FROM:TO:SECONDS`, `sine:MIN:MAX:PERIOD`,
// `step:LOW:HIGH:PERIOD` and `csv:PATH`. Loads must be finite and in [0, 1],
// SECONDS and PERIOD finite and > 0. A csv file holds `time,load` lines (time in
// seconds >= 0, strictly ascending), optionally preceded by one header line; blank
// lines are skipped. Before its first time a csv pattern holds the first load.
PatternResult ParseLoadPattern(std::string_view spec);

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_LOAD_PATTERN_H_
