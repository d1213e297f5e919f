// libFuzzer target: arbitrary bytes as a replay trace (replay/trace_readers.h), read
// as a time,load CSV, as a per-unit CSV (alone, and cut in two files at its first NUL
// byte, as a rotated set), and as Prometheus query_range answers (the same), plain
// and gzip-compressed. Anything may be refused; nothing may crash, hang or grow
// without bound, and a trace that is read must be usable by replay:
//   - at least one sample; times finite, strictly increasing, the first 0;
//   - demands, where known, finite and >= 0; other columns finite; a slot count > 0;
//   - reading is deterministic, and the gzip-compressed bytes read as the plain ones.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "recording/gzip.h"
#include "replay/trace_readers.h"

namespace {

using mk::replay::Trace;
using mk::replay::TraceSample;

// Small limits: a few hundred rows exercise every rule a billion would.
constexpr mk::replay::TraceLimits kLimits{.max_bytes = 1 << 20, .max_rows = 512};

void CheckTrace(const absl::StatusOr<Trace>& trace, const char* reader) {
  if (!trace.ok()) {
    MK_FUZZ_CHECK(!trace.status().message().empty(), "%s: an error without a message", reader);
    return;
  }
  MK_FUZZ_CHECK(!trace->samples.empty(), "%s: a trace without samples", reader);
  MK_FUZZ_CHECK(trace->samples.front().time == 0, "%s: first time %.17g", reader,
                trace->samples.front().time);
  for (size_t i = 0; i < trace->samples.size(); ++i) {
    const TraceSample& sample = trace->samples[i];
    MK_FUZZ_CHECK(std::isfinite(sample.time), "%s: time %.17g", reader, sample.time);
    if (i > 0) {
      MK_FUZZ_CHECK(sample.time > trace->samples[i - 1].time, "%s: time %.17g after %.17g", reader,
                    sample.time, trace->samples[i - 1].time);
    }
    if (sample.demand) {
      MK_FUZZ_CHECK(std::isfinite(*sample.demand) && *sample.demand >= 0, "%s: demand %.17g",
                    reader, *sample.demand);
    }
    for (const auto& [name, value] : sample.columns) {
      if (value) MK_FUZZ_CHECK(std::isfinite(*value), "%s: column %s", reader, name.c_str());
    }
  }
  if (trace->slots_per_unit) {
    MK_FUZZ_CHECK(*trace->slots_per_unit > 0, "%s: slots %.17g", reader, *trace->slots_per_unit);
  }
}

bool Same(const absl::StatusOr<Trace>& a, const absl::StatusOr<Trace>& b) {
  if (a.ok() != b.ok()) return false;
  if (!a.ok()) return a.status() == b.status();
  if (a->slots_per_unit != b->slots_per_unit || a->samples.size() != b->samples.size()) {
    return false;
  }
  for (size_t i = 0; i < a->samples.size(); ++i) {
    const TraceSample& x = a->samples[i];
    const TraceSample& y = b->samples[i];
    if (x.time != y.time || x.demand != y.demand || x.columns != y.columns) return false;
  }
  return true;
}

bool IsGzip(std::string_view text) {
  return text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
         static_cast<unsigned char>(text[1]) == 0x8b;
}

std::string Gzip(std::string_view text) {
  mk::recording::GzipEncoder encoder;
  std::string out;
  MK_FUZZ_CHECK(encoder.Write(text, true, out).ok() && encoder.Finish(out).ok(), "gzip failed");
  return out;
}

// Reads `texts` with every reader; checks each result, and that it does not change
// when read again or from gzip.
void ReadAll(const std::vector<std::string_view>& texts) {
  std::vector<std::string> compressed;
  for (std::string_view text : texts) compressed.push_back(Gzip(text));
  const std::vector<std::string_view> gzipped(compressed.begin(), compressed.end());

  auto check = [&](const char* reader, auto read) {
    const absl::StatusOr<Trace> plain = read(texts);
    CheckTrace(plain, reader);
    MK_FUZZ_CHECK(Same(plain, read(texts)), "%s: reading twice differed", reader);
    // A text that is itself gzip is decompressed once only: the two differ then.
    if (std::none_of(texts.begin(), texts.end(), IsGzip)) {
      const absl::StatusOr<Trace> from_gzip = read(gzipped);
      MK_FUZZ_CHECK(Same(plain, from_gzip), "%s: gzip changed the answer: %s / %s", reader,
                    plain.status().ToString().c_str(), from_gzip.status().ToString().c_str());
    }
  };
  if (texts.size() == 1) {
    check("time,load", [](const std::vector<std::string_view>& in) {
      return mk::replay::ParseLoadCsv(in[0], kLimits);
    });
  }
  check("per unit", [](const std::vector<std::string_view>& in) {
    return mk::replay::ParseUnitCsv(in, {.limits = kLimits});
  });
  check("per unit, one target", [](const std::vector<std::string_view>& in) {
    return mk::replay::ParseUnitCsv(in, {.target = "dynamo/backend/generate", .limits = kLimits});
  });
  check("query_range", [](const std::vector<std::string_view>& in) {
    return mk::replay::ParsePrometheusRange(in, {.limits = kLimits});
  });
  check("query_range, slots", [](const std::vector<std::string_view>& in) {
    return mk::replay::ParsePrometheusRange(
        in, {.slots_per_unit = 16, .model = "Qwen/Qwen3-0.6B", .limits = kLimits});
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ReadAll({input});
  if (const size_t cut = input.find('\0'); cut != std::string_view::npos) {
    ReadAll({input.substr(0, cut), input.substr(cut + 1)});
  }
  return 0;
}
