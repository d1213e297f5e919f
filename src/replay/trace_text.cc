#include "replay/trace_text.h"

#include <algorithm>
#include <set>

#include "absl/time/time.h"
#include "common/decimal.h"

namespace mk::replay {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

bool IsNan(std::string_view text) {
  return text.size() == 3 && (text[0] | 0x20) == 'n' && (text[1] | 0x20) == 'a' &&
         (text[2] | 0x20) == 'n';
}

// Cuts `line` into `cells`; an error message, or empty when fine.
std::string SplitCells(std::string_view line, std::vector<std::string>& cells) {
  cells.clear();
  size_t at = 0;
  while (true) {
    while (at < line.size() && IsBlank(line[at])) ++at;
    std::string& cell = cells.emplace_back();
    if (at < line.size() && line[at] == '"') {
      ++at;
      while (true) {
        const size_t quote = line.find('"', at);
        if (quote == std::string_view::npos) return "a quoted cell is not closed on its line";
        cell.append(line.substr(at, quote - at));
        at = quote + 1;
        if (at < line.size() && line[at] == '"') {  // "" is one quote
          cell += '"';
          ++at;
          continue;
        }
        break;
      }
      while (at < line.size() && IsBlank(line[at])) ++at;
      if (at < line.size() && line[at] != ',') return "text after a quoted cell";
    } else {
      const size_t comma = std::min(line.find(',', at), line.size());
      cell = Trim(line.substr(at, comma - at));
      at = comma;
    }
    if (at >= line.size()) return "";
    ++at;  // the comma; a cell follows, if only an empty one
  }
}

}  // namespace

CsvRows::CsvRows(std::string name, std::string_view text, bool truncated, uint64_t max_rows)
    : name_(std::move(name)), rest_(text), max_rows_(max_rows) {
  if (rest_.starts_with(kByteOrderMark)) rest_.remove_prefix(kByteOrderMark.size());
  if (truncated && !rest_.ends_with('\n')) {
    const size_t last = rest_.rfind('\n');
    rest_ = last == std::string_view::npos ? std::string_view() : rest_.substr(0, last + 1);
  }
}

absl::Status CsvRows::Error(std::string_view what) const {
  return absl::InvalidArgumentError(name_ + ": line " + std::to_string(line_) + ": " +
                                    std::string(what));
}

absl::StatusOr<bool> CsvRows::NextLine() {
  while (!rest_.empty()) {
    const size_t end = std::min(rest_.find('\n'), rest_.size());
    std::string_view line = rest_.substr(0, end);
    rest_.remove_prefix(std::min(end + 1, rest_.size()));
    ++line_;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    if (const std::string error = SplitCells(line, cells_); !error.empty()) return Error(error);
    return true;
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> CsvRows::Header() {
  absl::StatusOr<bool> found = NextLine();
  if (!found.ok()) return found.status();
  if (!*found) {
    return absl::InvalidArgumentError(name_ + ": empty: no header row");
  }
  std::set<std::string_view> names;
  for (const std::string& name : cells_) {
    // Unnamed columns (pandas' index) are allowed, and ignored by the readers.
    if (!name.empty() && !names.insert(name).second) {
      return Error("the header names column \"" + name + "\" twice");
    }
  }
  columns_ = cells_.size();
  return cells_;
}

absl::StatusOr<const std::vector<std::string>*> CsvRows::Next() {
  absl::StatusOr<bool> found = NextLine();
  if (!found.ok()) return found.status();
  if (!*found) return nullptr;
  if (++rows_ > max_rows_) {
    return Error("more than " + std::to_string(max_rows_) + " rows: split the trace");
  }
  if (cells_.size() != columns_) {
    return Error(std::to_string(cells_.size()) + " cells where the header has " +
                 std::to_string(columns_));
  }
  return &cells_;
}

Cell NumberCell(std::string_view text) {
  if (text.empty() || IsNan(text)) return {};
  if (const std::optional<double> value = ParseDecimal(text)) return {value, ""};
  return {std::nullopt, "\"" + std::string(text.substr(0, 64)) + "\" is not a number"};
}

std::optional<TimeCell> ParseTime(std::string_view text) {
  if (const std::optional<double> seconds = ParseDecimal(text)) return TimeCell{*seconds, false};
  // RFC 3339 allows a space for the T (and pandas writes one); a timestamp without
  // an offset is taken as UTC, which a relative trace does not mind.
  std::string timestamp(text);
  if (timestamp.size() > 10 && timestamp[10] == ' ') timestamp[10] = 'T';
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, timestamp, &time, &error) ||
      absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", timestamp, absl::UTCTimeZone(), &time, &error)) {
    // absl also reads "infinite-future" and "infinite-past": no time of a trace.
    if (time != absl::InfiniteFuture() && time != absl::InfinitePast()) {
      return TimeCell{absl::ToDoubleSeconds(time - absl::UnixEpoch()), true};
    }
  }
  return std::nullopt;
}

void StartAtZero(std::vector<TraceSample>& samples) {
  if (samples.empty()) return;
  const double first = samples.front().time;
  for (TraceSample& sample : samples) sample.time -= first;
}

}  // namespace mk::replay
