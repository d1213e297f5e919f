#include "observability/exposition.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <tuple>

#include "dynamo/drop_reason.h"
#include "dynamo/worker_load.h"
#include "fleet/fleet_figures.h"

namespace mk::observability {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Families by name, in a stable order, each created on first use.
class Families {
 public:
  MetricFamily& Get(const std::string& name, MetricType type, const std::string& help) {
    for (MetricFamily& family : families_) {
      if (family.name == name) return family;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  void Gauge(const std::string& name, const std::string& help, Labels labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = value;
    Get(name, MetricType::Gauge, help).metric.push_back(std::move(metric));
  }
  void Counter(const std::string& name, const std::string& help, Labels labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.counter.value = value;
    Get(name, MetricType::Counter, help).metric.push_back(std::move(metric));
  }
  void Histogram(const std::string& name, const std::string& help, Labels labels,
                 const DurationHistogram::Counts& counts) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.histogram.sample_count = counts.count;
    metric.histogram.sample_sum = counts.sum_seconds;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.per_bucket.size(); ++i) {
      cumulative += counts.per_bucket[i];
      const double bound = i < DurationHistogram::kBounds.size()
                               ? DurationHistogram::kBounds[i]
                               : std::numeric_limits<double>::infinity();
      metric.histogram.bucket.push_back({cumulative, bound});
    }
    Get(name, MetricType::Histogram, help).metric.push_back(std::move(metric));
  }
  const std::vector<MetricFamily>& all() const { return families_; }

