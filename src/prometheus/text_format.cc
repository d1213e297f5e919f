#include "prometheus/text_format.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "common/decimal.h"

namespace mk::prometheus {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'.
bool IsNameStart(char c, bool colon) { return IsLetter(c) || c == '_' || (colon && c == ':'); }
bool IsNameChar(char c, bool colon) { return IsNameStart(c, colon) || IsDigit(c); }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// A character of the page as an error message may show it: quoted when printable
// ASCII, else as its byte value (the page is untrusted and goes into logs).
std::string CharText(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0xf];
}

// The length of the UTF-8 sequence starting at text[at], or 0 when it is not a valid
// one (overlong forms, surrogates and code points beyond U+10FFFF are not: RFC 3629).
size_t Utf8SequenceLength(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xbf) return 0;
  }
  return length;
}

std::optional<double> ParseSampleValue(std::string_view text) {
  // Go's ParseFloat spellings of the special values: NaN without a sign, Inf and
  // Infinity with or without one, in any letter case.
  if (EqualsIgnoringCase(text, "nan")) return std::numeric_limits<double>::quiet_NaN();
  std::string_view unsigned_text = text;
  const bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '+' || negative)) unsigned_text.remove_prefix(1);
  if (EqualsIgnoringCase(unsigned_text, "inf") || EqualsIgnoringCase(unsigned_text, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  return ParseDecimal(text);
}

std::optional<int64_t> ParseTimestamp(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  // from_chars takes a '-' itself; a second sign is refused by it.
  if (text.empty() || text.front() == '+') return std::nullopt;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

struct TypeName {
  MetricType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {MetricType::kUntyped, "untyped"}, {MetricType::kCounter, "counter"},
    {MetricType::kGauge, "gauge"},     {MetricType::kHistogram, "histogram"},
    {MetricType::kSummary, "summary"},
};

std::optional<MetricType> ParseType(std::string_view text) {
  for (const TypeName& entry : kTypeNames) {
    if (entry.name == text) return entry.type;
  }
  return std::nullopt;
}

// The family a sample line belongs to when the last `# TYPE` line declared
// `family` of `type`: the type applies to the family's own name and, for histograms
// and summaries, to the names of their parts.
MetricType TypeOfSample(std::string_view name, std::string_view family, MetricType type) {
  if (family.empty() || !name.starts_with(family)) return MetricType::kUntyped;
  const std::string_view suffix = name.substr(family.size());
  if (suffix.empty()) return type;
  if ((type == MetricType::kHistogram && suffix == "_bucket") ||
      ((type == MetricType::kHistogram || type == MetricType::kSummary) &&
       (suffix == "_sum" || suffix == "_count"))) {
    return type;
  }
  return MetricType::kUntyped;
}

// Reads one page. Each line is parsed the same whether or not its sample is kept; a
// skimmed line's label values are checked but never copied.
class PageParser {
 public:
  // `wanted`: sorted and unique.
  PageParser(const std::vector<std::string>& wanted, const TextFormatLimits& limits)
      : wanted_(wanted), limits_(limits) {}

  absl::StatusOr<std::vector<Sample>> Parse(std::string_view page) {
    if (page.size() > limits_.max_page_bytes) {
      return absl::ResourceExhaustedError("the page has " + std::to_string(page.size()) +
                                          " bytes, more than the limit of " +
                                          std::to_string(limits_.max_page_bytes));
    }
    size_t start = 0;
    while (start < page.size()) {
      const size_t newline = page.find('\n', start);
      const size_t end = newline == std::string_view::npos ? page.size() : newline;
      line_ = page.substr(start, end - start);
      start = end + 1;
      ++line_number_;
      if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);
      if (line_.size() > limits_.max_line_bytes) {
        return Exhausted("the line has " + std::to_string(line_.size()) +
                         " bytes, more than the limit of " +
                         std::to_string(limits_.max_line_bytes));
      }
      at_ = 0;
      if (absl::Status status = ParseLine(); !status.ok()) return status;
    }
    return std::move(samples_);
  }

 private:
  absl::Status ParseLine() {
    SkipBlanks();
    if (AtEnd()) return absl::OkStatus();  // a blank line
    if (Peek() == '#') {
      ++at_;
      return ParseComment();
    }
    return ParseSample();
  }

  // `# HELP name text`, `# TYPE name type`, or any other comment (ignored).
  absl::Status ParseComment() {
    SkipBlanks();
    const std::string_view keyword = Token();
    if (keyword != "HELP" && keyword != "TYPE") return absl::OkStatus();
    SkipBlanks();
    const std::string_view name = Name(/*colon=*/true);
    if (name.empty()) {
      return Malformed(std::string(keyword) + " line without a metric name" + Found());
    }
    if (!AtEnd() && !IsBlank(Peek())) {
      return Malformed("unexpected " + CharText(Peek()) + " in the metric name of a " +
                       std::string(keyword) + " line");
    }
    if (keyword == "HELP") return absl::OkStatus();  // the text is free
    SkipBlanks();
    const std::string_view type_text = Token();
    const std::optional<MetricType> type = ParseType(type_text);
    if (!type) {
      return Malformed("TYPE of " + std::string(name) + " is not one of counter, gauge, " +
                       "histogram, summary, untyped");
    }
    SkipBlanks();
    if (!AtEnd()) return Malformed("unexpected text after the type of " + std::string(name));
    family_ = name;
    family_type_ = *type;
    return absl::OkStatus();
  }

  absl::Status ParseSample() {
    const std::string_view name = Name(/*colon=*/true);
    if (name.empty()) return Malformed("expected a metric name or '#'" + Found());
    metric_ = name;
    const bool keep = std::binary_search(wanted_.begin(), wanted_.end(), name, std::less<>());
    Sample sample;
    if (keep) {
      if (samples_.size() >= limits_.max_samples_kept) {
        return Exhausted("more than " + std::to_string(limits_.max_samples_kept) +
                         " samples of the wanted metrics");
      }
      sample.name = std::string(name);
      sample.type = TypeOfSample(name, family_, family_type_);
    }
    label_names_.clear();
    // As Prometheus's own parser: blanks may stand before the braces and after them;
    // after a bare name they end it.
    const size_t name_end = at_;
    SkipBlanks();
    if (!AtEnd() && Peek() == '{') {
      ++at_;
      if (absl::Status status = ParseLabels(keep ? &sample : nullptr); !status.ok()) {
        return status;
      }
      SkipBlanks();
    } else if (!AtEnd() && at_ == name_end) {
      return Malformed("unexpected " + CharText(Peek()) + " after " + std::string(name));
    }
    if (AtEnd()) return Malformed("no value after " + std::string(name));
    const std::string_view value_text = Token();
    const std::optional<double> value = ParseSampleValue(value_text);
    if (!value) {
      return Malformed("the value of " + std::string(name) +
                       " is neither a decimal number within the range of a double nor NaN, "
                       "+Inf or -Inf");
    }
    sample.value = *value;
    SkipBlanks();
    if (!AtEnd()) {
      const std::optional<int64_t> timestamp = ParseTimestamp(Token());
      if (!timestamp) {
        return Malformed("the timestamp of " + std::string(name) +
                         " is not a 64-bit integer of milliseconds");
      }
      sample.timestamp_ms = timestamp;
      SkipBlanks();
      if (!AtEnd()) {
        return Malformed("unexpected text after the timestamp of " + std::string(name));
      }
    }
    if (keep) samples_.push_back(std::move(sample));
    return absl::OkStatus();
  }

  // The label pairs after '{', up to and including '}'. `out`: where a kept sample's
  // labels go; null for a skimmed one.
  absl::Status ParseLabels(Sample* out) {
    while (true) {
      SkipBlanks();
      if (AtEnd()) return Malformed("'}' missing" + InLabels());
      if (Peek() == '}') {
        ++at_;
        return absl::OkStatus();
      }
      const std::string_view name = Name(/*colon=*/false);
      if (name.empty()) return Malformed("expected a label name or '}'" + Found() + InLabels());
      if (name.size() > limits_.max_label_name_bytes) {
        return Exhausted("a label name of " + std::to_string(name.size()) +
                         " bytes, more than the limit of " +
                         std::to_string(limits_.max_label_name_bytes) + InLabels());
      }
      if (std::find(label_names_.begin(), label_names_.end(), name) != label_names_.end()) {
        return Malformed("label " + std::string(name) + " repeated" + InLabels());
      }
      if (label_names_.size() >= limits_.max_labels_per_sample) {
        return Exhausted("more than " + std::to_string(limits_.max_labels_per_sample) + " labels" +
                         InLabels());
      }
      label_names_.push_back(name);
      SkipBlanks();
      if (AtEnd() || Peek() != '=')
        return Malformed("expected '=' after label " + std::string(name) + Found() + InLabels());
      ++at_;
      SkipBlanks();
      if (AtEnd() || Peek() != '"') {
        return Malformed("expected '\"' to open the value of label " + std::string(name) + Found() +
                         InLabels());
      }
      ++at_;
      std::string* value = nullptr;
      if (out != nullptr) {
        out->labels.push_back(Label{std::string(name), {}});
        value = &out->labels.back().value;
      }
      if (absl::Status status = LabelValue(name, value); !status.ok()) return status;
      SkipBlanks();
      if (!AtEnd() && Peek() == ',') {
        ++at_;
      } else if (AtEnd() || Peek() != '}') {
        return Malformed("expected ',' or '}' after the value of label " + std::string(name) +
                         Found() + InLabels());
      }
    }
  }

  // A label value after its opening quote, up to and including the closing one;
  // unescaped into `out` unless it is null.
  absl::Status LabelValue(std::string_view label, std::string* out) {
    size_t length = 0;  // unescaped
    while (true) {
      if (AtEnd())
        return Malformed("the value of label " + std::string(label) + " is not closed" +
                         InLabels());
      const char c = Peek();
      if (c == '"') {
        ++at_;
        return absl::OkStatus();
      }
      char unescaped = c;
      size_t width = 1;
      if (c == '\\') {
        if (at_ + 1 >= line_.size()) {
          return Malformed("the value of label " + std::string(label) + " ends in '\\'" +
                           InLabels());
        }
        const char escaped = line_[at_ + 1];
        if (escaped == 'n') {
          unescaped = '\n';
        } else if (escaped == '\\' || escaped == '"') {
          unescaped = escaped;
        } else {
          return Malformed("unknown escape '\\' followed by " + CharText(escaped) +
                           " in the value of label " + std::string(label) + InLabels());
        }
        width = 2;
      } else {
        width = Utf8SequenceLength(line_, at_);
        if (width == 0) {
          return Malformed("the value of label " + std::string(label) + " is not UTF-8" +
                           InLabels());
        }
      }
      length += c == '\\' ? 1 : width;
      if (length > limits_.max_label_value_bytes) {
        return Exhausted("the value of label " + std::string(label) + " has more than " +
                         std::to_string(limits_.max_label_value_bytes) + " bytes" + InLabels());
      }
      if (out != nullptr) {
        if (c == '\\') {
          out->push_back(unescaped);
        } else {
          out->append(line_.substr(at_, width));
        }
      }
      at_ += width;
    }
  }

  bool AtEnd() const { return at_ >= line_.size(); }
  char Peek() const { return line_[at_]; }
  void SkipBlanks() {
    while (!AtEnd() && IsBlank(Peek())) ++at_;
  }
  // The characters up to the next blank or the end of the line.
  std::string_view Token() {
    const size_t start = at_;
    while (!AtEnd() && !IsBlank(Peek())) ++at_;
    return line_.substr(start, at_ - start);
  }
  // A metric name (`colon`) or label name at the cursor; empty when there is none.
  std::string_view Name(bool colon) {
    const size_t start = at_;
    if (AtEnd() || !IsNameStart(Peek(), colon)) return {};
    while (!AtEnd() && IsNameChar(Peek(), colon)) ++at_;
    return line_.substr(start, at_ - start);
  }
  // Where in a sample line an error is: " in the labels of <metric>".
  std::string InLabels() const { return " in the labels of " + std::string(metric_); }
  // ", found X" for the character at the cursor, or ", found the end of the line".
  std::string Found() const {
    return AtEnd() ? ", found the end of the line" : ", found " + CharText(Peek());
  }

  absl::Status Malformed(const std::string& what) const {
    return absl::InvalidArgumentError("line " + std::to_string(line_number_) + ": " + what);
  }
  absl::Status Exhausted(const std::string& what) const {
    return absl::ResourceExhaustedError("line " + std::to_string(line_number_) + ": " + what);
  }

  const std::vector<std::string>& wanted_;
  const TextFormatLimits& limits_;
  std::string_view line_;
  size_t at_ = 0;
  size_t line_number_ = 0;
  std::string_view metric_;  // of the sample line being read
  std::string_view family_;  // of the last TYPE line
  MetricType family_type_ = MetricType::kUntyped;
  std::vector<std::string_view> label_names_;  // of the current sample
  std::vector<Sample> samples_;
};

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  for (const TypeName& entry : kTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "untyped";
}

std::optional<std::string_view> Sample::LabelValue(std::string_view label_name) const {
  for (const Label& label : labels) {
    if (label.name == label_name) return label.value;
  }
  return std::nullopt;
}

TextFormatReader::TextFormatReader(std::vector<std::string> wanted, TextFormatLimits limits)
    : wanted_(std::move(wanted)), limits_(limits) {
  std::sort(wanted_.begin(), wanted_.end());
  wanted_.erase(std::unique(wanted_.begin(), wanted_.end()), wanted_.end());
}

absl::StatusOr<std::vector<Sample>> TextFormatReader::Read(std::string_view page) const {
  return PageParser(wanted_, limits_).Parse(page);
}

}  // namespace mk::prometheus
