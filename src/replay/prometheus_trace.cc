// Prometheus query_range answers of the workers' gauges: the /api/v1/query_range
// response format (prometheus/web/api/v1/api.go): {"status", "data": {"resultType":
// "matrix", "result": [{"metric": {labels}, "values": [[<unix seconds>, "<value>"],
// ...]}]}}, "errorType" and "error" when the status is "error". Values are strings:
// decimal numbers, "NaN", "+Inf", "-Inf".
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "common/decimal.h"
#include "dynamo/json_reader.h"
#include "dynamo/worker_gauges.h"
#include "fleet/fleet_figures.h"
#include "prometheus/text_format.h"
#include "replay/trace_parsers.h"
#include "replay/trace_text.h"

namespace mk::replay {
namespace {

namespace od = simdjson::ondemand;
using dynamo::json::Fail;
using dynamo::json::ForEachElement;
using dynamo::json::ForEachField;
using dynamo::json::ObjectOf;
using dynamo::json::StringOf;

// Timestamps from 1970 to 5138: anything else is no Prometheus sample time.
constexpr double kMaxTimestamp = 1e11;

struct Point {
  int64_t ms = 0;
  double value = 0;
};

// One series: its gauge's name and labels as a page sample, and its points.
struct Series {
  prometheus::Sample sample;
  size_t worker = 0;
  std::vector<Point> points;
};

// A value as Prometheus writes it.
double SampleValue(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (const std::optional<double> value = ParseDecimal(text)) return *value;
  Fail("value \"" + std::string(text.substr(0, 64)) + "\" is not a number");
}

bool IsWorkerGauge(std::string_view name) {
  return std::any_of(dynamo::kWorkerGauges.begin(), dynamo::kWorkerGauges.end(),
                     [&](const dynamo::WorkerGauge& gauge) { return gauge.name == name; });
}

std::string GaugeNames() {
  std::string names;
  for (const dynamo::WorkerGauge& gauge : dynamo::kWorkerGauges) {
    names += (names.empty() ? "" : ", ") + std::string(gauge.name);
  }
  return names;
}

// The worker a series is of: its pod (in its namespace), else its scrape target.
std::string WorkerOf(const prometheus::Sample& sample) {
  if (std::optional<std::string_view> pod = sample.LabelValue("pod")) {
    return std::string(sample.LabelValue("namespace").value_or("")) + "/" + std::string(*pod);
  }
  return std::string(sample.LabelValue("instance").value_or(""));
}

[[noreturn]] void NotMatrix(const std::string& result_type) {
  Fail("resultType \"" + result_type.substr(0, 32) +
       "\", not matrix: give the answers of query_range");
}

}  // namespace

struct PrometheusTraceBuilder::State {
  PrometheusRangeOptions options;
  std::vector<Series> all;
  std::map<std::string, size_t> workers;
  std::string names;  // of the answers read, for messages

