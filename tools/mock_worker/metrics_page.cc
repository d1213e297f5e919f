#include "mock_worker/metrics_page.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <system_error>

namespace mk::mock {
namespace {

// vLLM's time-to-first-token buckets (vllm/v1/metrics/loggers.py), written as the
// Python client writes them.
constexpr std::array<std::string_view, 9> kTtftBuckets = {"0.001", "0.01", "0.04", "0.1", "0.5",
                                                          "1.0",   "5.0",  "20.0", "+Inf"};

void AppendNumber(std::string& out, double value) {
  char text[32];
  const auto [end, error] = std::to_chars(text, text + sizeof text, value);
  out.append(text, error == std::errc() ? end : text);
}

void AppendFamily(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// One `name{label="value",...} number` line; `labels` alternate names and values.
template <size_t N>
void AppendSample(std::string& out, std::string_view name,
                  const std::array<std::string_view, N>& labels, double value) {
  out.append(name).push_back('{');
  for (size_t i = 0; i + 1 < N; i += 2) {
    if (i > 0) out.push_back(',');
    out.append(labels[i]).append("=\"");
    AppendLabelValue(out, labels[i + 1]);
    out.push_back('"');
  }
  out.append("} ");
  AppendNumber(out, value);
  out.push_back('\n');
}

}  // namespace

void AppendLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
}

void AppendWorkerMetricsPage(std::string& out, const WorkerFigures& figures, uint32_t dp_ranks,
                             const MetricsPageLabels& labels) {
  const uint32_t ranks = std::max<uint32_t>(dp_ranks, 1);
  const auto as_double = [](uint64_t count) { return static_cast<double>(count); };

  // Dynamo's runtime gauge of the worker's endpoint: not read by the scaler.
  AppendFamily(out, "dynamo_component_inflight_requests", "gauge",
               "Number of requests currently being processed by work handler");
  AppendSample<8>(out, "dynamo_component_inflight_requests",
                  {"dynamo_component", labels.component, "dynamo_endpoint", labels.endpoint,
                   "dynamo_namespace", labels.dynamo_namespace, "model", labels.model},
                  as_double(figures.request_active_slots) * ranks);

  const auto per_rank = [&](std::string_view name, std::string_view help, double value) {
    AppendFamily(out, name, "gauge", help);
    for (uint32_t r = 0; r < ranks; ++r) {
      const std::string rank = std::to_string(r);
      AppendSample<6>(
          out, name, {"dp_rank", rank, "dynamo_component", labels.component, "model", labels.model},
          value);
    }
  };
  per_rank("dynamo_component_total_blocks",
           "Total number of KV cache blocks available on the worker.",
           as_double(figures.kv_total_blocks));
  per_rank("dynamo_component_gpu_cache_usage_percent", "GPU cache usage as a percentage (0.0-1.0).",
           figures.gpu_cache_usage_perc);

  const auto per_engine = [&](std::string_view name, std::string_view help, double value) {
    AppendFamily(out, name, "gauge", help);
    for (uint32_t r = 0; r < ranks; ++r) {
      const std::string engine = std::to_string(r);
      AppendSample<4>(out, name, {"engine", engine, "model_name", labels.model}, value);
    }
  };
  per_engine("vllm:num_requests_running", "Number of requests in model execution batches.",
             as_double(figures.request_active_slots));
  per_engine("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
             as_double(figures.num_requests_waiting));
  per_engine("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
             figures.gpu_cache_usage_perc);

  // A histogram per engine, as vLLM serves many: not read by the scaler.
  AppendFamily(out, "vllm:time_to_first_token_seconds", "histogram",
               "Histogram of time to first token in seconds.");
  for (uint32_t r = 0; r < ranks; ++r) {
    const std::string engine = std::to_string(r);
    for (std::string_view le : kTtftBuckets) {
      AppendSample<6>(out, "vllm:time_to_first_token_seconds_bucket",
                      {"engine", engine, "le", le, "model_name", labels.model}, 0);
    }
    AppendSample<4>(out, "vllm:time_to_first_token_seconds_count",
                    {"engine", engine, "model_name", labels.model}, 0);
    AppendSample<4>(out, "vllm:time_to_first_token_seconds_sum",
                    {"engine", engine, "model_name", labels.model}, 0);
  }
}

std::string WorkerMetricsPage(const WorkerFigures& figures, uint32_t dp_ranks,
                              const MetricsPageLabels& labels) {
  std::string out;
  AppendWorkerMetricsPage(out, figures, dp_ranks, labels);
  return out;
}

}  // namespace mk::mock
