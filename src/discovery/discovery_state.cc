#include "discovery/discovery_state.h"

#include <tuple>
#include <variant>

namespace mk::discovery {

bool DiscoveryState::Put(std::string_view key, std::string_view value, std::string_view host,
                         std::optional<uint16_t> metrics_port) {
  const bool had = Delete(key);
  dynamo::Decoded<dynamo::DiscoveryRecord> decoded = decoder_.Decode(key, value);
  if (!decoded.ok()) {
    drops_.Add(decoded.reason);
    return had;
  }
  std::string name(key);
  std::visit(
      [&](auto&& record) {
        using Record = std::decay_t<decltype(record)>;
        if constexpr (std::is_same_v<Record, dynamo::InstanceRecord>) {
          instances_.emplace(std::move(name),
                             Instance{std::move(record), std::string(host), metrics_port});
        } else if constexpr (std::is_same_v<Record, dynamo::ModelCardRecord>) {
          cards_.emplace(std::move(name), std::move(record));
        } else {
          channels_.emplace(std::move(name), std::move(record));
        }
      },
      std::move(*decoded.record));
  return true;
}

bool DiscoveryState::Delete(std::string_view key) {
  if (auto it = instances_.find(key); it != instances_.end()) {
    instances_.erase(it);
    return true;
  }
  if (auto it = cards_.find(key); it != cards_.end()) {
    cards_.erase(it);
    return true;
  }
  if (auto it = channels_.find(key); it != channels_.end()) {
    channels_.erase(it);
    return true;
  }
  return false;
}

std::vector<fleet::Registration> DiscoveryState::RegistrationsFor(
    const fleet::Target& target) const {
  auto same = [&](const auto& record) {
    return record.dynamo_namespace == target.dynamo_namespace &&
           record.component == target.component && record.endpoint == target.endpoint;
  };
  // The instance's base model card (no LoRA) gives its figures; a LoRA card only
  // where it has no base card.
  std::map<uint64_t, const dynamo::ModelCardRecord*> cards;
  for (const auto& [key, card] : cards_) {
    if (!same(card)) continue;
    const dynamo::ModelCardRecord*& slot = cards[card.instance_id];
    if (slot == nullptr || (!slot->lora.empty() && card.lora.empty())) slot = &card;
  }
  std::map<uint64_t, fleet::Registration> registrations;
  for (const auto& [key, entry] : instances_) {
    const dynamo::InstanceRecord& instance = entry.record;
    if (!same(instance)) continue;
    fleet::Registration& r = registrations[instance.instance_id];
    r.instance_id = instance.instance_id;
    if (!entry.host.empty()) {
      r.host = entry.host;
      r.metrics_port = entry.metrics_port;
    }
    auto card = cards.find(instance.instance_id);
    if (card == cards.end()) continue;
    const dynamo::RuntimeConfig& runtime = card->second->runtime;
    r.total_kv_blocks = runtime.total_kv_blocks;
    r.max_num_seqs = runtime.max_num_seqs;
    r.dp_start_rank = runtime.data_parallel_start_rank.value_or(0);
    r.dp_size = runtime.data_parallel_size.value_or(1);
  }
  std::vector<fleet::Registration> out;
  out.reserve(registrations.size());
  for (auto& [id, r] : registrations) out.push_back(r);
  return out;
}

std::vector<dynamo::EventChannelRecord> DiscoveryState::EventChannels() const {
  std::vector<dynamo::EventChannelRecord> out;
  out.reserve(channels_.size());
  for (const auto& [key, channel] : channels_) out.push_back(channel);
  return out;
}

size_t DiscoveryState::instances() const { return instances_.size(); }
size_t DiscoveryState::model_cards() const { return cards_.size(); }

}  // namespace mk::discovery
