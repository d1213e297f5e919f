#include "mock_worker/worker_payloads.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <utility>

namespace mk::mock {
namespace {

constexpr std::string_view kVersion = "0.0.1";
constexpr std::string_view kQueueGroup = "q";

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ptr);
}

// Shortest round-trip form, always with a '.' or exponent so that JSON readers
// see a floating-point number (as serde_json prints Dynamo's f32 fields).
void AppendDouble(std::string& out, double v) {
  char buf[32];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  const std::string_view text(buf, static_cast<size_t>(ptr - buf));
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out.append(".0");
}

}  // namespace

// Names here are slugs, hex and [A-Za-z0-9]; escaping keeps the JSON valid even if
// a caller passes something else as an endpoint name.
void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(u));
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

namespace {

void AppendRank(std::string& out, std::optional<uint32_t> dp_rank) {
  if (dp_rank) {
    AppendUint(out, *dp_rank);
  } else {
    out.append("null");
  }
}

void AppendForwardPassMetrics(std::string& out, const WorkerFigures& f, MetricsForm form,
                              std::optional<uint32_t> dp_rank) {
  if (form == MetricsForm::kNull) {
    out.append("null");
    return;
  }
  if (form == MetricsForm::kFlat) {
    out.append("{\"data_parallel_rank\":");
    AppendRank(out, dp_rank);
    out.append(",\"request_active_slots\":");
    AppendUint(out, f.request_active_slots);
    out.append(",\"request_total_slots\":");
    AppendUint(out, f.request_total_slots);
    out.append(",\"kv_active_blocks\":");
    AppendUint(out, f.kv_active_blocks);
    out.append(",\"kv_total_blocks\":");
    AppendUint(out, f.kv_total_blocks);
    out.append(",\"num_requests_waiting\":");
    AppendUint(out, f.num_requests_waiting);
    out.append(",\"gpu_cache_usage_perc\":");
    AppendDouble(out, f.gpu_cache_usage_perc);
    out.append(",\"gpu_prefix_cache_hit_rate\":");
    AppendDouble(out, f.gpu_prefix_cache_hit_rate);
    out.push_back('}');
    return;
  }
  out.append("{\"worker_stats\":{\"data_parallel_rank\":");
  AppendRank(out, dp_rank);
  out.append(",\"request_active_slots\":");
  AppendUint(out, f.request_active_slots);
  out.append(",\"request_total_slots\":");
  AppendUint(out, f.request_total_slots);
  out.append(",\"num_requests_waiting\":");
  AppendUint(out, f.num_requests_waiting);
  out.append("},\"kv_stats\":{\"kv_active_blocks\":");
  AppendUint(out, f.kv_active_blocks);
  out.append(",\"kv_total_blocks\":");
  AppendUint(out, f.kv_total_blocks);
  out.append(",\"gpu_cache_usage_perc\":");
  AppendDouble(out, f.gpu_cache_usage_perc);
  out.append(",\"gpu_prefix_cache_hit_rate\":");
  AppendDouble(out, f.gpu_prefix_cache_hit_rate);
  out.append("},\"spec_decode_stats\":null}");
}

// The header fields every micro response starts with.
void AppendResponseHead(std::string& out, std::string_view type, const WorkerIdentity& w) {
  out.append("{\"type\":");
  AppendJsonString(out, type);
  out.append(",\"name\":");
  AppendJsonString(out, w.service);
  out.append(",\"id\":");
  AppendJsonString(out, w.instance_id);
  out.append(",\"version\":");
  AppendJsonString(out, kVersion);
}

// One STATS endpoint entry; `data` is raw JSON (an object or null).
void AppendStatsEndpointHead(std::string& out, const Endpoint& e) {
  out.append("{\"name\":");
  AppendJsonString(out, e.name);
  out.append(",\"subject\":");
  AppendJsonString(out, e.subject);
  out.append(
      ",\"num_requests\":0,\"num_errors\":0,\"processing_time\":0,"
      "\"average_processing_time\":0,\"last_error\":\"\",\"data\":");
}

void AppendStatsEndpointTail(std::string& out) {
  out.append(",\"queue_group\":");
  AppendJsonString(out, kQueueGroup);
  out.push_back('}');
}

void AppendInfoEndpoint(std::string& out, const Endpoint& e) {
  out.append("{\"name\":");
  AppendJsonString(out, e.name);
  out.append(",\"subject\":");
  AppendJsonString(out, e.subject);
  out.append(",\"queue_group\":");
  AppendJsonString(out, kQueueGroup);
  out.append(",\"metadata\":null}");
}

}  // namespace

std::string Slugify(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
                      lower == '_' || lower == '-';
    out.push_back(keep ? lower : '_');
  }
  const size_t first = out.find_first_not_of('_');
  return first == std::string::npos ? std::string() : out.substr(first);
}

uint32_t Fnv1a32(std::string_view text) {
  uint32_t h = 2166136261u;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

std::string ServiceName(std::string_view dynamo_namespace, std::string_view component,
                        bool legacy) {
  std::string joined;
  joined.reserve(dynamo_namespace.size() + component.size() + 1);
  joined.append(dynamo_namespace).append("_").append(component);
  std::string slug = Slugify(joined);
  if (!legacy) return slug;
  std::replace(slug.begin(), slug.end(), '-', '_');
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "_%08x", static_cast<unsigned>(Fnv1a32(slug)));
  return slug + suffix;
}

std::string LeaseHex(uint64_t lease_id) {
  char buf[17];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, lease_id, 16);
  return std::string(buf, ptr);
}

