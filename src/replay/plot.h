// The gnuplot script that draws replayed settings side by side, one column each:
// on top the figure the first trigger scales on against its target, below the
// replicas, the ready pods and the demand (in pods at full load) with the waiting
// requests on a second axis. Lines are named where they are drawn, so the panels
// read without a legend hunt. Pure text, data included (the seconds where
// something changes, TimelineRows::kChanges): the caller runs gnuplot on it.
#ifndef METRICS_KEDA_REPLAY_PLOT_H_
#define METRICS_KEDA_REPLAY_PLOT_H_

#include <span>
#include <string>

#include "autoscaling/scaled_object.h"
#include "replay/simulation.h"

namespace mk::replay {

struct PlotPanel {
  const ReplayResult* result = nullptr;
  const autoscaling::ScaledObjectSpec* object = nullptr;
};

enum class PlotFormat { kSvg, kPng };

// A script that writes `output_path` in `format`. The path is quoted for gnuplot.
std::string GnuplotScript(std::span<const PlotPanel> panels, const std::string& output_path,
                          PlotFormat format);

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_PLOT_H_
