#include "dynamo/worker_gauges.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <system_error>
#include <utility>

namespace mk::dynamo {
namespace {

// A fraction may exceed 1 by float rounding in the worker; more than that is wrong
// data (as in the stats decoder).
constexpr double kFractionSlack = 1e-6;
// Counts above 2^53 are not exact in a double, and no worker has that many blocks or
// requests: such a value is corrupt.
constexpr double kMaxCount = 9007199254740992.0;

constexpr size_t kGauges = kWorkerGauges.size();

size_t Index(GaugeRole role) { return static_cast<size_t>(role); }

bool IsCount(GaugeRole role) {
  return role == GaugeRole::kKvTotalBlocks || role == GaugeRole::kWaiting ||
         role == GaugeRole::kRunning;
}

std::optional<size_t> GaugeIndex(std::string_view name) {
  for (size_t g = 0; g < kGauges; ++g) {
    if (kWorkerGauges[g].name == name) return g;
  }
  return std::nullopt;
}

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// Why a gauge's value cannot be a figure, if it cannot.
struct Problem {
  DropReason reason;
  std::string detail;
};

std::optional<Problem> JudgeValue(const WorkerGauge& gauge, double value) {
  const std::string what = std::string(gauge.name) + " is ";
  if (IsCount(gauge.role)) {
    if (std::isnan(value)) return Problem{DropReason::kWrongType, what + "NaN, not a count"};
    if (value < 0) return Problem{DropReason::kWrongType, what + "negative: " + Number(value)};
    if (value > kMaxCount) {
      return Problem{DropReason::kOutOfRange, what + "beyond 2^53: " + Number(value)};
    }
    if (value != std::floor(value)) {
      return Problem{DropReason::kWrongType, what + "not a whole count: " + Number(value)};
    }
    return std::nullopt;
  }
  if (!(value >= 0 && value <= 1 + kFractionSlack)) {
    return Problem{DropReason::kOutOfRange, what + "not a fraction in [0, 1]: " + Number(value)};
  }
  return std::nullopt;
}

// A rank label's value: a decimal 32-bit unsigned integer, digits only.
std::optional<Problem> ReadRank(std::string_view label, std::string_view text, uint32_t& rank) {
  const auto not_digit = [](char c) { return c < '0' || c > '9'; };
  if (text.empty() || std::find_if(text.begin(), text.end(), not_digit) != text.end()) {
    return Problem{DropReason::kWrongType,
                   "label " + std::string(label) + " is not an unsigned integer"};
  }
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), rank);
  if (error != std::errc() || stop != text.data() + text.size()) {
    return Problem{DropReason::kOutOfRange, "label " + std::string(label) + " is beyond 32 bits"};
  }
  return std::nullopt;
}

// The model a sample names: Dynamo's `model` label (which Dynamo also adds to engine
// samples), else the engine's own `model_name`.
std::optional<std::string_view> ModelOf(const prometheus::Sample& sample) {
  if (auto model = sample.LabelValue("model")) return model;
  return sample.LabelValue("model_name");
}

bool IsReplica(const WorkerGauge& gauge, const prometheus::Sample& sample) {
  for (std::string_view label : gauge.replica_labels) {
    if (label.empty()) continue;
    const std::optional<std::string_view> value = sample.LabelValue(label);
    if (value && *value != "0") return true;
  }
  return false;
}

// What the page says about one rank: per gauge, how many series and the first value.
struct RankReadings {
  std::array<size_t, kGauges> series{};
  std::array<double, kGauges> value{};

  void Add(size_t gauge, double v) {
    if (series[gauge]++ == 0) value[gauge] = v;
  }
  bool Has(size_t gauge) const { return series[gauge] > 0; }
};

std::optional<Problem> ProblemOf(const RankReadings& readings, size_t gauge) {
  if (readings.series[gauge] > 1) {
    return Problem{DropReason::kAmbiguousUnit, std::to_string(readings.series[gauge]) +
                                                   " series of " +
                                                   std::string(kWorkerGauges[gauge].name) +
                                                   " (several models, or one series repeated)"};
  }
  return JudgeValue(kWorkerGauges[gauge], readings.value[gauge]);
}

class PageBuilder {
 public:
  explicit PageBuilder(uint64_t instance_id) : instance_id_(instance_id) {}

  void Unreadable(std::optional<uint32_t> rank, DropReason reason, const std::string& detail) {
    page_.unreadable.push_back(UnreadableReport{WorkerKey{instance_id_, rank}, reason});
    page_.drops.Add(reason);
    if (page_.status.ok()) {
      const std::string where = rank ? "rank " + std::to_string(*rank) + ": " : "";
      page_.status = reason == DropReason::kNoData ? absl::NotFoundError(where + detail)
                                                   : absl::InvalidArgumentError(where + detail);
    }
  }

