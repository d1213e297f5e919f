// What the discovery store says now: the worker instances serving each endpoint,
// their model cards (capacity, data-parallel ranks) and the event channels the
// publishers registered; kept from the stream of puts and deletes of a registry
// (the etcd watch; the same records come from Kubernetes objects), decoded by
// dynamo::DiscoveryRecordDecoder. A record that does not decode is dropped and
// counted, and a key whose new value does not decode loses its old record: the
// store no longer says what it said.
//
// Pure; not thread-safe (its registry guards it).
#ifndef METRICS_KEDA_DISCOVERY_DISCOVERY_STATE_H_
#define METRICS_KEDA_DISCOVERY_DISCOVERY_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dynamo/discovery_records.h"
#include "dynamo/drop_reason.h"
#include "fleet/fleet_model.h"
#include "fleet/target.h"

namespace mk::discovery {

class DiscoveryState {
 public:
  // A key put with `value`, or deleted. True when what the store says changed.
  // `host` and `metrics_port`: where the worker's pod answers (its IP, and the port
  // of its /metrics where known; from Kubernetes), kept with an instance record;
  // empty when the store does not say.
  bool Put(std::string_view key, std::string_view value, std::string_view host = {},
           std::optional<uint16_t> metrics_port = std::nullopt);
  bool Delete(std::string_view key);

  // The instances registered for `target` (namespace, component, endpoint), each
  // with its model card's runtime figures where it has a card.
  std::vector<fleet::Registration> RegistrationsFor(const fleet::Target& target) const;

  // Every event channel registered, ordered by key.
  std::vector<dynamo::EventChannelRecord> EventChannels() const;

  size_t instances() const;
  size_t model_cards() const;
  size_t event_channels() const { return channels_.size(); }
  const dynamo::DropCounts& drops() const { return drops_; }

 private:
  dynamo::DiscoveryRecordDecoder decoder_;
  // Per key, as the store holds them.
  struct Instance {
    dynamo::InstanceRecord record;
    std::string host;
    std::optional<uint16_t> metrics_port;
  };
  std::map<std::string, Instance, std::less<>> instances_;
  std::map<std::string, dynamo::ModelCardRecord, std::less<>> cards_;
  std::map<std::string, dynamo::EventChannelRecord, std::less<>> channels_;
  dynamo::DropCounts drops_;
};

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_DISCOVERY_STATE_H_
