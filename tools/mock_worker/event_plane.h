// When and what a simulated fleet publishes on Dynamo's event plane. Given each
// worker's load at a moment, an EventPlane says which messages are due then, ready for
// the wire (NATS subject and body, or the four ZMQ frames), in one of the forms Dynamo
// has used (--events):
//   zmq               MessagePack envelope + ActiveLoad, ZMQ direct: frame 0 the topic
//   zmq-broker        the same through a ZMQ broker: frame 0 the full subject
//   nats              the envelope on NATS, endpoint scope, percent-encoded (1.4 on)
//   nats-namespace    the envelope on NATS `namespace.<ns>.kv_metrics` (0.9 - 1.3)
//   json-active-load  JSON ActiveLoad on `namespace.<ns>.kv_metrics` (Dec 2025 - Jan 2026)
//   json-load-event   JSON LoadEvent on `namespace.<ns>.kv_metrics` (Aug - Dec 2025)
//
// Rules: every worker publishes, per data-parallel rank, its record when the record's
// figures change and again every `heartbeat` while they do not (never with a zero
// heartbeat); with forward-pass metrics, one ForwardPassMetrics per rank every
// `fpm_period`; with router noise, a router's ActiveLoad about one random rank of
// every worker every `router_period`, with random figures. Sequences count from 0 per
// publisher id (a worker whose two topics share one id shares one count).
//
// No I/O and no clock: the caller passes the time. The randomness of the router noise
// comes from the seed given. Not thread-safe: one caller at a time.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_EVENT_PLANE_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_EVENT_PLANE_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "mock_worker/event_payloads.h"

namespace mk::mock {

enum class EventForm {
  kNone,
  kZmq,
  kZmqBroker,
  kNats,
  kNatsNamespace,
  kJsonActiveLoad,
  kJsonLoadEvent
};

// "none", "zmq", "zmq-broker", "nats", "nats-namespace", "json-active-load",
// "json-load-event".
std::string_view EventFormName(EventForm form);
std::optional<EventForm> ParseEventForm(std::string_view name);
bool IsZmqForm(EventForm form);       // zmq, zmq-broker
bool IsEnvelopeForm(EventForm form);  // zmq, zmq-broker, nats, nats-namespace

struct EventPlaneSettings {
  EventForm form = EventForm::kNone;
  std::string dynamo_namespace = "dynamo";
  std::string component = "llm-worker";
  std::string endpoint = "kv-router";
  uint32_t dp_ranks = 1;
  uint64_t kv_total_blocks = 8192;
  uint64_t slots_total = 64;
  std::chrono::milliseconds heartbeat{10000};  // zero: never republish an unchanged record
  bool forward_pass_metrics = false;           // envelope forms only
  std::chrono::milliseconds fpm_period{1000};
  bool router_noise = false;  // envelope forms and json-active-load
  std::chrono::milliseconds router_period{1000};
};

// Who one simulated worker is on the event plane.
struct EventWorker {
  uint64_t worker_id = 0;
  uint64_t kv_publisher_id = 0;   // the envelope's publisher_id on kv_metrics
  uint64_t fpm_publisher_id = 0;  // on forward-pass-metrics
};

struct NatsMessage {
  std::string subject;
  std::string body;
};
using ZmqMessage = std::array<std::string, 4>;
using EventMessage = std::variant<NatsMessage, ZmqMessage>;

class EventPlane {
 public:
  using Clock = std::chrono::steady_clock;

  // `router_publisher_id`: the router's envelope publisher_id (router noise only).
  EventPlane(EventPlaneSettings settings, std::vector<EventWorker> workers,
             uint64_t router_publisher_id, uint64_t seed);

  // Appends to `out` every message due at `now`, worker `i` being at load
  // `loads[i]` (one load per worker; a missing one counts as 0). `published_at_ms`
  // goes into the envelopes.
  void Collect(Clock::time_point now, uint64_t published_at_ms, std::span<const double> loads,
               std::vector<EventMessage>& out);

  const EventPlaneSettings& settings() const { return settings_; }
  const std::vector<EventWorker>& workers() const { return workers_; }
  // The topic (ZMQ direct) or subject (otherwise) kv_metrics events go to, and
  // forward-pass-metrics events.
  const std::string& kv_destination() const { return kv_destination_; }
  const std::string& fpm_destination() const { return fpm_destination_; }

 private:
  struct WorkerState {
    // The figures last published, by what the form carries; none before the first.
    std::optional<std::tuple<uint64_t, uint64_t, uint64_t>> published;
    Clock::time_point next_heartbeat{};
    Clock::time_point next_fpm{};
    Clock::time_point next_router{};
    uint64_t fpm_counter = 0;
  };

  std::tuple<uint64_t, uint64_t, uint64_t> ChangeKey(const WorkerFigures& figures) const;
  void AddEnvelope(uint64_t publisher_id, uint64_t published_at_ms, std::string_view topic,
                   const std::string& destination, const std::string& payload,
                   std::vector<EventMessage>& out);
  void AddKvRecord(const ActiveLoadFields& load, const WorkerFigures& figures,
                   uint64_t publisher_id, uint64_t published_at_ms, std::vector<EventMessage>& out);

  const EventPlaneSettings settings_;
  const std::vector<EventWorker> workers_;
  const uint64_t router_publisher_id_;
  std::string kv_destination_;
  std::string fpm_destination_;
  std::vector<WorkerState> state_;
  std::unordered_map<uint64_t, uint64_t> next_sequence_;  // by publisher id
  std::mt19937_64 random_;
};

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_EVENT_PLANE_H_
