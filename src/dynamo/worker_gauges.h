// The unit figures of one Dynamo worker pod, read from its own /metrics page (source
// `metrics` in design.md, "Units and their figures"): Dynamo's KV gauges and the
// engine's queue gauges, per data-parallel rank, as WorkerLoad records.
//
// Where the names come from (each engine's source, 2025 - 2026):
//   Dynamo   components/src/dynamo/common/utils/prometheus.py (LLMBackendMetrics), the
//            names from lib/runtime/src/metrics/prometheus_names.rs (name_prefix::COMPONENT
//            + kvstats::TOTAL_BLOCKS, kvstats::GPU_CACHE_USAGE_PERCENT): labels `model`,
//            `dynamo_component`, `dp_rank`. The usage is a fraction 0..1 despite its name.
//   vLLM     vllm/v1/metrics/loggers.py (PrometheusStatLogger): labels `model_name` and
//            `engine`, the engine core's index, which is its data-parallel rank.
//            kv_cache_usage_perc replaced gpu_cache_usage_perc in 0.9; both are read,
//            the new one first.
//   SGLang   python/sglang/srt/metrics/collector.py (SchedulerMetricsCollector), labels
//            from managers/scheduler_metrics_mixin.py (init_metrics): `model_name`,
//            `engine_type`, `tp_rank`, `pp_rank`, and `dp_rank` when data-parallel.
//            token_usage is the used fraction of the KV token pool (SGLang itself sends
//            it as gpu_cache_usage_perc in its KV metrics).
//   TRT-LLM  tensorrt_llm/metrics/collector.py (MetricsCollector, prefix `trtllm_`):
//            labels `model_name`, `engine_type`, no rank (the executor's iteration stats
//            are the whole worker's). Dynamo passes the engine's metrics through
//            (register_engine_metrics_callback), adding `model` where a sample has none.
//
// The rules (design.md): figures are per rank. KV usage is Dynamo's usage, else the
// engine's; with Dynamo's block total the used blocks are round(usage x total), without
// one the fraction alone is the figure. `waiting` and the running requests come from
// the engine's gauges. A value that is negative, NaN, infinite, fractional for a count
// or beyond range is never made into a figure: the rank's record is dropped with a
// reason, or, for a value no figure uses, left out and counted as ignored. A page with
// none of the gauges yields no record (kNoData), never an idle unit.
//
// Which model. A Dynamo worker process serves one model, and the caller knows it (the
// instance's model card). Given the model, only its series are read: a sample's model
// is its `model` label (Dynamo's, which Dynamo also adds to the engine's samples), else
// its `model_name` (the engine's own); a sample without either counts for any model.
// Without it, every series is read, and a rank whose gauge appears in more than one
// series (two models, or the same series twice) is dropped as kAmbiguousUnit: summing
// two models' queues into one instance would double-count an engine that exports under
// two names and blame one instance for another's load, so the scaler refuses to guess
// and says why.
//
// For whatever scrapes worker pages (a `metrics` source, the mock worker's tests, the
// fuzzer). Pure functions of their input; a WorkerGaugeReader is immutable, and Read()
// is safe from any number of threads at once.
#ifndef METRICS_KEDA_DYNAMO_WORKER_GAUGES_H_
#define METRICS_KEDA_DYNAMO_WORKER_GAUGES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "dynamo/drop_reason.h"
#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "prometheus/text_format.h"