 private:
  std::vector<MetricFamily> families_;
};

Labels TargetLabels(const fleet::Target& target) {
  return {{"namespace", target.dynamo_namespace},
          {"component", target.component},
          {"endpoint", target.endpoint}};
}

Labels With(Labels labels, std::string name, std::string value) {
  labels.push_back({std::move(name), std::move(value)});
  return labels;
}

void RenderWorkers(Families& out, const Labels& target, const fleet::Snapshot& snapshot) {
  for (const fleet::Unit& unit : snapshot.units) {
    Labels labels = With(target, "worker_id", dynamo::LeaseHex(unit.key.lease_id));
    labels = With(labels, "dp_rank", unit.key.dp_rank ? std::to_string(*unit.key.dp_rank) : "");
    if (unit.state == fleet::UnitState::kPending) continue;  // nothing known: absent
    if (!unit.report) {
      // No figures: what it last said could not be used. Absent, never zero.
      out.Gauge("metrics_keda_worker_unreadable",
                "Present worker units whose reports are all dropped, by the reason (more than 1 "
                "for a worker whose ranks reply without a rank)",
                With(labels, "reason",
                     unit.drop_reason ? std::string(dynamo::DropReasonName(*unit.drop_reason))
                                      : "unknown"),
                static_cast<double>(unit.units));
      continue;
    }
    const dynamo::WorkerLoad& report = *unit.report;
    const fleet::UnitFigures figures = fleet::FiguresOf(report);
    auto d = [](uint64_t n) { return static_cast<double>(n); };
    out.Gauge("llm_kv_blocks_active", "KV-cache blocks in use, per worker unit", labels,
              d(report.kv_active_blocks));
    out.Gauge("llm_kv_blocks_capacity", "KV-cache capacity in blocks, per worker unit", labels,
              d(report.kv_total_blocks));
    out.Gauge("llm_requests_active_slots", "Requests being served, per worker unit", labels,
              d(report.request_active_slots));
    out.Gauge("llm_requests_total_slots", "Request capacity, per worker unit", labels,
              d(report.request_total_slots));
    if (report.num_requests_waiting) {
      out.Gauge("llm_worker_requests_waiting", "Queued requests, per worker unit", labels,
                d(*report.num_requests_waiting));
    }
    if (report.prefill_tokens_queued) {
      out.Gauge("llm_worker_prefill_tokens_queued",
                "Prompt tokens of the queued requests, per worker unit", labels,
                d(*report.prefill_tokens_queued));
    }
    if (figures.load) {
      out.Gauge("llm_worker_load", "max(KV usage, slot usage) of a worker unit, 0-1", labels,
                *figures.load);
    }
  }
}

// A fleet figure while the fleet defines it; absent (not zero) otherwise.
void FleetGauge(Families& out, const Labels& target, const fleet::FleetFigures& figures,
                fleet::FleetMetric metric, const std::string& help) {
  if (absl::StatusOr<double> value = figures.Value(metric); value.ok()) {
    out.Gauge(std::string(fleet::MetricName(metric)), help, target, *value);
  }
}

void RenderTarget(Families& out, const fleet::Collector& collector) {
  const Labels target = TargetLabels(collector.target());
  const auto now = std::chrono::steady_clock::now();
  if (fleet::SnapshotPtr latest = collector.Latest()) {
    out.Gauge("metrics_keda_snapshot_age_seconds", "Age of the target's newest snapshot", target,
              std::chrono::duration<double>(latest->AgeAt(now)).count());
  }
  // Figures only while a snapshot may be served: missing data is absent, not zero.
  if (absl::StatusOr<fleet::SnapshotPtr> servable = collector.Servable(); servable.ok()) {
    const fleet::FleetFigures& figures = (*servable)->figures;
    out.Gauge("metrics_keda_workers", "Worker units present for the target (N)", target,
              static_cast<double>(figures.units));
    for (const auto& [state, count] :
         {std::pair{fleet::UnitState::kReporting, figures.reporting_units},
          std::pair{fleet::UnitState::kUnreadable, figures.unreadable_units},
          std::pair{fleet::UnitState::kPending, figures.pending_units}}) {
      out.Gauge("metrics_keda_worker_units", "Worker units present, by state",
                With(target, "state", std::string(fleet::UnitStateName(state))),
                static_cast<double>(count));
    }
    FleetGauge(out, target, figures, fleet::FleetMetric::kLoadAvg,
               "Mean worker load, max(KV usage, slot usage), 0-1");
    FleetGauge(out, target, figures, fleet::FleetMetric::kKvBlocksUsagePercent,
               "KV-cache blocks in use over capacity, percent");
    FleetGauge(out, target, figures, fleet::FleetMetric::kRequestSlotsUsagePercent,
               "Request slots in use over capacity, percent");
    FleetGauge(out, target, figures, fleet::FleetMetric::kRequestsWaiting,
               "Mean queued requests per worker unit");
    FleetGauge(out, target, figures, fleet::FleetMetric::kPrefillTokensQueued,
               "Mean queued prefill tokens per worker unit");
    RenderWorkers(out, target, **servable);
  }
  const fleet::CollectorStats stats = collector.Stats();
  out.Histogram("metrics_keda_scrape_duration_seconds", "Duration of scrape rounds", target,
                collector.scrape_durations().Read());
  out.Counter("metrics_keda_scrape_rounds_total", "Scrape rounds run", target,
              static_cast<double>(stats.rounds));
  out.Counter("metrics_keda_scrape_failures_total",
              "Scrape rounds that gave no picture (NATS down or lost)", target,
              static_cast<double>(stats.failed_rounds));
  out.Counter("metrics_keda_stats_replies_total", "Stats replies received", target,
              static_cast<double>(stats.replies));
  for (const dynamo::DropReason reason : dynamo::kStatsDropReasons) {
    out.Counter("metrics_keda_replies_dropped_total",
                "Replies or endpoint reports dropped, by reason",
                With(target, "reason", std::string(dynamo::DropReasonName(reason))),
                static_cast<double>(stats.drops.Get(reason)));
  }
  for (dynamo::DropReason reason :
       {dynamo::DropReason::kWrongType, dynamo::DropReason::kOutOfRange}) {
    out.Counter("metrics_keda_fields_ignored_total",
                "Fields the figures do not use, left out of kept reports, by what was wrong",
                With(target, "reason", std::string(dynamo::DropReasonName(reason))),
                static_cast<double>(stats.ignored_fields.Get(reason)));
  }
  out.Counter("metrics_keda_events_applied_total",
              "Event-plane records that updated a unit's figures", target,
              static_cast<double>(stats.events_applied));
  out.Counter("metrics_keda_router_records_total",
              "ActiveLoad records published by routers about workers: counted, never applied",
              target, static_cast<double>(stats.router_records));
  out.Counter("metrics_keda_events_not_member_total",
              "Namespace-scoped records of workers that discovery places in another target", target,
              static_cast<double>(stats.events_not_member));
  for (const dynamo::DropReason reason : dynamo::kAllDropReasons) {
    if (stats.event_drops.Get(reason) == 0) continue;
    out.Counter("metrics_keda_events_dropped_total",
                "Event records of this target dropped, by reason",
                With(target, "reason", std::string(dynamo::DropReasonName(reason))),
                static_cast<double>(stats.event_drops.Get(reason)));
  }
}

}  // namespace

