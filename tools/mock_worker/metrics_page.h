// What a simulated Dynamo worker serves on its system port's /metrics: the Prometheus
// text page (exposition format 0.0.4) of a Dynamo 2026 vLLM worker, with Dynamo's KV
// gauges per data-parallel rank and vLLM's queue and KV gauges per engine
// (dynamo-worker-metrics.md section 5; the names and labels as src/dynamo/worker_gauges.h
// lists them), beside a few series the scaler does not read (Dynamo's in-flight gauge,
// a vLLM histogram) so that a reader has something to skim.
//
// A pure function of its arguments, safe from any thread: the figures are the same
// WorkerFigures the stats replies and events carry for the worker's load.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_METRICS_PAGE_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_METRICS_PAGE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "mock_worker/worker_payloads.h"

namespace mk::mock {

// The model every simulated worker serves, as its model card names it.
inline constexpr std::string_view kMockModelName = "mock-model";

struct MetricsPageLabels {
  std::string_view dynamo_namespace = "dynamo";
  std::string_view component = "backend";
  std::string_view endpoint = "generate";
  std::string_view model = kMockModelName;
};

// The page of a worker at `figures` with `dp_ranks` ranks (at least 1), every rank
// at the same figures (as its events say): per rank r,
//   dynamo_component_total_blocks{dp_rank="r",...}             kv_total_blocks
//   dynamo_component_gpu_cache_usage_percent{dp_rank="r",...}  gpu_cache_usage_perc
//   vllm:num_requests_running{engine="r",model_name=...}       request_active_slots
//   vllm:num_requests_waiting{engine="r",...}                  num_requests_waiting
//   vllm:kv_cache_usage_perc{engine="r",...}                   gpu_cache_usage_perc
// Values are written in the shortest form that reads back to the same double.
// Appends to `out` so that a caller serving many workers can reuse one buffer.
void AppendWorkerMetricsPage(std::string& out, const WorkerFigures& figures, uint32_t dp_ranks,
                             const MetricsPageLabels& labels);
std::string WorkerMetricsPage(const WorkerFigures& figures, uint32_t dp_ranks,
                              const MetricsPageLabels& labels);

// Appends `value` as a Prometheus label value: \, " and line feed escaped.
void AppendLabelValue(std::string& out, std::string_view value);

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_METRICS_PAGE_H_