namespace mk::dynamo {

// What a gauge says about a rank.
enum class GaugeRole {
  kKvTotalBlocks,  // a count of KV blocks
  kKvUsage,        // Dynamo's used fraction of the KV cache
  kEngineKvUsage,  // the engine's used fraction of the KV cache
  kWaiting,        // requests queued in the engine
  kRunning,        // requests the engine is running (its occupied request slots)
};
inline constexpr size_t kGaugeRoleCount = 5;

// One gauge a worker page may carry.
struct WorkerGauge {
  std::string_view name;
  GaugeRole role;
  // The label that carries the data-parallel rank; empty for a gauge without one.
  std::string_view rank_label;
  // Labels whose value, when present, must be "0" for the sample to count: SGLang
  // exports one series per tensor- and pipeline-parallel scheduler when asked to
  // (--enable-metrics-for-all-schedulers), all views of the same data-parallel rank,
  // and by default only that of tp_rank 0; the others are skipped, not added.
  std::array<std::string_view, 2> replica_labels{};
};

// Every gauge read, grouped by role; within a role the first one present at a rank
// is the one used (vLLM's new name before its old one).
inline constexpr std::array<WorkerGauge, 12> kWorkerGauges = {{
    {"dynamo_component_total_blocks", GaugeRole::kKvTotalBlocks, "dp_rank"},
    {"dynamo_component_gpu_cache_usage_percent", GaugeRole::kKvUsage, "dp_rank"},
    {"vllm:kv_cache_usage_perc", GaugeRole::kEngineKvUsage, "engine"},
    {"vllm:gpu_cache_usage_perc", GaugeRole::kEngineKvUsage, "engine"},
    {"sglang:token_usage", GaugeRole::kEngineKvUsage, "dp_rank", {"tp_rank", "pp_rank"}},
    {"trtllm_kv_cache_utilization", GaugeRole::kEngineKvUsage, ""},
    {"vllm:num_requests_waiting", GaugeRole::kWaiting, "engine"},
    {"sglang:num_queue_reqs", GaugeRole::kWaiting, "dp_rank", {"tp_rank", "pp_rank"}},
    {"trtllm_num_requests_waiting", GaugeRole::kWaiting, ""},
    {"vllm:num_requests_running", GaugeRole::kRunning, "engine"},
    {"sglang:num_running_reqs", GaugeRole::kRunning, "dp_rank", {"tp_rank", "pp_rank"}},
    {"trtllm_num_requests_running", GaugeRole::kRunning, ""},
}};

// One rank's figures.
struct WorkerGaugeUnit {
  // key: the caller's instance id and the rank the page names (0 for a worker that is
  //   not data-parallel: Dynamo labels its one rank "0"; folding that into the
  //   rank-less unit of a worker without registered ranks is the fleet model's, as
  //   for events).
  // kv_total_blocks, kv_active_blocks: Dynamo's total and round(usage x total); both 0
  //   without a total (or with a total of 0), when gpu_cache_usage_perc alone holds the
  //   usage.
  // gpu_cache_usage_perc: the usage fraction in [0, 1]; none when the page has none.
  // num_requests_waiting: the engine's waiting gauge; none when it has none.
  // request_active_slots: the engine's running gauge (0 when `running` is none).
  // request_total_slots: 0: the page does not say it (the model card's max_num_seqs
  //   does), so slot usage is undefined until a caller adds it; a caller must only do
  //   so where `running` is known.
  // prefill_tokens_queued, gpu_prefix_cache_hit_rate: none.
  WorkerLoad load;
  std::optional<uint64_t> running;
};

// Samples the figures do not use, by why.
struct SkippedSamples {
  size_t other_model = 0;   // a model label naming another model than the caller's
  size_t replica = 0;       // a replica of a rank's series (replica_labels not "0")
  size_t unattributed = 0;  // no rank label on a page whose other series name ranks > 0
};

struct WorkerPage {
  // The ranks with at least one load figure, by ascending rank.
  std::vector<WorkerGaugeUnit> units;
  // What could not be used, one report each: a rank whose used gauge was bad or
  // ambiguous, or one with a capacity but no load figure (kNoData); the whole page
  // (rank none): kNoData when it has none of the gauges, kMalformedPrometheus or
  // kOversized when it is not a readable page (`status` says where), and a rank label
  // that is no 32-bit unsigned integer (kWrongType, kOutOfRange). Each is counted in
  // `drops` too, so drops.Total() == unreadable.size().
  std::vector<UnreadableReport> unreadable;
  DropCounts drops;
  // Bad values no figure uses (a lower-precedence engine gauge beside the one used, a
  // block total without any usage), counted by what was wrong with them.
  DropCounts ignored;
  SkippedSamples skipped;
  // The first problem, for logs and /status: the reader's error for a page that could
  // not be read (with its line number), else what made the first unreadable report.
  // OK when there was none.
  absl::Status status;

  // The page has none of the gauges (for the caller's model): no record at all.
  bool no_data() const;
};

struct WorkerGaugeOptions {
  // The model the instance serves (its model card's name); none reads every model
  // and refuses a rank that two series describe.
  std::optional<std::string> model;
  prometheus::TextFormatLimits limits;
};

// The figures of one page's samples (those of kWorkerGauges; others are ignored).
// `instance_id`: the worker's instance (lease) id, from discovery: the page does not
// carry it.
WorkerPage WorkerGaugesFromSamples(std::span<const prometheus::Sample> samples,
                                   uint64_t instance_id,
                                   const std::optional<std::string>& model = std::nullopt);

// Reads worker pages: the text-format reader set up for kWorkerGauges, then
// WorkerGaugesFromSamples.
class WorkerGaugeReader {
 public:
  explicit WorkerGaugeReader(WorkerGaugeOptions options = {});

  WorkerPage Read(std::string_view page, uint64_t instance_id) const;

  const WorkerGaugeOptions& options() const { return options_; }

 private:
  WorkerGaugeOptions options_;
  prometheus::TextFormatReader reader_;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_WORKER_GAUGES_H_