  // The series of one answer; `points` counts its samples against the limit.
  Series ReadSeries(od::value value, size_t index, uint64_t& points);
};

PrometheusTraceBuilder::PrometheusTraceBuilder(PrometheusRangeOptions options)
    : state_(std::make_unique<State>(State{std::move(options), {}, {}, {}})) {}
PrometheusTraceBuilder::~PrometheusTraceBuilder() = default;
PrometheusTraceBuilder::PrometheusTraceBuilder(PrometheusTraceBuilder&&) noexcept = default;
PrometheusTraceBuilder& PrometheusTraceBuilder::operator=(PrometheusTraceBuilder&&) noexcept =
    default;

Series PrometheusTraceBuilder::State::ReadSeries(od::value value, size_t index, uint64_t& points) {
  const std::string where = "series " + std::to_string(index + 1);
  Series series;
  bool has_values = false;
  ForEachField(ObjectOf(value, where), [&](std::string_view key, od::value field) {
    if (key == "metric") {
      ForEachField(ObjectOf(field, where + " metric"), [&](std::string_view label, od::value v) {
        std::string text = StringOf(v, where + " label " + std::string(label.substr(0, 64)));
        if (label == "__name__") {
          series.sample.name = std::move(text);
        } else {
          series.sample.labels.push_back({std::string(label), std::move(text)});
        }
      });
    } else if (key == "values") {
      has_values = true;
      ForEachElement(field, where + " values", [&](od::value pair) {
        if (++points > options.limits.max_rows) {
          Fail(fmt::format("more than {} samples: split the range", options.limits.max_rows));
        }
        size_t at = 0;
        Point point;
        ForEachElement(pair, where + " values[]", [&](od::value element) {
          if (at == 0) {
            double seconds = 0;
            if (element.get_double().get(seconds) || !(seconds >= 0 && seconds < kMaxTimestamp)) {
              Fail(where + ": a sample's time is not a Unix timestamp");
            }
            point.ms = std::llround(seconds * 1000);
          } else if (at == 1) {
            point.value = SampleValue(StringOf(element, where + " sample value"));
          }
          ++at;
        });
        if (at != 2) Fail(where + ": a sample is not [time, \"value\"]");
        if (!series.points.empty() && point.ms <= series.points.back().ms) {
          Fail(where + ": sample times do not increase");
        }
        series.points.push_back(point);
      });
    } else if (key == "value") {
      Fail(where + ": an instant vector's sample: give the answers of query_range, not query");
    } else if (key == "histograms") {
      Fail(where + ": native histograms are no worker gauge");
    }
  });
  if (!has_values) Fail(where + ": no values");
  if (series.sample.name.empty()) {
    Fail(where +
         " has no __name__: query the worker gauges themselves, not expressions over "
         "them");
  }
  if (!IsWorkerGauge(series.sample.name)) {
    Fail(where + ": " + series.sample.name.substr(0, 128) +
         " is not one of the worker gauges replay reads (" + GaugeNames() + ")");
  }
  return series;
}

absl::Status PrometheusTraceBuilder::Add(const std::string& name, const recording::FileText& file) {
  state_->names += (state_->names.empty() ? "" : ", ") + name;
  if (file.truncated) return absl::DataLossError(name + ": the gzip stream is cut short");
  uint64_t points = 0;
  absl::StatusOr<std::vector<Series>> read =
      dynamo::json::ParseDocument(file.text, name, [&](od::object root) {
        std::string status, error_type, error, result_type;
        std::vector<Series> found;
        ForEachField(root, [&](std::string_view key, od::value value) {
          if (key == "status") status = StringOf(value, "status");
          if (key == "errorType") error_type = StringOf(value, "errorType");
          if (key == "error") error = StringOf(value, "error");
          if (key != "data") return;
          ForEachField(ObjectOf(value, "data"), [&](std::string_view field, od::value v) {
            if (field == "resultType") result_type = StringOf(v, "data.resultType");
            if (field != "result") return;
            // Prometheus writes resultType first: a scalar's or a vector's result is
            // better refused for its type than for its shape.
            if (!result_type.empty() && result_type != "matrix") NotMatrix(result_type);
            ForEachElement(v, "data.result", [&](od::value series) {
              found.push_back(state_->ReadSeries(series, found.size(), points));
            });
          });
        });
        if (status.empty()) Fail("no \"status\": not an answer of Prometheus' HTTP API");
        if (status != "success") {
          Fail(fmt::format("Prometheus answered status \"{}\" ({}: {})", status.substr(0, 32),
                           error_type.substr(0, 64), error.substr(0, 256)));
        }
        if (result_type != "matrix") NotMatrix(result_type);
        return found;
      });
  if (!read.ok()) {
    // The sample limit is a limit, not a malformed answer.
    if (points > state_->options.limits.max_rows) {
      return absl::ResourceExhaustedError(std::string(read.status().message()));
    }
    return read.status();
  }
  for (Series& series : *read) {
    const auto [it, added] =
        state_->workers.emplace(WorkerOf(series.sample), state_->workers.size());
    series.worker = it->second;
    state_->all.push_back(std::move(series));
  }
  return absl::OkStatus();
}

absl::StatusOr<Trace> PrometheusTraceBuilder::Finish() {
  std::vector<Series>& all = state_->all;
  if (all.empty()) {
    return absl::InvalidArgumentError((state_->names.empty() ? "no answer given" : state_->names) +
                                      ": no series of the worker gauges");
  }
  const PrometheusRangeOptions& options = state_->options;
  LoadModel model;
  if (options.slots_per_unit) model.slots_per_unit = *options.slots_per_unit;
  const auto slots = static_cast<uint64_t>(std::max(std::floor(model.slots_per_unit), 1.0));

  std::vector<int64_t> times;
  for (const Series& series : all) {
    for (const Point& point : series.points) times.push_back(point.ms);
  }
  if (times.empty()) {
    return absl::InvalidArgumentError(state_->names + ": the series hold no samples");
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const Series& a, const Series& b) { return a.worker < b.worker; });

  Trace trace;
  if (options.slots_per_unit) trace.slots_per_unit = model.slots_per_unit;
  std::vector<size_t> next(all.size(), 0);  // each series' next point
  std::vector<prometheus::Sample> page;
  std::vector<dynamo::WorkerLoad> known;
  for (const int64_t ms : times) {
    known.clear();
    double units = 0;
    // Each worker's samples at this time, read as its page would be.
    for (size_t first = 0; first < all.size();) {
      size_t end = first;
      page.clear();
      for (; end < all.size() && all[end].worker == all[first].worker; ++end) {
        Series& series = all[end];
        if (next[end] < series.points.size() && series.points[next[end]].ms == ms) {
          series.sample.value = series.points[next[end]++].value;
          page.push_back(series.sample);
        }
      }
      const dynamo::WorkerPage read =
          dynamo::WorkerGaugesFromSamples(page, all[first].worker, options.model);
      // A worker with no sample now, or none of the model's, is no unit of the fleet now.
      if (!read.no_data()) {
        units += static_cast<double>(read.units.size() + read.unreadable.size());
        for (const dynamo::WorkerGaugeUnit& unit : read.units) {
          dynamo::WorkerLoad load = unit.load;
          if (options.slots_per_unit && unit.running) load.request_total_slots = slots;
          if (fleet::FiguresOf(load).load) known.push_back(load);
        }
      }
      first = end;
    }
    TraceSample& sample = trace.samples.emplace_back();
    sample.time = static_cast<double>(ms) / 1000;
    sample.demand = FleetDemand(known, units, model);
  }
  StartAtZero(trace.samples);
  return trace;
}

}  // namespace mk::replay
