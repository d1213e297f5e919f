// libFuzzer target: arbitrary bytes as one Dynamo worker's /metrics page, read by the
// Prometheus text-format reader and turned into unit figures (worker_gauges.h), with
// any model, with one model named, and under tight limits. Anything may be refused;
// nothing may crash, hang or grow without bound, and what is kept must be usable:
//   - the reader is as strict about a line whatever it keeps: a page refused when
//     nothing is wanted is refused when the gauges are wanted, and one accepted is
//     accepted (unless the kept samples exceed their limit), with only wanted samples;
//   - every page yields records or unreadable reports, never neither (no data is a
//     report, not an idle unit), each report counted once, and a status that is OK
//     exactly when nothing was unreadable;
//   - a page the reader refuses yields one unreadable report and no record;
//   - records are of the caller's instance, by strictly ascending rank, and each has a
//     load figure; usage fractions are in [0, 1], used blocks at most the total, counts
//     whole and at most 2^53, the running gauge and the active slots agree, and the
//     slot total (which the page does not give) is 0; the fleet arithmetic's unit
//     figures (fleet::FiguresOf) are in range;
//   - reading is deterministic.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dynamo/worker_gauges.h"
#include "fleet/fleet_figures.h"
#include "fuzz_check.h"
#include "prometheus/text_format.h"