  // One rank's record, or why there is none.
  void AddRank(uint32_t rank, const RankReadings& readings) {
    // Within a role the first gauge present is the one the role takes.
    std::array<std::optional<size_t>, kGaugeRoleCount> chosen;
    for (size_t g = 0; g < kGauges; ++g) {
      std::optional<size_t>& slot = chosen[Index(kWorkerGauges[g].role)];
      if (readings.Has(g) && !slot) slot = g;
    }
    const std::optional<size_t> usage = chosen[Index(GaugeRole::kKvUsage)]
                                            ? chosen[Index(GaugeRole::kKvUsage)]
                                            : chosen[Index(GaugeRole::kEngineKvUsage)];
    const std::optional<size_t> total =
        usage ? chosen[Index(GaugeRole::kKvTotalBlocks)] : std::nullopt;
    const std::optional<size_t> waiting = chosen[Index(GaugeRole::kWaiting)];
    const std::optional<size_t> running = chosen[Index(GaugeRole::kRunning)];
    const std::array<std::optional<size_t>, 4> used = {usage, total, waiting, running};

    std::optional<Problem> drop;
    for (size_t g = 0; g < kGauges; ++g) {
      if (!readings.Has(g)) continue;
      const std::optional<Problem> problem = ProblemOf(readings, g);
      if (!problem) continue;
      if (std::find(used.begin(), used.end(), g) == used.end()) {
        page_.ignored.Add(problem->reason);
      } else if (!drop) {
        drop = problem;
      }
    }
    if (drop) return Unreadable(rank, drop->reason, drop->detail);
    if (!usage && !waiting && !running) {
      return Unreadable(rank, DropReason::kNoData,
                        "a KV block total but no usage, waiting or running gauge");
    }

    WorkerGaugeUnit unit;
    WorkerLoad& load = unit.load;
    load.key = WorkerKey{instance_id_, rank};
    load.num_requests_waiting.reset();
    if (usage) {
      const double fraction = std::min(readings.value[*usage], 1.0);
      load.gpu_cache_usage_perc = fraction;
      if (total && readings.value[*total] > 0) {
        load.kv_total_blocks = static_cast<uint64_t>(readings.value[*total]);
        load.kv_active_blocks = static_cast<uint64_t>(
            std::llround(fraction * static_cast<double>(load.kv_total_blocks)));
      }
    }
    if (waiting) load.num_requests_waiting = static_cast<uint64_t>(readings.value[*waiting]);
    if (running) {
      unit.running = static_cast<uint64_t>(readings.value[*running]);
      load.request_active_slots = *unit.running;
    }
    page_.units.push_back(std::move(unit));
  }

  WorkerPage& page() { return page_; }

 private:
  const uint64_t instance_id_;
  WorkerPage page_;
};

}  // namespace

WorkerPage WorkerGaugesFromSamples(std::span<const prometheus::Sample> samples,
                                   uint64_t instance_id, const std::optional<std::string>& model) {
  PageBuilder builder(instance_id);
  WorkerPage& page = builder.page();
  std::map<uint32_t, RankReadings> ranks;
  std::vector<std::pair<size_t, double>> rankless;  // gauge, value
  bool names_ranks_above_zero = false;
  std::optional<Problem> rank_problem;
  for (const prometheus::Sample& sample : samples) {
    const std::optional<size_t> g = GaugeIndex(sample.name);
    if (!g) continue;
    const WorkerGauge& gauge = kWorkerGauges[*g];
    if (IsReplica(gauge, sample)) {
      ++page.skipped.replica;
      continue;
    }
    if (model) {
      const std::optional<std::string_view> named = ModelOf(sample);
      if (named && *named != *model) {
        ++page.skipped.other_model;
        continue;
      }
    }
    const std::optional<std::string_view> rank_text =
        gauge.rank_label.empty() ? std::nullopt : sample.LabelValue(gauge.rank_label);
    if (!rank_text) {
      rankless.emplace_back(*g, sample.value);
      continue;
    }
    uint32_t rank = 0;
    if (std::optional<Problem> problem = ReadRank(gauge.rank_label, *rank_text, rank)) {
      if (!rank_problem) rank_problem = std::move(problem);
      continue;
    }
    ranks[rank].Add(*g, sample.value);
    names_ranks_above_zero = names_ranks_above_zero || rank > 0;
  }
  // A series without a rank is the whole worker's: rank 0 of a worker that is not
  // data-parallel, and nobody's in particular beside series of other ranks.
  for (const auto& [g, value] : rankless) {
    if (names_ranks_above_zero) {
      ++page.skipped.unattributed;
    } else {
      ranks[0].Add(g, value);
    }
  }

  if (rank_problem) builder.Unreadable(std::nullopt, rank_problem->reason, rank_problem->detail);
  for (const auto& [rank, readings] : ranks) builder.AddRank(rank, readings);
  if (page.units.empty() && page.unreadable.empty()) {
    std::string detail =
        "none of the worker gauges (dynamo_component_*, vllm:*, sglang:*, "
        "trtllm_*) on the page";
    if (page.skipped.other_model > 0) {
      detail += " for model " + *model + " (" + std::to_string(page.skipped.other_model) +
                " samples of other models)";
    }
    builder.Unreadable(std::nullopt, DropReason::kNoData, detail);
  }
  return std::move(page);
}

bool WorkerPage::no_data() const {
  return units.empty() &&
         std::any_of(unreadable.begin(), unreadable.end(), [](const UnreadableReport& report) {
           return !report.key.dp_rank && report.reason == DropReason::kNoData;
         });
}

WorkerGaugeReader::WorkerGaugeReader(WorkerGaugeOptions options)
    : options_(std::move(options)),
      reader_(
          [] {
            std::vector<std::string> names;
            for (const WorkerGauge& gauge : kWorkerGauges) names.emplace_back(gauge.name);
            return names;
          }(),
          options_.limits) {}

WorkerPage WorkerGaugeReader::Read(std::string_view text, uint64_t instance_id) const {
  absl::StatusOr<std::vector<prometheus::Sample>> samples = reader_.Read(text);
  if (samples.ok()) return WorkerGaugesFromSamples(*samples, instance_id, options_.model);
  WorkerPage page;
  const DropReason reason = samples.status().code() == absl::StatusCode::kResourceExhausted
                                ? DropReason::kOversized
                                : DropReason::kMalformedPrometheus;
  page.unreadable.push_back(UnreadableReport{WorkerKey{instance_id, std::nullopt}, reason});
  page.drops.Add(reason);
  page.status = samples.status();
  return page;
}

}  // namespace mk::dynamo
