#include "replay/trace_readers.h"

#include "replay/trace_parsers.h"
#include "replay/trace_text.h"

namespace mk::replay {
namespace {

// Feeds each file to `builder`, one at a time.
template <typename Builder>
absl::StatusOr<Trace> FromFiles(std::span<const std::string> paths, const TraceLimits& limits,
                                Builder builder) {
  for (const std::string& path : paths) {
    absl::StatusOr<recording::FileText> file = recording::ReadMaybeGzipFile(path, limits.max_bytes);
    if (!file.ok()) return file.status();
    if (absl::Status status = builder.Add(path, *file); !status.ok()) return status;
  }
  return builder.Finish();
}

// A text at hand, read as a file would be; errors name it.
absl::StatusOr<recording::FileText> Decode(const std::string& name, std::string_view text,
                                           const TraceLimits& limits) {
  absl::StatusOr<recording::FileText> file = recording::DecodeMaybeGzip(text, limits.max_bytes);
  if (!file.ok()) {
    return absl::Status(file.status().code(), name + ": " + std::string(file.status().message()));
  }
  return file;
}

// Feeds each text to `builder`, named "text 1", "text 2", ...
template <typename Builder>
absl::StatusOr<Trace> FromTexts(std::span<const std::string_view> texts, const TraceLimits& limits,
                                Builder builder) {
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string name = "text " + std::to_string(i + 1);
    absl::StatusOr<recording::FileText> file = Decode(name, texts[i], limits);
    if (!file.ok()) return file.status();
    if (absl::Status status = builder.Add(name, *file); !status.ok()) return status;
  }
  return builder.Finish();
}

enum class Format { kLoadCsv, kUnitCsv, kPrometheus };

// JSON starts with `{`; a CSV whose header names `unit` is per unit.
Format FormatOf(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') return Format::kPrometheus;
  CsvRows rows("", text, false, 0);
  absl::StatusOr<std::vector<std::string>> header = rows.Header();
  if (header.ok()) {
    for (const std::string& name : *header) {
      if (name == recording::ColumnName(recording::Column::kUnit)) return Format::kUnitCsv;
    }
  }
  return Format::kLoadCsv;
}

}  // namespace

absl::StatusOr<Trace> ReadLoadCsv(const std::string& path, const TraceLimits& limits) {
  absl::StatusOr<recording::FileText> file = recording::ReadMaybeGzipFile(path, limits.max_bytes);
  if (!file.ok()) return file.status();
  return LoadCsvTrace(path, *file, limits);
}

absl::StatusOr<Trace> ParseLoadCsv(std::string_view text, const TraceLimits& limits) {
  absl::StatusOr<recording::FileText> file = Decode("text 1", text, limits);
  if (!file.ok()) return file.status();
  return LoadCsvTrace("text 1", *file, limits);
}

absl::StatusOr<Trace> ReadUnitCsv(std::span<const std::string> paths,
                                  const UnitCsvOptions& options) {
  return FromFiles(paths, options.limits, UnitTraceBuilder(options));
}

absl::StatusOr<Trace> ParseUnitCsv(std::span<const std::string_view> texts,
                                   const UnitCsvOptions& options) {
  return FromTexts(texts, options.limits, UnitTraceBuilder(options));
}

absl::StatusOr<Trace> ReadPrometheusRange(std::span<const std::string> paths,
                                          const PrometheusRangeOptions& options) {
  return FromFiles(paths, options.limits, PrometheusTraceBuilder(options));
}

absl::StatusOr<Trace> ParsePrometheusRange(std::span<const std::string_view> texts,
                                           const PrometheusRangeOptions& options) {
  return FromTexts(texts, options.limits, PrometheusTraceBuilder(options));
}

absl::StatusOr<Trace> ReadTrace(std::span<const std::string> paths, const TraceOptions& options) {
  if (paths.empty()) return absl::InvalidArgumentError("no trace file given");
  absl::StatusOr<recording::FileText> first =
      recording::ReadMaybeGzipFile(paths[0], options.limits.max_bytes);
  if (!first.ok()) return first.status();
  const Format format = FormatOf(first->text);
  // A setting the file's format has no use for is a mistake to say, not to ignore.
  if (options.model && format != Format::kPrometheus) {
    return absl::InvalidArgumentError(paths[0] +
                                      ": a model is chosen among Prometheus series only; this "
                                      "is a CSV trace");
  }
  if (!options.target.empty() && format != Format::kUnitCsv) {
    return absl::InvalidArgumentError(
        paths[0] +
        ": a target is chosen in a per-unit CSV (a recording) only; this trace holds "
        "one fleet");
  }
  switch (format) {
    case Format::kLoadCsv:
      if (paths.size() > 1) {
        return absl::InvalidArgumentError(paths[0] + ": a time,load trace is one file; " +
                                          std::to_string(paths.size()) + " were given");
      }
      return LoadCsvTrace(paths[0], *first, options.limits);
    case Format::kUnitCsv: {
      UnitCsvOptions unit{.target = options.target, .model = {}, .limits = options.limits};
      if (options.slots_per_unit) unit.model.slots_per_unit = *options.slots_per_unit;
      UnitTraceBuilder builder(std::move(unit));
      if (absl::Status status = builder.Add(paths[0], *first); !status.ok()) return status;
      first->text = std::string();  // let go before the next file is read
      return FromFiles(paths.subspan(1), options.limits, std::move(builder));
    }
    case Format::kPrometheus: {
      PrometheusTraceBuilder builder({.slots_per_unit = options.slots_per_unit,
                                      .model = options.model,
                                      .limits = options.limits});
      if (absl::Status status = builder.Add(paths[0], *first); !status.ok()) return status;
      first->text = std::string();
      return FromFiles(paths.subspan(1), options.limits, std::move(builder));
    }
  }
  return absl::InternalError("unknown trace format");
}

}  // namespace mk::replay
