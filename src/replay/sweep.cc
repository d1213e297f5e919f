#include "replay/sweep.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/decimal.h"

namespace mk::replay {
namespace {

using autoscaling::ScaledObjectSpec;

// Settings that are whole numbers of seconds or replicas.
absl::StatusOr<int32_t> Whole(const std::string& setting, double value, double low) {
  if (value != std::floor(value) || value < low || value > 1e9) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, " must be a whole number >= ", low, ", not ", value));
  }
  return static_cast<int32_t>(value);
}

absl::Status Refuse(const std::string& setting, const std::string& values, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("sweep ", setting, "=", values, ": ", why));
}

}  // namespace

absl::StatusOr<SweepAxis> ParseSweepAxis(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep \"", std::string(text), "\": expected setting=v1,v2 or setting=from:to:step"));
  }
  SweepAxis axis{std::string(text.substr(0, equals)), {}};
  const std::string values(text.substr(equals + 1));
  const auto bad = [&] { return Refuse(axis.setting, values, "not v1,v2,... or from:to:step"); };
  if (values.find(':') != std::string::npos) {
    const std::vector<std::string> parts = absl::StrSplit(values, ':');
    if (parts.size() != 3) return bad();
    const std::optional<double> from = ParseDecimal(parts[0]);
    const std::optional<double> to = ParseDecimal(parts[1]);
    const std::optional<double> step = ParseDecimal(parts[2]);
    if (!from || !to || !step) return bad();
    if (*step <= 0) return Refuse(axis.setting, values, "the step must be above 0");
    if (*to < *from) return Refuse(axis.setting, values, "`to` is below `from`");
    if ((*to - *from) / *step >= kMaxAxisValues) {
      return Refuse(axis.setting, values,
                    absl::StrCat("more than ", kMaxAxisValues, " values; take a larger step"));
    }
    // Counted in steps, so that 0.1 increments do not drift past `to`.
    const auto count = static_cast<int64_t>(std::floor((*to - *from) / *step + 1e-9));
    for (int64_t i = 0; i <= count; ++i)
      axis.values.push_back(*from + static_cast<double>(i) * *step);
  } else {
    const std::vector<std::string> parts = absl::StrSplit(values, ',');
    for (const std::string& part : parts) {
      const std::optional<double> value = ParseDecimal(part);
      if (!value) return bad();
      axis.values.push_back(*value);
    }
  }
  if (axis.values.empty()) return bad();
  return axis;
}

absl::StatusOr<ScaledObjectSpec> WithSetting(const ScaledObjectSpec& object,
                                             const std::string& setting, double value) {
  ScaledObjectSpec changed = object;
  autoscaling::KedaSpec& keda = changed.keda;
  const auto whole = [&](int32_t& field, double low) -> absl::Status {
    absl::StatusOr<int32_t> parsed = Whole(setting, value, low);
    if (!parsed.ok()) return parsed.status();
    field = *parsed;
    return absl::OkStatus();
  };
  absl::Status status;
  if (setting == "threshold" || setting == "activationThreshold") {
    autoscaling::TriggerSpec& trigger = changed.triggers.front();
    const bool threshold = setting == "threshold";
    if (threshold ? value < 0.001 : value < 0) {
      return absl::InvalidArgumentError(absl::StrCat(setting, " ", value, " is out of range"));
    }
    if (trigger.scaler) {
      (threshold ? trigger.scaler->threshold : trigger.scaler->activation_threshold) = value;
    } else {
      (threshold ? trigger.threshold : trigger.activation_threshold) = value;
    }
  } else if (setting == "pollingInterval") {
    status = whole(keda.polling_interval_seconds, 1);
  } else if (setting == "cooldownPeriod") {
    status = whole(keda.cooldown_period_seconds, 0);
  } else if (setting == "minReplicaCount") {
    status = whole(keda.min_replica_count, 0);
  } else if (setting == "maxReplicaCount") {
    status = whole(keda.max_replica_count, 1);
  } else if (setting == "scaleUpStabilizationWindowSeconds" ||
             setting == "scaleDownStabilizationWindowSeconds") {
    int32_t window = 0;
    status = whole(window, 0);
    if (!changed.behavior) changed.behavior = autoscaling::Behavior{};
    (setting.starts_with("scaleUp") ? changed.behavior->scale_up : changed.behavior->scale_down)
        .stabilization_window_seconds = window;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot sweep \"", setting,
        "\": threshold, activationThreshold, pollingInterval, cooldownPeriod, minReplicaCount, "
        "maxReplicaCount, scaleUpStabilizationWindowSeconds or "
        "scaleDownStabilizationWindowSeconds"));
  }
  if (!status.ok()) return status;
  if (keda.min_replica_count > keda.max_replica_count) {
    return absl::InvalidArgumentError("minReplicaCount exceeds maxReplicaCount");
  }
  return changed;
}

