// A strict reader of the Prometheus text exposition format, version 0.0.4: the page a
// process serves on /metrics (prometheus.io/docs/instrumenting/exposition_formats, "Text
// format details"). The scaler reads a few gauges out of Dynamo worker pages that also
// carry hundreds of other series (vLLM's histograms, per engine and per finish reason),
// so the reader is told which metric names it wants and keeps only their samples; every
// other line is checked but not stored.
//
// Strict: a line that is not in the format fails the whole page, as a Prometheus
// server fails the scrape, with the line number and what was wrong. Bounded: whatever
// the input, the work is linear in the page (a line's labels are compared pairwise, at
// most max_labels_per_sample of them), and what is kept is at most `max_samples_kept`
// samples whose labels were copied from the page, so never more than about the page's
// own size (TextFormatLimits); a page beyond a limit is refused, never read in part.
//
// For the worker gauges (dynamo/worker_gauges.h) and anything else that reads another
// process's /metrics. A TextFormatReader is immutable after construction: Read() is
// const and safe to call from any number of threads at once.
#ifndef METRICS_KEDA_PROMETHEUS_TEXT_FORMAT_H_
#define METRICS_KEDA_PROMETHEUS_TEXT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mk::prometheus {

// The type a `# TYPE` line declares for a metric family; kUntyped when none does.
enum class MetricType { kUntyped, kCounter, kGauge, kHistogram, kSummary };

// "untyped", "counter", "gauge", "histogram", "summary": as written in `# TYPE` lines.
std::string_view MetricTypeName(MetricType type);

struct Label {
  std::string name;
  std::string value;  // escapes (\\, \", \n) resolved; valid UTF-8

  friend bool operator==(const Label&, const Label&) = default;
};

// One kept sample line.
struct Sample {
  // The sample's own name: for a histogram, `<family>_bucket`, `_sum` or `_count`.
  std::string name;
  std::vector<Label> labels;  // in page order; names distinct
  // Any double the format allows, NaN and infinities included: judging values is the
  // caller's business.
  double value = 0;
  std::optional<int64_t> timestamp_ms;  // milliseconds since the Unix epoch, when given
  // Declared by the `# TYPE` line of the sample's family (the type line just before the
  // family's samples, as the format requires); kUntyped without one.
  MetricType type = MetricType::kUntyped;

  // The value of label `label_name`; none when the sample has no such label.
  std::optional<std::string_view> LabelValue(std::string_view label_name) const;
};

// Bounds on what a page may hold. The defaults fit the largest worker pages seen with
// room to spare: a vLLM worker with 8 data-parallel engines serves about 0.5 MiB
// (histograms of ~20 buckets per engine and finish reason), lines stay under 1 KiB,
// samples carry up to 8 labels, and the gauges the scaler wants number a few per
// data-parallel rank.
struct TextFormatLimits {
  // The whole page. 16 MiB is ~30 times the largest page seen; a page beyond it is a
  // broken or hostile worker, and refusing it bounds the time one scrape can take.
  size_t max_page_bytes = size_t{16} << 20;
  // One line, its end of line excluded. HELP texts and model paths in label values are
  // the long ones, well under 4 KiB.
  size_t max_line_bytes = size_t{64} << 10;
  // Labels on one sample (Dynamo adds 5 to an engine's 2 to 4, a histogram bucket `le`).
  size_t max_labels_per_sample = 64;
  // One label's name, and one label's value after unescaping. A value holds at most a
  // model path (PATH_MAX is 4096 bytes).
  size_t max_label_name_bytes = 256;
  size_t max_label_value_bytes = 4096;
  // Samples kept (those of the wanted names). A worker has at most a few hundred
  // data-parallel ranks, each with a handful of the wanted gauges.
  size_t max_samples_kept = 4096;
};

class TextFormatReader {
 public:
  // `wanted`: the sample names to keep, exactly as they appear on sample lines (a
  // histogram's buckets are `<family>_bucket`). Duplicates are harmless.
  explicit TextFormatReader(std::vector<std::string> wanted, TextFormatLimits limits = {});

  // The samples of the wanted names on `page`, in page order; an empty vector when the
  // page has none of them (an empty page is a valid one).
  //
  // Accepted: lines ending in LF or CRLF (the last line may lack its end of line), blank
  // lines, `# HELP name text`, `# TYPE name counter|gauge|histogram|summary|untyped`,
  // any other `#` comment, and sample lines
  //   name[{label="value",...}] value [timestamp]
  // with blanks (spaces, tabs) between the parts (optional around the braces, as
  // Prometheus's own parser has them) and inside the braces, a trailing comma in them, the escapes
  // \\ \" \n in label values, values in decimal (an optional sign, digits, a fraction, an exponent)
  // or NaN, +Inf, -Inf (Go's ParseFloat spellings: Inf and Infinity with an optional sign, NaN, any
  // letter case), and a timestamp in integer milliseconds.
  //
  // Errors name the 1-based line and what was wrong:
  //   INVALID_ARGUMENT: a malformed line (a bad metric or label name, an unclosed or
  //     badly escaped or non-UTF-8 label value, a repeated label name, a value or
  //     timestamp that is not a number, text after the timestamp, a TYPE line with an
  //     unknown type, a HELP or TYPE line without a metric name);
  //   RESOURCE_EXHAUSTED: the page, a line, a label name or value, the labels of a sample,
  //     or the kept samples beyond `limits`.
  // Hexadecimal values (which Go would take) are refused: no exposition library writes
  // them. Values below the smallest double (1e-400) are refused rather than read as 0.
  absl::StatusOr<std::vector<Sample>> Read(std::string_view page) const;

  const TextFormatLimits& limits() const { return limits_; }

 private:
  std::vector<std::string> wanted_;  // sorted, unique
  TextFormatLimits limits_;
};

}  // namespace mk::prometheus

#endif  // METRICS_KEDA_PROMETHEUS_TEXT_FORMAT_H_
