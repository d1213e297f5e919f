// The CSV traces: time,load, and per unit (the recording format).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "fleet/fleet_figures.h"
#include "fleet/unit.h"
#include "recording/record_format.h"
#include "replay/trace_parsers.h"
#include "replay/trace_text.h"

namespace mk::replay {
namespace {

using recording::Column;
using recording::ColumnName;

// Counts above 2^53 are not exact in a double, and no worker has that many of
// anything: such a cell is corrupt.
constexpr double kMaxCount = 9007199254740992.0;

// The header's index of each name it has.
class Columns {
 public:
  explicit Columns(const std::vector<std::string>& header) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (!header[i].empty()) index_.emplace(header[i], i);
    }
  }
  std::optional<size_t> Find(std::string_view name) const {
    auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }
  const std::map<std::string, size_t, std::less<>>& all() const { return index_; }

 private:
  std::map<std::string, size_t, std::less<>> index_;
};

// Times of one reading: one form throughout, strictly increasing where asked.
class TimeColumn {
 public:
  absl::StatusOr<double> Read(const CsvRows& rows, const std::string& cell) {
    const std::optional<TimeCell> time = ParseTime(cell);
    if (!time) {
      return rows.Error("time \"" + cell.substr(0, 64) +
                        "\" is neither seconds nor an RFC 3339 timestamp");
    }
    if (rfc3339_ && *rfc3339_ != time->rfc3339) {
      return rows.Error("time \"" + cell.substr(0, 64) +
                        "\": the trace mixes seconds and RFC 3339 timestamps");
    }
    rfc3339_ = time->rfc3339;
    return time->seconds;
  }

 private:
  std::optional<bool> rfc3339_;
};

absl::Status Missing(const std::string& name, std::string_view column, std::string_view what) {
  return absl::InvalidArgumentError(
      fmt::format("{}: line 1: the header names no `{}` column ({})", name, column, what));
}

// A gzip stream without its end: a recorder killed mid-file (its last snapshot is
// whole, flushed), or a copy cut short. Its rows are read up to the last whole one.
std::string CutShort(const std::string& name) {
  return name + ": the gzip stream is cut short; read up to its last whole row";
}

}  // namespace