absl::StatusOr<std::vector<SweepRow>> Sweep(const Trace& trace, const ScaledObjectSpec& base,
                                            std::span<const SweepAxis> axes,
                                            const ReplayOptions& options,
                                            const SweepLimits& limits) {
  for (size_t a = 0; a < axes.size(); ++a) {
    for (size_t b = 0; b < a; ++b) {
      if (axes[a].setting == axes[b].setting) {
        return absl::InvalidArgumentError(
            absl::StrCat("sweep ", axes[a].setting, " is given twice: give its values once"));
      }
    }
  }
  size_t runs = 1;
  for (const SweepAxis& axis : axes) {
    runs *= axis.values.size();
    if (runs > kMaxSweepRuns) {
      return absl::InvalidArgumentError(
          absl::StrCat("the sweep has more than ", kMaxSweepRuns, " combinations"));
    }
  }
  std::vector<SweepRow> rows;
  std::vector<size_t> index(axes.size(), 0);
  for (size_t run = 0; run < runs; ++run) {
    ScaledObjectSpec object = base;
    std::string label;
    for (size_t a = 0; a < axes.size(); ++a) {
      const double value = axes[a].values[index[a]];
      absl::StatusOr<ScaledObjectSpec> changed = WithSetting(object, axes[a].setting, value);
      if (!changed.ok()) return changed.status();
      object = *std::move(changed);
      absl::StrAppend(&label, label.empty() ? "" : " ", axes[a].setting, "=",
                      absl::StrFormat("%g", value));
    }
    object.name = label;
    absl::StatusOr<ReplayResult> result = Replay(trace, object, options);
    if (!result.ok()) return result.status();
    const Summary& s = result->summary;
    const bool within = (!limits.max_above_target_percent ||
                         s.above_target_percent() <= *limits.max_above_target_percent) &&
                        (!limits.max_p95_waiting || s.p95_waiting <= *limits.max_p95_waiting) &&
                        (!limits.max_worst_waiting || s.worst_waiting <= *limits.max_worst_waiting);
    rows.push_back(SweepRow{label, s, within});
    // The next combination: the last axis turns fastest.
    for (size_t a = axes.size(); a-- > 0;) {
      if (++index[a] < axes[a].values.size()) break;
      index[a] = 0;
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) {
    if (a.within_limits != b.within_limits) return a.within_limits;
    return a.summary.replica_hours < b.summary.replica_hours;
  });
  return rows;
}

std::string SweepReport(std::span<const SweepRow> rows, size_t max_rows) {
  std::string text;
  if (!rows.empty() && rows.front().within_limits) {
    absl::StrAppendFormat(&text, "cheapest within the limits: %s (%.3f replica-hours)\n",
                          rows.front().label, rows.front().summary.replica_hours);
  } else {
    text += "no combination stays within the limits; all are listed, cheapest first\n";
  }
  absl::StrAppendFormat(&text, "%-6s %13s %13s %10s %9s %8s  %s\n", "limits", "replica-hours",
                        "above target", "worst wait", "p95 wait", "flaps/h", "setting");
  for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
    const SweepRow& row = rows[i];
    absl::StrAppendFormat(&text, "%-6s %13.3f %12.1f%% %10.1f %9.1f %8.2f  %s\n",
                          row.within_limits ? "ok" : "over", row.summary.replica_hours,
                          row.summary.above_target_percent(), row.summary.worst_waiting,
                          row.summary.p95_waiting, row.summary.flaps_per_hour, row.label);
  }
  return text;
}

}  // namespace mk::replay
