#include "observability/status_page.h"

#include <fmt/format.h>

#include <chrono>

#include "dynamo/drop_reason.h"
#include "observability/json_writer.h"
#include "observability/static_files.h"

namespace mk::observability {
namespace {

double SecondsSince(std::chrono::system_clock::time_point then) {
  return std::chrono::duration<double>(std::chrono::system_clock::now() - then).count();
}

std::string Html(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Fixed(std::optional<double> value, int digits) {
  return value ? fmt::format("{:.{}f}", *value, digits) : std::string("-");
}

std::string ReasonName(const std::optional<dynamo::DropReason>& reason) {
  return reason ? std::string(dynamo::DropReasonName(*reason)) : std::string("unknown");
}

void WriteWorker(JsonWriter& json, const fleet::Unit& unit) {
  json.BeginObject().Key("worker_id").String(dynamo::LeaseHex(unit.key.lease_id));
  json.Key("dp_rank");
  unit.key.dp_rank ? json.Unsigned(*unit.key.dp_rank) : json.Null();
  json.Key("state").String(fleet::UnitStateName(unit.state));
  if (!unit.report) {
    if (unit.state == fleet::UnitState::kUnreadable) {
      json.Key("drop_reason").String(ReasonName(unit.drop_reason));
    }
    json.Key("units").Unsigned(unit.units);
    json.EndObject();
    return;
  }
  const dynamo::WorkerLoad& report = *unit.report;
  const fleet::UnitFigures figures = fleet::FiguresOf(report);
  json.Key("source").String(fleet::FigureSourceName(unit.source));
  json.Key("kv_active_blocks").Unsigned(report.kv_active_blocks);
  json.Key("kv_total_blocks").Unsigned(report.kv_total_blocks);
  json.Key("request_active_slots").Unsigned(report.request_active_slots);
  json.Key("request_total_slots").Unsigned(report.request_total_slots);
  json.Key("num_requests_waiting");
  report.num_requests_waiting ? json.Unsigned(*report.num_requests_waiting) : json.Null();
  json.Key("prefill_tokens_queued");
  report.prefill_tokens_queued ? json.Unsigned(*report.prefill_tokens_queued) : json.Null();
  json.Key("gpu_cache_usage_perc").Number(report.gpu_cache_usage_perc);
  json.Key("kv_usage").Number(figures.kv_usage);
  json.Key("slot_usage").Number(figures.slot_usage);
  json.Key("load").Number(figures.load);
  json.EndObject();
}

// A fleet figure, or none when the fleet cannot define it (never a made-up 0).
std::optional<double> FigureOf(const fleet::FleetFigures& figures, fleet::FleetMetric metric) {
  absl::StatusOr<double> value = figures.Value(metric);
  return value.ok() ? std::optional(*value) : std::nullopt;
}

void WriteTarget(JsonWriter& json, const TargetStatus& status) {
  json.BeginObject();
  json.Key("namespace").String(status.target.dynamo_namespace);
  json.Key("component").String(status.target.component);
  json.Key("endpoint").String(status.target.endpoint);
  json.Key("snapshot_age_seconds").Number(status.snapshot_age_seconds);
  json.Key("servable").Bool(status.snapshot != nullptr);
  if (!status.unavailable.empty()) json.Key("unavailable").String(status.unavailable);
  json.Key("scrape").BeginObject();
  json.Key("rounds").Unsigned(status.stats.rounds);
  json.Key("failed_rounds").Unsigned(status.stats.failed_rounds);
  json.Key("replies").Unsigned(status.stats.replies);
  json.Key("last_duration_seconds")
      .Number(std::chrono::duration<double>(status.stats.last_round_duration).count());
  json.Key("last_error").String(status.stats.last_error);
  json.Key("dropped").BeginObject();
  for (const dynamo::DropReason reason : dynamo::kStatsDropReasons) {
    json.Key(dynamo::DropReasonName(reason)).Unsigned(status.stats.drops.Get(reason));
  }
  json.EndObject().EndObject();
  json.Key("events").BeginObject();
  json.Key("applied").Unsigned(status.stats.events_applied);
  json.Key("router_records").Unsigned(status.stats.router_records);
  json.Key("not_member").Unsigned(status.stats.events_not_member);
  json.Key("over_limit").Unsigned(status.stats.events_over_limit);
  json.Key("dropped").BeginObject();
  for (const dynamo::DropReason reason : dynamo::kAllDropReasons) {
    if (status.stats.event_drops.Get(reason) == 0) continue;
    json.Key(dynamo::DropReasonName(reason)).Unsigned(status.stats.event_drops.Get(reason));
  }
  json.EndObject().EndObject();
  if (status.snapshot) {
    const fleet::FleetFigures& figures = status.snapshot->figures;
    json.Key("snapshot_version").Unsigned(status.snapshot->version);
    json.Key("fleet").BeginObject();
    json.Key("workers").Unsigned(figures.units);
    json.Key("reporting_units").Unsigned(figures.reporting_units);
    json.Key("pending_units").Unsigned(figures.pending_units);
    json.Key("unreadable_units").Unsigned(figures.unreadable_units);
    json.Key("units_refused").Unsigned(figures.units_refused);
    if (figures.unreadable_units > 0) {
      json.Key("main_unreadable_reason").String(ReasonName(figures.main_unreadable_reason));
    }
    for (fleet::FleetMetric metric : fleet::kAllFleetMetrics) {
      json.Key(fleet::MetricName(metric)).Number(FigureOf(figures, metric));
      json.Key(std::string(fleet::MetricName(metric)) + "_units")
          .Unsigned(figures.UnitsDefining(metric));
    }
    json.EndObject();
    json.Key("workers").BeginArray();
    for (const fleet::Unit& unit : status.snapshot->units) WriteWorker(json, unit);
    json.EndArray();
  }
  json.EndObject();
}

void WriteTrigger(JsonWriter& json, const keda::TriggerRecord& record) {
  json.BeginObject();
  json.Key("scaled_object").String(record.scaled_object);
  json.Key("metadata").BeginObject();
  for (const auto& [key, value] : record.metadata) json.Key(key).String(value);
  json.EndObject();
  if (record.config) {
    json.Key("target").String(record.config->target.ToString());
    json.Key("metric").String(fleet::MetricName(record.config->metric));
    json.Key("threshold").Number(record.config->threshold);
    json.Key("activation_threshold").Number(record.config->activation_threshold);
    json.Key("metric_type").String(keda::MetricTypeName(record.config->metric_type));
    json.Key("source").String(fleet::SourceViewName(record.config->source));
  }
  json.Key("last_rpc").String(keda::RpcName(record.last_rpc));
  json.Key("seconds_ago").Number(SecondsSince(record.last_seen));
  json.Key("code").String(keda::StatusCodeName(static_cast<int>(record.last_status.code())));
  json.Key("value").Number(record.value);
  json.Key("active");
  record.active ? json.Bool(*record.active) : json.Null();
  json.Key("workers").Unsigned(record.workers);
  json.Key("desired_replicas");
  record.desired_replicas ? json.Integer(*record.desired_replicas) : json.Null();
  json.Key("reason").String(record.reason);
  json.EndObject();
}

int64_t UnixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

// One column of a series: `write` of each point's sample, null where the answer failed.
template <typename Write>
void WriteColumn(JsonWriter& json, std::string_view name, const keda::FigureSeries& series,
                 Write write) {
  json.Key(name).BeginArray();
  for (const keda::FigurePoint& point : series.points) {
    if (point.sample) {
      write(*point.sample);
    } else {
      json.Null();
    }
  }
  json.EndArray();
}

// The charts of the triggers in `history`, drawn by status_charts.js from the
// history document carried in the page.
std::string ChartsHtml(const keda::FigureHistoryView& history) {
  std::string html = "<h2>Triggers, the last hour</h2>";
  if (history.series.empty()) return html + "<p>No trigger was asked about in the last hour.</p>";
  // In a script element only "</script" and "<!--" end or change the text; JSON has
  // '<' only inside strings, where \u003c reads the same.
  std::string json;
  for (const char c : HistoryJson(history)) {
    if (c == '<') {
      json += "\\u003c";
    } else {
      json += c;
    }
  }
  return html + fmt::format(
                    "<p>Per trigger: the fleet figure F against the trigger's threshold (left "
                    "axis), the present units N and the replicas the HPA aims at (right axis), one "
                    "point per {} s; a gap where the answers failed, or where none was asked for. "
                    "<a href=\"/status/history\">JSON</a></p><div id=\"charts\"></div>"
                    "<script type=\"application/json\" id=\"history\">{}</script>"
                    "<script src=\"{}\"></script><script src=\"{}\"></script>",
                    keda::FigureHistory::kInterval.count(), json, Html(ChartJs().Url()),
                    Html(StatusChartsJs().Url()));
}

}  // namespace

std::string HistoryJson(const keda::FigureHistoryView& history) {
  JsonWriter json;
  json.BeginObject();
  json.Key("interval_seconds").Integer(keda::FigureHistory::kInterval.count());
  json.Key("span_seconds").Integer(keda::FigureHistory::kSpan.count());
  json.Key("now").Integer(UnixSeconds(history.now));
  json.Key("triggers").BeginArray();
  for (const keda::FigureSeries& series : history.series) {
    json.BeginObject();
    json.Key("scaled_object").String(series.label.scaled_object);
    json.Key("metric").String(series.label.metric);
    json.Key("target").String(series.label.target);
    json.Key("metric_type").String(series.label.metric_type);
    json.Key("threshold").Number(series.label.threshold);
    json.Key("time").BeginArray();
    for (const keda::FigurePoint& point : series.points) json.Integer(UnixSeconds(point.slot));
    json.EndArray();
    WriteColumn(json, "figure", series,
                [&](const keda::FigureSample& sample) { json.Number(sample.figure); });
    WriteColumn(json, "units", series,
                [&](const keda::FigureSample& sample) { json.Unsigned(sample.units); });
    WriteColumn(json, "desired_replicas", series,
                [&](const keda::FigureSample& sample) { json.Integer(sample.desired_replicas); });
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.text() + "\n";
}

StatusModel GatherStatus(const ScalerState& state, const keda::TriggerLog& triggers) {
  StatusModel model;
  model.version = state.version;
  if (state.nats != nullptr) {
    model.nats_used = true;
    model.nats_connected = state.nats->connected();
    model.nats_reconnects = state.nats->reconnects();
  }
  if (state.sources) model.sources = state.sources();
  model.open_streams = state.streams.open_count();
  const auto now = std::chrono::steady_clock::now();
  for (const auto& collector : state.registry.All()) {
    TargetStatus status;
    status.target = collector->target();
    if (fleet::SnapshotPtr latest = collector->Latest()) {
      status.snapshot_age_seconds = std::chrono::duration<double>(latest->AgeAt(now)).count();
    }
    absl::StatusOr<fleet::SnapshotPtr> servable = collector->Servable();
    if (servable.ok()) {
      status.snapshot = *servable;
    } else {
      status.unavailable = std::string(servable.status().message());
    }
    status.stats = collector->Stats();
    model.targets.push_back(std::move(status));
  }
  model.triggers = triggers.Recent();
  return model;
}

std::string StatusJson(const StatusModel& model) {
  JsonWriter json;
  json.BeginObject();
  json.Key("version").String(model.version);
  json.Key("nats").BeginObject();
  json.Key("connected").Bool(model.nats_connected);
  json.Key("reconnects").Unsigned(model.nats_reconnects);
  json.EndObject();
  json.Key("sources").BeginArray();
  for (const SourceHealth& source : model.sources) {
    json.BeginObject();
    json.Key("name").String(source.name);
    json.Key("role").String(source.role);
    json.Key("connected").Bool(source.connected);
    for (const auto& [name, value] : source.counters) json.Key(name).Unsigned(value);
    for (const auto& [name, value] : source.gauges) json.Key(name).Unsigned(value);
    json.EndObject();
  }
  json.EndArray();
  json.Key("activation_streams").Unsigned(model.open_streams);
  json.Key("targets").BeginArray();
  for (const TargetStatus& target : model.targets) WriteTarget(json, target);
  json.EndArray();
  json.Key("triggers").BeginArray();
  for (const keda::TriggerRecord& record : model.triggers) WriteTrigger(json, record);
  json.EndArray();
  json.EndObject();
  return json.text() + "\n";
}

std::string StatusHtml(const StatusModel& model, const keda::FigureHistoryView& history) {
  // Today's Dynamo needs no NATS: no connection then, and nothing wrong with that.
  const std::string nats =
      model.nats_used
          ? fmt::format("<b class=\"{}\">{}</b> (reconnects: {})",
                        model.nats_connected ? "" : "bad",
                        model.nats_connected ? "connected" : "disconnected", model.nats_reconnects)
          : "not used";
  std::string html = fmt::format(
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>metrics-keda</title>"
      "<meta http-equiv=\"refresh\" content=\"5\"><style>body{{font-family:sans-serif;margin:1em}}"
      "table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;"
      "padding:3px 8px;text-align:right}}th{{background:#eee}}td.l{{text-align:left}}"
      ".bad{{color:#b00}}#charts{{display:grid;grid-template-columns:repeat(auto-fill,"
      "minmax(560px,1fr));gap:1em;margin-bottom:1.5em}}#charts figure{{position:relative;"
      "height:340px;margin:0}}</style></head><body><h1>metrics-keda {}</h1>"
      "<p>NATS: {} &middot; activation streams: {} &middot; "
      "<a href=\"/status\">JSON</a> &middot; <a href=\"/metrics\">metrics</a></p>",
      Html(model.version), nats, model.open_streams);

  html +=
      "<h2>Targets</h2><table><tr><th>target</th><th>workers</th><th>unreadable</th><th>load</th>"
      "<th>KV %</th><th>slots %</th><th>waiting</th><th>snapshot age s</th>"
      "<th>last scrape ms</th><th>rounds (failed)</th><th>dropped</th><th>state</th></tr>";
  for (const TargetStatus& target : model.targets) {
    const fleet::FleetFigures* figures = target.snapshot ? &target.snapshot->figures : nullptr;
    auto figure = [&](fleet::FleetMetric metric) {
      return figures ? FigureOf(*figures, metric) : std::nullopt;
    };
    html += fmt::format(
        "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td><td>{} ({})</td><td>{}</td>"
        "<td class=\"l {}\">{}</td></tr>",
        Html(target.target.ToString()), figures ? std::to_string(figures->units) : "-",
        figures && figures->unreadable_units > 0 ? "bad" : "",
        figures ? std::to_string(figures->unreadable_units) : "-",
        Fixed(figure(fleet::FleetMetric::kLoadAvg), 3),
        Fixed(figure(fleet::FleetMetric::kKvBlocksUsagePercent), 1),
        Fixed(figure(fleet::FleetMetric::kRequestSlotsUsagePercent), 1),
        Fixed(figure(fleet::FleetMetric::kRequestsWaiting), 2),
        Fixed(target.snapshot_age_seconds, 2),
        std::chrono::duration<double, std::milli>(target.stats.last_round_duration).count(),
        target.stats.rounds, target.stats.failed_rounds, target.stats.drops.Total(),
        target.unavailable.empty() ? "" : "bad",
        Html(target.unavailable.empty() ? "serving" : target.unavailable));
  }
  html += "</table>";
  html += ChartsHtml(history);

  for (const TargetStatus& target : model.targets) {
    if (!target.snapshot || target.snapshot->units.empty()) continue;
    html += fmt::format(
        "<h2>Workers of {}</h2><table><tr><th>worker</th><th>rank</th><th>state</th>"
        "<th>KV blocks</th><th>slots</th><th>waiting</th><th>KV usage</th>"
        "<th>slot usage</th><th>load</th></tr>",
        Html(target.target.ToString()));
    for (const fleet::Unit& unit : target.snapshot->units) {
      const std::string worker = dynamo::LeaseHex(unit.key.lease_id);
      const std::string rank = unit.key.dp_rank ? std::to_string(*unit.key.dp_rank) : "-";
      if (unit.state == fleet::UnitState::kPending) {
        html += fmt::format(
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">pending: not heard yet</td>"
            "<td colspan=\"6\">-</td></tr>",
            worker, rank);
        continue;
      }
      if (!unit.report) {
        html += fmt::format(
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l bad\">unreadable: {}{}</td>"
            "<td colspan=\"6\">-</td></tr>",
            worker, rank, Html(ReasonName(unit.drop_reason)),
            unit.units > 1 ? fmt::format(" ({} units)", unit.units) : std::string());
        continue;
      }
      const dynamo::WorkerLoad& report = *unit.report;
      const fleet::UnitFigures figures = fleet::FiguresOf(report);
      html += fmt::format(
          "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">reporting ({})</td>"
          "<td>{} / {}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
          worker, rank, fleet::FigureSourceName(unit.source), report.kv_active_blocks,
          report.kv_total_blocks, report.request_active_slots, report.request_total_slots,
          report.num_requests_waiting ? std::to_string(*report.num_requests_waiting) : "-",
          Fixed(figures.kv_usage, 3), Fixed(figures.slot_usage, 3), Fixed(figures.load, 3));
    }
    html += "</table>";
  }

  html +=
      "<h2>Recent triggers</h2><table><tr><th>ScaledObject</th><th>metadata</th>"
      "<th>last call</th><th>seconds ago</th><th>code</th><th>value</th><th>active</th>"
      "<th>desired replicas</th><th>why</th></tr>";
  for (const keda::TriggerRecord& record : model.triggers) {
    std::string metadata;
    for (const auto& [key, value] : record.metadata) {
      metadata += Html(key) + "=" + Html(value) + "<br>";
    }
    html += fmt::format(
        "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{:.1f}</td>"
        "<td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
        Html(record.scaled_object), metadata, keda::RpcName(record.last_rpc),
        SecondsSince(record.last_seen), record.last_status.ok() ? "" : "bad",
        keda::StatusCodeName(static_cast<int>(record.last_status.code())), Fixed(record.value, 3),
        record.active ? (*record.active ? "true" : "false") : "-",
        record.desired_replicas ? std::to_string(*record.desired_replicas) : "-",
        Html(record.reason));
  }
  html += "</table></body></html>\n";
  return html;
}

}  // namespace mk::observability