absl::StatusOr<Trace> LoadCsvTrace(const std::string& name, const recording::FileText& file,
                                   const TraceLimits& limits) {
  CsvRows rows(name, file.text, file.truncated, limits.max_rows);
  absl::StatusOr<std::vector<std::string>> header = rows.Header();
  if (!header.ok()) return header.status();
  const Columns columns(*header);
  const std::optional<size_t> time_at = columns.Find("time");
  const std::optional<size_t> load_at = columns.Find("load");
  if (!time_at) return Missing(name, "time", "seconds or RFC 3339 timestamps");
  if (!load_at) return Missing(name, "load", "the fleet's demand in worker capacities");
  std::vector<std::pair<std::string_view, size_t>> others;
  for (const auto& [column, at] : columns.all()) {
    if (at != *time_at && at != *load_at) others.emplace_back(column, at);
  }

  Trace trace;
  TimeColumn times;
  absl::Status read = rows.ForEach([&](const std::vector<std::string>& cells) -> absl::Status {
    absl::StatusOr<double> time = times.Read(rows, cells[*time_at]);
    if (!time.ok()) return time.status();
    if (!trace.samples.empty() && *time <= trace.samples.back().time) {
      return rows.Error(fmt::format("time {} does not follow {}: times must strictly increase",
                                    cells[*time_at], trace.samples.back().time));
    }
    TraceSample& sample = trace.samples.emplace_back();
    sample.time = *time;
    const Cell load = NumberCell(cells[*load_at]);
    if (!load.error.empty()) return rows.Error("load: " + load.error);
    if (load.value && *load.value < 0) return rows.Error("load: negative: " + cells[*load_at]);
    sample.demand = load.value;
    for (const auto& [column, at] : others) {
      const Cell value = NumberCell(cells[at]);
      if (!value.error.empty()) return rows.Error(std::string(column) + ": " + value.error);
      sample.columns.emplace(column, value.value);
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (trace.samples.empty()) return rows.Error("no rows after the header");
  if (file.truncated) trace.warnings.push_back(CutShort(name));
  StartAtZero(trace.samples);
  return trace;
}

std::optional<double> FleetDemand(std::span<const dynamo::WorkerLoad> known, double units,
                                  const LoadModel& model) {
  if (known.empty()) {
    if (units == 0) return 0.0;
    return std::nullopt;
  }
  const std::optional<double> demand = DemandOf(known, model);
  if (!demand) return std::nullopt;
  const auto count = static_cast<double>(known.size());
  return *demand * std::max(units, count) / count;
}

// ---- per unit ----

namespace {

// The figure columns of a unit row, where the header has them.
struct FigureColumns {
  std::optional<size_t> kv_used, kv_total, kv_usage, slots_used, slots_total, waiting, prefill,
      load;

  explicit FigureColumns(const Columns& columns)
      : kv_used(columns.Find(ColumnName(Column::kKvUsed))),
        kv_total(columns.Find(ColumnName(Column::kKvTotal))),
        kv_usage(columns.Find(ColumnName(Column::kKvUsage))),
        slots_used(columns.Find(ColumnName(Column::kSlotsUsed))),
        slots_total(columns.Find(ColumnName(Column::kSlotsTotal))),
        waiting(columns.Find(ColumnName(Column::kWaiting))),
        prefill(columns.Find(ColumnName(Column::kPrefillTokensQueued))),
        load(columns.Find(ColumnName(Column::kLoad))) {}

  bool any() const {
    return kv_used || kv_total || kv_usage || slots_used || slots_total || waiting || prefill ||
           load;
  }
};

// One moment of one target.
struct Moment {
  double time = 0;
  bool fleet_row = false;
  std::string fleet_state;
  std::optional<double> fleet_units;
  std::vector<dynamo::WorkerLoad> known;
  double units = 0;  // of the unit rows
  std::set<std::string> names;
};

// A target's moments in one file.
struct TargetMoments {
  std::vector<TraceSample> samples;
  std::optional<Moment> open;
};

// One file's run of a target's moments.
struct Segment {
  std::string file;
  std::vector<TraceSample> samples;
};

struct TargetTotals {
  std::vector<Segment> segments;
  uint64_t unit_rows = 0;
  uint64_t load_rows = 0;                    // unit rows whose figures define a load
  std::map<uint64_t, uint64_t> slot_totals;  // slots_total -> how many rows
};

}  // namespace

struct UnitTraceBuilder::State {
  UnitCsvOptions options;
  std::map<std::string, TargetTotals> targets;
  TimeColumn times;   // one form across the files
  std::string names;  // of the files read, for messages
  std::vector<std::string> warnings;

  absl::Status Read(const std::string& name, const recording::FileText& file);
};

UnitTraceBuilder::UnitTraceBuilder(UnitCsvOptions options)
    : state_(std::make_unique<State>(State{std::move(options), {}, {}, {}, {}})) {}
UnitTraceBuilder::~UnitTraceBuilder() = default;
UnitTraceBuilder::UnitTraceBuilder(UnitTraceBuilder&&) noexcept = default;
UnitTraceBuilder& UnitTraceBuilder::operator=(UnitTraceBuilder&&) noexcept = default;

absl::Status UnitTraceBuilder::Add(const std::string& name, const recording::FileText& file) {
  state_->names += (state_->names.empty() ? "" : ", ") + name;
  return state_->Read(name, file);
}

namespace {

bool IsCount(double value) {
  return value >= 0 && value <= kMaxCount && value == std::floor(value);
}
bool IsFraction(double value) { return value >= 0 && value <= 1; }
bool IsUnits(double value) { return value >= 0; }

// The number in `column` (none when the header has no such column, or its cell is
// empty or NaN); an error naming the column when it is no number or not `valid`.
absl::Status ReadCell(const CsvRows& rows, const std::vector<std::string>& cells,
                      std::optional<size_t> at, std::string_view column, bool (*valid)(double),
                      std::string_view rule, std::optional<double>& out) {
  if (!at) return absl::OkStatus();
  const Cell cell = NumberCell(cells[*at]);
  if (!cell.error.empty()) return rows.Error(std::string(column) + ": " + cell.error);
  if (cell.value && !valid(*cell.value)) {
    return rows.Error(std::string(column) + ": \"" + cells[*at].substr(0, 64) + "\" is not " +
                      std::string(rule));
  }
  out = cell.value;
  return absl::OkStatus();
}

std::optional<uint64_t> AsCount(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return static_cast<uint64_t>(*value);
}

// The unit's record as the scaler's figure code reads it.
absl::StatusOr<dynamo::WorkerLoad> UnitRecord(const CsvRows& rows,
                                              const std::vector<std::string>& cells,
                                              const FigureColumns& at) {
  std::optional<double> kv_used, kv_total, slots_used, slots_total, waiting, prefill, kv_usage,
      load;
  constexpr std::string_view kCount = "a whole count";
  constexpr std::string_view kFraction = "a fraction in [0, 1]";
  for (absl::Status status : {
           ReadCell(rows, cells, at.kv_used, ColumnName(Column::kKvUsed), IsCount, kCount, kv_used),
           ReadCell(rows, cells, at.kv_total, ColumnName(Column::kKvTotal), IsCount, kCount,
                    kv_total),
           ReadCell(rows, cells, at.slots_used, ColumnName(Column::kSlotsUsed), IsCount, kCount,
                    slots_used),
           ReadCell(rows, cells, at.slots_total, ColumnName(Column::kSlotsTotal), IsCount, kCount,
                    slots_total),
           ReadCell(rows, cells, at.waiting, ColumnName(Column::kWaiting), IsCount, kCount,
                    waiting),
           ReadCell(rows, cells, at.prefill, ColumnName(Column::kPrefillTokensQueued), IsCount,
                    kCount, prefill),
           ReadCell(rows, cells, at.kv_usage, ColumnName(Column::kKvUsage), IsFraction, kFraction,
                    kv_usage),
           ReadCell(rows, cells, at.load, ColumnName(Column::kLoad), IsFraction, kFraction, load),
       }) {
    if (!status.ok()) return status;
  }
  dynamo::WorkerLoad record;
  // A used count without its total (or the other way round) says no usage.
  if (kv_used && kv_total) {
    record.kv_active_blocks = *AsCount(kv_used);
    record.kv_total_blocks = *AsCount(kv_total);
  }
  if (slots_used && slots_total) {
    record.request_active_slots = *AsCount(slots_used);
    record.request_total_slots = *AsCount(slots_total);
  }
  record.num_requests_waiting = AsCount(waiting);
  record.prefill_tokens_queued = AsCount(prefill);
  record.gpu_cache_usage_perc = kv_usage;
  // `load` alone (no figure it derives from): the unit's load as a KV usage, which
  // FiguresOf reads back as the load.
  if (!fleet::FiguresOf(record).load) record.gpu_cache_usage_perc = load;
  return record;
}

void CloseMoment(TargetMoments& moments, const LoadModel& model) {
  if (!moments.open) return;
  Moment& moment = *moments.open;
  TraceSample& sample = moments.samples.emplace_back();
  sample.time = moment.time;
  const std::string_view reporting = fleet::UnitStateName(fleet::UnitState::kReporting);
  if (!moment.fleet_row || moment.fleet_state.empty() || moment.fleet_state == reporting) {
    // A file cut short mid-moment has fewer unit rows than its fleet row counted: the
    // missing units are unknown, and the known ones stand for them.
    sample.demand = FleetDemand(moment.known, moment.fleet_units.value_or(moment.units), model);
  }
  moments.open.reset();
}

}  // namespace

absl::Status UnitTraceBuilder::State::Read(const std::string& name,
                                           const recording::FileText& file) {
  if (file.truncated) warnings.push_back(CutShort(name));
  CsvRows rows(name, file.text, file.truncated, options.limits.max_rows);
  absl::StatusOr<std::vector<std::string>> header = rows.Header();
  if (!header.ok()) return header.status();
  const Columns columns(*header);
  const std::optional<size_t> time_at = columns.Find(ColumnName(Column::kTime));
  const std::optional<size_t> unit_at = columns.Find(ColumnName(Column::kUnit));
  if (!time_at) return Missing(name, "time", "seconds or RFC 3339 timestamps");
  if (!unit_at) return Missing(name, "unit", "the unit each row is about");
  const FigureColumns figures(columns);
  if (!figures.any()) {
    return Missing(name, "kv_usage",
                   "nor any other figure: kv_used and kv_total, slots_used and slots_total, "
                   "waiting, load");
  }
  const std::array<std::optional<size_t>, 3> target_at = {
      columns.Find(ColumnName(Column::kNamespace)), columns.Find(ColumnName(Column::kComponent)),
      columns.Find(ColumnName(Column::kEndpoint))};
  const std::optional<size_t> state_at = columns.Find(ColumnName(Column::kState));
  const std::optional<size_t> units_at = columns.Find(ColumnName(Column::kUnits));
  const bool has_target = target_at[0] || target_at[1] || target_at[2];
  const std::string_view reporting = fleet::UnitStateName(fleet::UnitState::kReporting);

  std::map<std::string, TargetMoments> moments;
  absl::Status read = rows.ForEach([&](const std::vector<std::string>& cells) -> absl::Status {
    absl::StatusOr<double> time = times.Read(rows, cells[*time_at]);
    if (!time.ok()) return time.status();
    std::string target;
    if (has_target) {
      for (size_t i = 0; i < target_at.size(); ++i) {
        if (i > 0) target += '/';
        if (target_at[i]) target += cells[*target_at[i]];
      }
    }
    TargetMoments& of_target = moments[target];
    if (of_target.open && *time < of_target.open->time) {
      return rows.Error(
          fmt::format("time {} goes back from {}: a moment's rows are together, "
                      "moments in increasing time",
                      cells[*time_at], of_target.open->time));
    }
    if (of_target.open && *time > of_target.open->time) CloseMoment(of_target, options.model);
    if (!of_target.open) {
      of_target.open.emplace();
      of_target.open->time = *time;
    }
    Moment& moment = *of_target.open;

    const std::string& unit = cells[*unit_at];
    if (unit.empty()) return rows.Error("a row without a unit");
    std::optional<double> units;
    if (absl::Status status = ReadCell(rows, cells, units_at, ColumnName(Column::kUnits), IsUnits,
                                       "a count of units", units);
        !status.ok()) {
      return status;
    }
    const std::string state = state_at ? cells[*state_at] : std::string();
    if (unit == recording::kFleetUnit) {
      if (moment.fleet_row) return rows.Error("a second fleet row (unit *) at one time");
      moment.fleet_row = true;
      moment.fleet_state = state;
      moment.fleet_units = units;
      return absl::OkStatus();
    }
    if (!moment.names.insert(unit).second) {
      return rows.Error("unit " + unit.substr(0, 64) + " twice at time " + cells[*time_at]);
    }
    TargetTotals& totals = targets[target];
    ++totals.unit_rows;
    moment.units += units.value_or(1);
    absl::StatusOr<dynamo::WorkerLoad> record = UnitRecord(rows, cells, figures);
    if (!record.ok()) return record.status();
    // Only a reporting unit's figures are known; a row without a state is one.
    if ((state.empty() || state == reporting) && fleet::FiguresOf(*record).load) {
      ++totals.load_rows;
      if (record->request_total_slots > 0) ++totals.slot_totals[record->request_total_slots];
      moment.known.push_back(*record);
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  for (auto& [target, of_target] : moments) {
    CloseMoment(of_target, options.model);
    targets[target].segments.push_back({name, std::move(of_target.samples)});
  }
  return absl::OkStatus();
}

absl::StatusOr<Trace> UnitTraceBuilder::Finish() {
  const std::map<std::string, TargetTotals>& targets = state_->targets;
  if (targets.empty()) {
    return absl::InvalidArgumentError(state_->names.empty()
                                          ? "no per-unit file given"
                                          : state_->names + ": no rows after the header");
  }
  std::string listed;
  for (const auto& [target, totals] : targets) {
    listed += (listed.empty() ? "" : ", ") + (target.empty() ? "(no target columns)" : target);
  }
  const std::string& wanted = state_->options.target;
  auto chosen = targets.end();
  if (!wanted.empty()) {
    chosen = targets.find(wanted);
    if (chosen == targets.end()) {
      return absl::NotFoundError("target " + wanted + " is not in the trace; it holds " + listed);
    }
  } else if (targets.size() == 1) {
    chosen = targets.begin();
  } else {
    return absl::InvalidArgumentError("the trace holds " + std::to_string(targets.size()) +
                                      " targets: say which to read (" + listed + ")");
  }
  TargetTotals totals = chosen->second;
  if (totals.unit_rows > 0 && totals.load_rows == 0) {
    return absl::InvalidArgumentError(
        "no unit row of " + (chosen->first.empty() ? "the trace" : chosen->first) +
        " defines a load: give kv_usage, kv_used with kv_total, slots_used with slots_total, "
        "or load");
  }
  // The files of a rotated set, in time order; their moments may not overlap.
  std::vector<Segment>& segments = totals.segments;
  std::erase_if(segments, [](const Segment& segment) { return segment.samples.empty(); });
  std::sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) {
    return a.samples.front().time < b.samples.front().time;
  });
  Trace trace;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0 && segments[i].samples.front().time <= segments[i - 1].samples.back().time) {
      return absl::InvalidArgumentError(
          fmt::format("{} and {} overlap in time ({} is not after {}): give the files of one "
                      "recording",
                      segments[i - 1].file, segments[i].file, segments[i].samples.front().time,
                      segments[i - 1].samples.back().time));
    }
    trace.samples.insert(trace.samples.end(), segments[i].samples.begin(),
                         segments[i].samples.end());
  }
  // The units' slot total, the most common where they differ.
  auto most = std::max_element(totals.slot_totals.begin(), totals.slot_totals.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  if (most != totals.slot_totals.end()) trace.slots_per_unit = static_cast<double>(most->first);
  trace.warnings = state_->warnings;
  StartAtZero(trace.samples);
  return trace;
}

}  // namespace mk::replay
