// What replay's trace readers (trace_readers.h) share: CSV rows with their line
// numbers, numbers and times as traces write them, and a series' times made
// relative. Not a public interface: the readers' own. Pure; thread-safe.
//
// CSV as RFC 4180 has it, as pandas, duckdb, spreadsheets and the recorder write it:
// comma separated, a header row, cells optionally quoted ("a ""b""") but never
// spanning lines, CRLF or LF line ends, a UTF-8 byte order mark tolerated, blank
// lines skipped, spaces around unquoted cells trimmed.
#ifndef METRICS_KEDA_REPLAY_TRACE_TEXT_H_
#define METRICS_KEDA_REPLAY_TRACE_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replay/trace.h"

namespace mk::replay {

// Reads a CSV text's rows one at a time. `name` (a file's path) starts every error.
class CsvRows {
 public:
  // `truncated`: the text was cut short (a gzip stream without its end), so its last
  // line, if it has no line end, is dropped rather than read half. At most
  // `max_rows` rows after the header.
  CsvRows(std::string name, std::string_view text, bool truncated, uint64_t max_rows);

  // The header's cells; an error for a text without one, or with a name twice.
  absl::StatusOr<std::vector<std::string>> Header();
  // The next row's cells (as many as the header's, else an error), or null at the
  // end. The cells stay valid until the next call.
  absl::StatusOr<const std::vector<std::string>*> Next();

  // Calls `visit(cells)` for each row until the end or the first error (the reader's
  // or `visit`'s, which it returns).
  template <typename Visit>
  absl::Status ForEach(Visit&& visit) {
    while (true) {
      absl::StatusOr<const std::vector<std::string>*> row = Next();
      if (!row.ok()) return row.status();
      if (*row == nullptr) return absl::OkStatus();
      if (absl::Status status = visit(**row); !status.ok()) return status;
    }
  }

  size_t line() const { return line_; }  // the line last read, from 1
  // "<name>: line <n>: <what>", as INVALID_ARGUMENT.
  absl::Status Error(std::string_view what) const;

 private:
  // Splits the next non-blank line into cells_; false at the end.
  absl::StatusOr<bool> NextLine();

  const std::string name_;
  std::string_view rest_;
  const uint64_t max_rows_;
  size_t line_ = 0;
  uint64_t rows_ = 0;
  size_t columns_ = 0;
  std::vector<std::string> cells_;
};

// A cell as a number: none when empty or NaN (no value at that moment); an error
// message when it is anything but a finite decimal number.
struct Cell {
  std::optional<double> value;
  std::string error;  // empty when fine
};
Cell NumberCell(std::string_view text);

// A time cell: seconds (relative, or since the Unix epoch) or an RFC 3339 timestamp
// ("2026-01-05T14:02:11.250Z", "+01:00" offsets, a space for the T). `rfc3339` says
// which form it was, so that a trace mixing both is refused.
struct TimeCell {
  double seconds = 0;
  bool rfc3339 = false;
};
std::optional<TimeCell> ParseTime(std::string_view text);

// Makes the samples' times relative to the first (which becomes 0).
void StartAtZero(std::vector<TraceSample>& samples);

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_TRACE_TEXT_H_
