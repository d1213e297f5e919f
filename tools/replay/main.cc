// metrics-keda-replay: a what-if before a ScaledObject is applied. Replays a load
// trace (the scaler's own recording, a time,load or per-unit CSV, or Prometheus
// query_range answers) through the scaler's figure code and models of KEDA and the
// HPA, for each ScaledObject given, and prints each one's replica timeline and
// summary side by side; writes per-second CSVs and plots (gnuplot) on request; or
// sweeps settings for the cheapest that stays within limits.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "autoscaling/scaled_object.h"
#include "recording/gzip.h"
#include "replay/plot.h"
#include "replay/report.h"
#include "replay/simulation.h"
#include "replay/sweep.h"
#include "replay/trace_readers.h"

namespace {

namespace fs = std::filesystem;
using mk::autoscaling::ScaledObjectSpec;

// ScaledObject YAML is a few kilobytes; a file beyond this is not one.
constexpr uint64_t kMaxScaledObjectBytes = 16 << 20;

// A file name from a setting's name: letters, digits, '-', '_' and '.' kept.
std::string FileStem(const std::string& name) {
  std::string stem;
  for (char c : name)
    stem +=
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  return stem.empty() ? "setting" : stem;
}

bool RunGnuplot(const std::string& script) {
  FILE* gnuplot = popen("gnuplot", "w");
  if (gnuplot == nullptr) return false;
  std::fwrite(script.data(), 1, script.size(), gnuplot);
  return pclose(gnuplot) == 0;
}

// CLI11's ranges let NaN through (every comparison with it is false).
CLI::Validator Finite() {
  return CLI::Validator(
      [](const std::string& text) {
        double value = 0;
        return CLI::detail::lexical_cast(text, value) && std::isfinite(value)
                   ? std::string()
                   : "not a finite number: " + text;
      },
      "FINITE");
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "metrics-keda-replay: %s\n", std::string(status.message()).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Replays fleet load through KEDA and the HPA for each ScaledObject given, and prints "
      "each one's replica timeline and summary"};
  std::vector<std::string> trace_paths;
  std::vector<std::string> object_paths;
  std::string target;
  std::string model;
  std::string out_dir;
  std::vector<std::string> sweeps;
  mk::replay::ReplayOptions options;
  mk::replay::SweepLimits limits;
  double threshold = 0.7;
  size_t sweep_rows = 20;
  int64_t every = 0;
  app.add_option("--trace", trace_paths,
                 "Trace file(s): a recording (.csv.gz, rotated files in any order), a time,load or "
                 "per-unit CSV, or Prometheus query_range JSON answers")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--target", target,
                 "namespace/component/endpoint to take from a recording of several targets");
  app.add_option("--model", model,
                 "Prometheus traces: the model whose series to read where workers serve several");
  app.add_option("--scaled-object", object_paths,
                 "ScaledObject YAML file(s); each may hold several")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--startup-delay", options.startup_delay_seconds,
                 "Seconds from a pod's creation until it serves")
      ->check(Finite() & CLI::Range(0.0, 86400.0));
  app.add_option("--initial-replicas", options.initial_replicas,
                 "Replicas when the trace starts (default max(minReplicaCount, 1))")
      ->check(CLI::Range(0, 100000));
  app.add_option("--hpa-sync-period", options.hpa_sync_period_seconds,
                 "Seconds between HPA syncs (kube-controller-manager's default 15)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--slots-per-unit", options.load.slots_per_unit,
                 "Requests one pod runs at full load; converts queued demand into waiting requests")
      ->check(Finite() & CLI::Range(1.0, 1e6));
  app.add_option("--threshold", threshold,
                 "The scaler's --threshold, for triggers whose metadata sets none")
      ->check(Finite() & CLI::Range(0.001, 1e9));
  app.add_option(
      "--out", out_dir,
      "Directory for each setting's per-second CSV and replay.svg / replay.png (gnuplot)");
  app.add_option(
      "--sweep", sweeps,
      "setting=v1,v2,... or setting=from:to:step; replays every combination on the first "
      "ScaledObject");
  app.add_option("--max-above-target", limits.max_above_target_percent,
                 "Sweep limit: percent of the time above target")
      ->check(Finite() & CLI::Range(0.0, 100.0));
  app.add_option("--max-p95-waiting", limits.max_p95_waiting, "Sweep limit: p95 waiting requests")
      ->check(Finite() & CLI::NonNegativeNumber);
  app.add_option("--max-worst-waiting", limits.max_worst_waiting,
                 "Sweep limit: worst waiting requests")
      ->check(Finite() & CLI::NonNegativeNumber);
  app.add_option("--sweep-rows", sweep_rows, "Sweep rows to print")->check(CLI::Range(1, 100000));
  app.add_option("--every", every,
                 "Also print each setting's replicas, load and waiting every this many seconds")
      ->check(CLI::Range(1, 86400 * 366));
  CLI11_PARSE(app, argc, argv);

  mk::keda::TriggerDefaults defaults;
  defaults.target = mk::fleet::Target{"dynamo", "backend", "generate"};
  defaults.threshold = threshold;
  std::vector<ScaledObjectSpec> objects;
  for (const std::string& path : object_paths) {
    absl::StatusOr<mk::recording::FileText> file =
        mk::recording::ReadMaybeGzipFile(path, kMaxScaledObjectBytes);
    if (!file.ok()) return Fail(file.status());
    absl::StatusOr<std::vector<ScaledObjectSpec>> parsed =
        mk::autoscaling::ParseScaledObjects(file->text, defaults);
    if (!parsed.ok())
      return Fail(absl::InvalidArgumentError(path + ": " + std::string(parsed.status().message())));
    for (ScaledObjectSpec& object : *parsed) {
      // Each one's CSV is named after it.
      const bool taken = std::any_of(objects.begin(), objects.end(), [&](const auto& other) {
        return FileStem(other.name) == FileStem(object.name);
      });
      if (taken) {
        return Fail(absl::InvalidArgumentError(path + ": a second ScaledObject named " +
                                               object.name + ": give each its own name"));
      }
      objects.push_back(std::move(object));
    }
  }
  mk::replay::TraceOptions trace_options{.target = target};
  if (app.count("--slots-per-unit") > 0) trace_options.slots_per_unit = options.load.slots_per_unit;
  if (!model.empty()) trace_options.model = model;
  absl::StatusOr<mk::replay::Trace> trace = mk::replay::ReadTrace(trace_paths, trace_options);
  if (!trace.ok()) return Fail(trace.status());
  for (const std::string& warning : trace->warnings) {
    std::fprintf(stderr, "metrics-keda-replay: warning: %s\n", warning.c_str());
  }
  if (trace->slots_per_unit && app.count("--slots-per-unit") == 0) {
    options.load.slots_per_unit = *trace->slots_per_unit;
  }

  if (!sweeps.empty()) {
    std::vector<mk::replay::SweepAxis> axes;
    for (const std::string& text : sweeps) {
      absl::StatusOr<mk::replay::SweepAxis> axis = mk::replay::ParseSweepAxis(text);
      if (!axis.ok()) return Fail(axis.status());
      axes.push_back(*std::move(axis));
    }
    absl::StatusOr<std::vector<mk::replay::SweepRow>> rows =
        mk::replay::Sweep(*trace, objects.front(), axes, options, limits);
    if (!rows.ok()) return Fail(rows.status());
    std::cout << mk::replay::SweepReport(*rows, sweep_rows);
    return 0;
  }

  std::vector<mk::replay::ReplayResult> results;
  for (const ScaledObjectSpec& object : objects) {
    absl::StatusOr<mk::replay::ReplayResult> result = mk::replay::Replay(*trace, object, options);
    if (!result.ok()) return Fail(result.status());
    std::cout << mk::replay::TimelineText(*result);
    if (every > 0) std::cout << mk::replay::SampledTimeline(*result, every);
    std::cout << "\n";
    results.push_back(*std::move(result));
  }
  std::cout << mk::replay::SummaryTable(results);

  if (out_dir.empty()) return 0;
  std::error_code error;
  fs::create_directories(out_dir, error);
  if (error) return Fail(absl::InternalError("cannot create " + out_dir + ": " + error.message()));
  std::vector<mk::replay::PlotPanel> panels;
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string path = (fs::path(out_dir) / (FileStem(results[i].name) + ".csv")).string();
    std::ofstream csv(path);
    csv << mk::replay::TimelineCsv(results[i], objects[i]);
    if (!csv) return Fail(absl::InternalError("cannot write " + path));
    panels.push_back({&results[i], &objects[i]});
  }
  for (const auto& [format_name, plot_format] : {std::pair{"svg", mk::replay::PlotFormat::kSvg},
                                                 std::pair{"png", mk::replay::PlotFormat::kPng}}) {
    const std::string path = (fs::path(out_dir) / (std::string("replay.") + format_name)).string();
    if (!RunGnuplot(mk::replay::GnuplotScript(panels, path, plot_format))) {
      return Fail(absl::UnavailableError(
          "gnuplot failed or is missing (apt-get install gnuplot-nox); the CSVs are in " +
          out_dir));
    }
    std::cout << "wrote " << path << "\n";
  }
  return 0;
}