std::string InstanceId(uint64_t process_seed, uint64_t index) {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  constexpr size_t kHalf = 11;  // 62^11 > 2^64, so each half encodes a full u64
  // A bijective mix of the index (xor-shifts and an odd multiplier are invertible),
  // so ids look random like nuids yet stay distinct per index.
  index += process_seed;
  index ^= index >> 31;
  index *= 0x9e3779b97f4a7c15ULL;
  index ^= index >> 29;
  std::string id(2 * kHalf, '0');
  for (size_t i = 0; i < kHalf; ++i) {
    id[kHalf - 1 - i] = kDigits[process_seed % 62];
    process_seed /= 62;
    id[2 * kHalf - 1 - i] = kDigits[index % 62];
    index /= 62;
  }
  return id;
}

Endpoint EndpointOf(std::string_view service, std::string_view endpoint, uint64_t lease_id) {
  Endpoint e;
  e.subject.reserve(service.size() + endpoint.size() + 18);
  e.subject.append(service).append(".").append(endpoint).append("-").append(LeaseHex(lease_id));
  e.name = e.subject;
  std::replace(e.name.begin(), e.name.end(), '.', '-');
  return e;
}

WorkerIdentity MakeWorkerIdentity(std::string_view service, std::string_view load_endpoint,
                                  uint64_t lease_id, std::string instance_id) {
  WorkerIdentity w;
  w.service = std::string(service);
  w.instance_id = std::move(instance_id);
  w.lease_id = lease_id;
  w.generate = EndpointOf(service, "generate", lease_id);
  w.load = EndpointOf(service, load_endpoint, lease_id);
  return w;
}

double WorkerLoadShare(double fleet_load, double spread, size_t index, size_t count) {
  if (count <= 1) return std::clamp(fleet_load, 0.0, 1.0);
  const double position = static_cast<double>(index) / static_cast<double>(count - 1);
  return std::clamp(fleet_load + spread * (position - 0.5), 0.0, 1.0);
}

WorkerFigures FiguresForLoad(double load, uint64_t kv_total_blocks, uint64_t slots_total) {
  if (!(load >= 0)) load = 0;  // also NaN
  load = std::min(load, 1.0);
  WorkerFigures f;
  f.kv_total_blocks = kv_total_blocks;
  f.request_total_slots = slots_total;
  f.kv_active_blocks =
      static_cast<uint64_t>(std::llround(load * static_cast<double>(kv_total_blocks)));
  // The epsilon keeps e.g. 0.29 * 100 = 28.999999999999996 at 29 slots.
  const double slots = std::floor(load * static_cast<double>(slots_total) + 1e-9);
  f.request_active_slots = std::min(static_cast<uint64_t>(slots), slots_total);
  f.num_requests_waiting = static_cast<uint64_t>(std::llround(std::max(0.0, load - 0.8) * 100.0));
  f.gpu_cache_usage_perc = kv_total_blocks == 0 ? load
                                                : static_cast<double>(f.kv_active_blocks) /
                                                      static_cast<double>(kv_total_blocks);
  f.gpu_prefix_cache_hit_rate = 0.0;
  return f;
}

std::string ForwardPassMetricsJson(const WorkerFigures& figures, MetricsForm form,
                                   std::optional<uint32_t> dp_rank) {
  std::string out;
  AppendForwardPassMetrics(out, figures, form, dp_rank);
  return out;
}

void AppendStatsReply(std::string& out, const WorkerIdentity& worker, std::string_view started,
                      const WorkerFigures& figures, MetricsForm form, uint32_t dp_ranks) {
  AppendResponseHead(out, "io.nats.micro.v1.stats_response", worker);
  out.append(",\"started\":");
  AppendJsonString(out, started);
  out.append(",\"endpoints\":[");
  AppendStatsEndpointHead(out, worker.generate);
  out.append("null");
  AppendStatsEndpointTail(out);
  const uint32_t ranks = std::max<uint32_t>(dp_ranks, 1);
  for (uint32_t r = 0; r < ranks; ++r) {
    out.push_back(',');
    AppendStatsEndpointHead(out, worker.load);
    AppendForwardPassMetrics(out, figures, form,
                             ranks > 1 ? std::optional<uint32_t>(r) : std::nullopt);
    AppendStatsEndpointTail(out);
  }
  out.append("]}");
}

std::string StatsReply(const WorkerIdentity& worker, std::string_view started,
                       const WorkerFigures& figures, MetricsForm form, uint32_t dp_ranks) {
  std::string out;
  AppendStatsReply(out, worker, started, figures, form, dp_ranks);
  return out;
}

std::string PingReply(const WorkerIdentity& worker) {
  std::string out;
  AppendResponseHead(out, "io.nats.micro.v1.ping_response", worker);
  out.append(",\"metadata\":{}}");
  return out;
}

std::string InfoReply(const WorkerIdentity& worker) {
  std::string out;
  AppendResponseHead(out, "io.nats.micro.v1.info_response", worker);
  out.append(",\"description\":\"\",\"metadata\":{},\"endpoints\":[");
  AppendInfoEndpoint(out, worker.generate);
  out.push_back(',');
  AppendInfoEndpoint(out, worker.load);
  out.append("]}");
  return out;
}

std::string Rfc3339Utc(std::chrono::system_clock::time_point time) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  using std::chrono::seconds;
  const auto since_epoch = duration_cast<microseconds>(time.time_since_epoch());
  auto secs = duration_cast<seconds>(since_epoch);
  auto micros = (since_epoch - secs).count();
  if (micros < 0) {  // before 1970: borrow a second so the fraction stays positive
    secs -= seconds(1);
    micros += 1000000;
  }
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // room for any int fields, though real dates need 27
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros));
  return buf;
}

}  // namespace mk::mock