namespace {

using mk::dynamo::WorkerGaugeReader;
using mk::dynamo::WorkerGaugeUnit;
using mk::dynamo::WorkerPage;

constexpr uint64_t kInstance = 0x694d951a80e06bb6;
constexpr double kMaxCount = 9007199254740992.0;

unsigned long long U(uint64_t x) { return static_cast<unsigned long long>(x); }

bool InUnit(double x) { return std::isfinite(x) && x >= 0 && x <= 1; }

void CheckUnit(const WorkerGaugeUnit& unit, const char* reader) {
  const mk::dynamo::WorkerLoad& load = unit.load;
  const auto rank = U(load.key.dp_rank.value_or(0));
  MK_FUZZ_CHECK(load.key.lease_id == kInstance && load.key.dp_rank, "%s: rank %llu: key", reader,
                rank);
  MK_FUZZ_CHECK(load.gpu_cache_usage_perc || load.num_requests_waiting || unit.running,
                "%s: rank %llu: a record without a load figure", reader, rank);
  if (load.gpu_cache_usage_perc) {
    MK_FUZZ_CHECK(InUnit(*load.gpu_cache_usage_perc), "%s: rank %llu: usage %.17g", reader, rank,
                  *load.gpu_cache_usage_perc);
  }
  MK_FUZZ_CHECK(load.kv_total_blocks == 0 || load.gpu_cache_usage_perc,
                "%s: rank %llu: blocks without a usage", reader, rank);
  MK_FUZZ_CHECK(load.kv_active_blocks <= load.kv_total_blocks &&
                    static_cast<double>(load.kv_total_blocks) <= kMaxCount,
                "%s: rank %llu: kv %llu/%llu", reader, rank, U(load.kv_active_blocks),
                U(load.kv_total_blocks));
  if (load.num_requests_waiting) {
    MK_FUZZ_CHECK(static_cast<double>(*load.num_requests_waiting) <= kMaxCount,
                  "%s: rank %llu: waiting %llu", reader, rank, U(*load.num_requests_waiting));
  }
  MK_FUZZ_CHECK(load.request_active_slots == unit.running.value_or(0) &&
                    static_cast<double>(load.request_active_slots) <= kMaxCount,
                "%s: rank %llu: active slots %llu, running %llu", reader, rank,
                U(load.request_active_slots), U(unit.running.value_or(0)));
  MK_FUZZ_CHECK(load.request_total_slots == 0 && !load.prefill_tokens_queued &&
                    !load.gpu_prefix_cache_hit_rate,
                "%s: rank %llu: a figure the page does not give", reader, rank);
  const mk::fleet::UnitFigures figures = mk::fleet::FiguresOf(load);
  MK_FUZZ_CHECK(figures.kv_usage.has_value() == load.gpu_cache_usage_perc.has_value(),
                "%s: rank %llu: kv usage defined differently from the page", reader, rank);
  for (const auto& figure : {figures.kv_usage, figures.load}) {
    if (figure)
      MK_FUZZ_CHECK(InUnit(*figure), "%s: rank %llu: figure %.17g", reader, rank, *figure);
  }
}

void CheckPage(const WorkerPage& page, const char* reader) {
  MK_FUZZ_CHECK(!page.units.empty() || !page.unreadable.empty(),
                "%s: neither a record nor an unreadable report", reader);
  MK_FUZZ_CHECK(page.drops.Total() == page.unreadable.size(),
                "%s: %zu unreadable reports, %llu drops", reader, page.unreadable.size(),
                U(page.drops.Total()));
  MK_FUZZ_CHECK(page.status.ok() == page.unreadable.empty(), "%s: status %s with %zu unreadable",
                reader, page.status.ToString().c_str(), page.unreadable.size());
  const uint64_t unreadable_page = page.drops.Get(mk::dynamo::DropReason::kMalformedPrometheus) +
                                   page.drops.Get(mk::dynamo::DropReason::kOversized);
  if (unreadable_page > 0) {
    MK_FUZZ_CHECK(
        page.units.empty() && page.unreadable.size() == 1 && !page.unreadable[0].key.dp_rank,
        "%s: an unreadable page with records or several reports", reader);
  }
  for (const mk::dynamo::UnreadableReport& report : page.unreadable) {
    MK_FUZZ_CHECK(report.key.lease_id == kInstance, "%s: an unreadable report of another id",
                  reader);
  }
  for (size_t i = 0; i < page.units.size(); ++i) {
    CheckUnit(page.units[i], reader);
    if (i > 0) {
      MK_FUZZ_CHECK(*page.units[i - 1].load.key.dp_rank < *page.units[i].load.key.dp_rank,
                    "%s: ranks not strictly ascending", reader);
    }
  }
}

bool SamePage(const WorkerPage& a, const WorkerPage& b) {
  if (a.units.size() != b.units.size()) return false;
  for (size_t i = 0; i < a.units.size(); ++i) {
    if (!(a.units[i].load == b.units[i].load) || a.units[i].running != b.units[i].running) {
      return false;
    }
  }
  return a.unreadable == b.unreadable && a.drops.by_reason == b.drops.by_reason &&
         a.ignored.by_reason == b.ignored.by_reason && a.status == b.status;
}

// The reader's strictness does not depend on what it keeps.
void CheckReader(std::string_view page) {
  static const mk::prometheus::TextFormatReader nothing({});
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const mk::dynamo::WorkerGauge& gauge : mk::dynamo::kWorkerGauges) {
      all.emplace_back(gauge.name);
    }
    return all;
  }();
  static const mk::prometheus::TextFormatReader gauges(names);
  const auto skimmed = nothing.Read(page);
  const auto kept = gauges.Read(page);
  if (skimmed.ok()) {
    MK_FUZZ_CHECK(skimmed->empty(), "a reader that wants nothing kept %zu samples",
                  skimmed->size());
    MK_FUZZ_CHECK(kept.ok() || kept.status().code() == absl::StatusCode::kResourceExhausted,
                  "accepted when skimmed, refused when kept: %s", kept.status().ToString().c_str());
  } else {
    MK_FUZZ_CHECK(!kept.ok(), "refused when skimmed (%s), accepted when kept",
                  skimmed.status().ToString().c_str());
  }
  if (kept.ok()) {
    for (const mk::prometheus::Sample& sample : *kept) {
      MK_FUZZ_CHECK(std::find(names.begin(), names.end(), sample.name) != names.end(),
                    "kept an unwanted sample");
      MK_FUZZ_CHECK(sample.labels.size() <= gauges.limits().max_labels_per_sample,
                    "%zu labels kept", sample.labels.size());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view page(reinterpret_cast<const char*>(data), size);
  static const WorkerGaugeReader any;
  static const WorkerGaugeReader model(mk::dynamo::WorkerGaugeOptions{"Qwen/Qwen3-0.6B", {}});
  static const WorkerGaugeReader tight([] {
    mk::dynamo::WorkerGaugeOptions options;
    options.limits.max_page_bytes = 4096;
    options.limits.max_line_bytes = 256;
    options.limits.max_labels_per_sample = 4;
    options.limits.max_label_name_bytes = 16;
    options.limits.max_label_value_bytes = 32;
    options.limits.max_samples_kept = 8;
    return options;
  }());

  CheckReader(page);
  const WorkerPage read = any.Read(page, kInstance);
  CheckPage(read, "any model");
  CheckPage(model.Read(page, kInstance), "one model");
  CheckPage(tight.Read(page, kInstance), "tight limits");
  MK_FUZZ_CHECK(SamePage(read, any.Read(page, kInstance)), "reading the same page twice differed");
  return 0;
}