std::string RenderPrometheusText(const ScalerState& state) {
  Families out;
  out.Gauge("metrics_keda_build_info", "Always 1; the version as a label",
            {{"version", state.version}}, 1);
  const auto collectors = state.registry.All();
  out.Gauge("metrics_keda_targets", "Targets with a collector", {},
            static_cast<double>(collectors.size()));
  for (const auto& collector : collectors) RenderTarget(out, *collector);

  if (state.nats != nullptr) {
    out.Gauge("metrics_keda_nats_connected", "Whether the NATS connection is up (1) or not (0)", {},
              state.nats->connected() ? 1 : 0);
    out.Counter("metrics_keda_nats_reconnects_total", "Reconnections to NATS", {},
                static_cast<double>(state.nats->reconnects()));
    out.Counter("metrics_keda_nats_disconnects_total", "Losses of the NATS connection", {},
                static_cast<double>(state.nats->disconnects()));
  }
  if (state.sources) {
    for (const SourceHealth& source : state.sources()) {
      const Labels labels{{"source", source.name}, {"role", source.role}};
      out.Gauge("metrics_keda_source_connected",
                "Whether a source is connected (1) or not (0): NATS, the ZMQ event plane, etcd",
                labels, source.connected ? 1 : 0);
      for (const auto& [name, value] : source.counters) {
        out.Counter("metrics_keda_source_" + name + "_total",
                    "A source's counter (see the README's metrics table)",
                    {{"source", source.name}}, static_cast<double>(value));
      }
      for (const auto& [name, value] : source.gauges) {
        out.Gauge("metrics_keda_source_" + name,
                  "A source's current figure (see the README's metrics table)",
                  {{"source", source.name}}, static_cast<double>(value));
      }
    }
  }

  for (keda::Rpc rpc : keda::kAllRpcs) {
    const std::string method(keda::RpcName(rpc));
    for (int code = 0; code < keda::kStatusCodes; ++code) {
      const uint64_t count = state.rpc.Count(rpc, code);
      if (count == 0 && code != 0) continue;
      out.Counter("metrics_keda_grpc_requests_total", "gRPC requests by method and status code",
                  {{"method", method}, {"code", std::string(keda::StatusCodeName(code))}},
                  static_cast<double>(count));
    }
    if (rpc != keda::Rpc::kStreamIsActive) {
      out.Histogram("metrics_keda_grpc_request_duration_seconds",
                    "Latency of unary gRPC requests, until the answer", {{"method", method}},
                    state.rpc.Latency(rpc).Read());
    }
  }
  if (state.recorder != nullptr) {
    const recording::RecorderStats stats = state.recorder->Stats();
    for (const auto& [name, help, value] : {
             std::tuple{"snapshots",
                        "Snapshots recorded (--record-file), and moments a target had "
                        "none servable",
                        stats.snapshots},
             std::tuple{"rows", "Rows written to the recording", stats.rows},
             std::tuple{"bytes", "Compressed bytes written to the recording", stats.bytes},
             std::tuple{"rotations", "Recording files rotated at their size", stats.rotations},
             std::tuple{"dropped", "Snapshots not recorded: the writer's queue was full",
                        stats.dropped},
             std::tuple{"errors", "Recording writes that failed (retried with the next snapshot)",
                        stats.errors},
         }) {
      out.Counter(std::string("metrics_keda_recording_") + name + "_total", help, {},
                  static_cast<double>(value));
    }
  }
  const std::string limit_help = "Requests refused at a limit (RESOURCE_EXHAUSTED)";
  out.Counter("metrics_keda_limit_rejections_total", limit_help, {{"limit", "targets"}},
              static_cast<double>(state.registry.rejected()));
  out.Counter("metrics_keda_limit_rejections_total", limit_help, {{"limit", "streams"}},
              static_cast<double>(state.streams.rejected()));
  out.Counter("metrics_keda_limit_rejections_total", limit_help, {{"limit", "metadata_bytes"}},
              static_cast<double>(state.rpc.metadata_rejected()));
  out.Gauge("metrics_keda_activation_streams", "Open StreamIsActive streams", {},
            static_cast<double>(state.streams.open_count()));
  out.Counter("metrics_keda_activation_messages_total", "Messages sent on StreamIsActive streams",
              {}, static_cast<double>(state.streams.messages_sent()));
  return prometheus::TextSerializer().Serialize(out.all());
}

}  // namespace mk::observability
