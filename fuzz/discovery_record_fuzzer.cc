// libFuzzer target: arbitrary bytes as one discovery record, the key up to the first
// newline and the value after it (no newline: the whole input is the key, the value
// empty), decoded as a discovery watch would, with one decoder kept across inputs.
//
// Invariants: nothing crashes; every answer, of the key and of the record, is
// dropped-or-valid with a reason the decoders document; decoding is deterministic
// although the decoder reuses its buffers; a kept key written out as Dynamo writes it
// parses to itself; a kept record is of the key's kind and agrees with the key on
// every identity field; its sizes are at least 1 and a Zmq endpoint is tcp://.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "dynamo/discovery_records.h"
#include "event_checks.h"
#include "fuzz_check.h"

namespace {

using mk::dynamo::ChannelScope;
using mk::dynamo::ChannelTransport;
using mk::dynamo::DiscoveryKey;
using mk::dynamo::DiscoveryKind;
using mk::dynamo::DiscoveryLayout;
using mk::dynamo::DiscoveryRecord;
using mk::dynamo::DropReason;
using mk::dynamo::EventChannelRecord;
using mk::dynamo::InstanceRecord;
using mk::dynamo::ModelCardRecord;

void CheckIdentity(const DiscoveryKey& key, const std::string& dynamo_namespace,
                   const std::string& component, const std::string& endpoint,
                   uint64_t instance_id) {
  MK_FUZZ_CHECK(dynamo_namespace == key.dynamo_namespace && component == key.component &&
                    endpoint == key.endpoint,
                "a kept record names another namespace, component or endpoint than its key");
  MK_FUZZ_CHECK(instance_id == key.instance_id, "a kept record has another id than its key");
}

void CheckRecord(const DiscoveryKey& key, const DiscoveryRecord& record) {
  if (const auto* instance = std::get_if<InstanceRecord>(&record)) {
    MK_FUZZ_CHECK(key.kind == DiscoveryKind::kInstance, "an instance kept at another key");
    CheckIdentity(key, instance->dynamo_namespace, instance->component, instance->endpoint,
                  instance->instance_id);
  } else if (const auto* card = std::get_if<ModelCardRecord>(&record)) {
    MK_FUZZ_CHECK(key.kind == DiscoveryKind::kModelCard, "a model card kept at another key");
    CheckIdentity(key, card->dynamo_namespace, card->component, card->endpoint, card->instance_id);
    MK_FUZZ_CHECK(card->lora == key.lora, "a model card with another LoRA than its key");
    MK_FUZZ_CHECK(card->kv_cache_block_size >= 1, "a model card kept with a zero block size");
    MK_FUZZ_CHECK(card->runtime.data_parallel_size != 0u, "a model card kept with dp size 0");
  } else {
    const auto& channel = std::get<EventChannelRecord>(record);
    MK_FUZZ_CHECK(key.kind == DiscoveryKind::kEventChannel, "a channel kept at another key");
    CheckIdentity(key, channel.dynamo_namespace, channel.component, channel.endpoint,
                  channel.instance_id);
    MK_FUZZ_CHECK(channel.topic == key.topic && channel.scope == key.scope,
                  "a channel kept with another topic or scope than its key");
    MK_FUZZ_CHECK((channel.transport == ChannelTransport::kZmq) ==
                      std::string_view(channel.zmq_endpoint).starts_with("tcp://"),
                  "a Zmq channel without a tcp:// endpoint, or another with one");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mk::dynamo::DiscoveryRecordDecoder decoder;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view key_text = input.substr(0, newline);
  const std::string_view value =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  const mk::dynamo::Decoded<DiscoveryKey> key = mk::dynamo::ParseDiscoveryKey(key_text);
  mk::fuzz::CheckShape(key, "discovery key",
                       {DropReason::kOversized, DropReason::kUnknownKey, DropReason::kBadWorkerId});
  MK_FUZZ_CHECK(mk::fuzz::Same(key, mk::dynamo::ParseDiscoveryKey(key_text)),
                "parsing a discovery key twice differed");
  if (key.ok()) {
    const std::string written = mk::dynamo::DiscoveryKeyText(*key.record);
    const mk::dynamo::Decoded<DiscoveryKey> again = mk::dynamo::ParseDiscoveryKey(written);
    MK_FUZZ_CHECK(again.ok() && *again.record == *key.record,
                  "a kept key written out as '%s' does not parse to itself", written.c_str());
    MK_FUZZ_CHECK(
        (key.record->layout == DiscoveryLayout::kV1Scoped) == key.record->scope.has_value(),
        "a scope outside the scoped layout, or none in it");
    MK_FUZZ_CHECK(key.record->scope != ChannelScope::kNamespace || key.record->component.empty(),
                  "a namespace-scoped key with a component");
  }

  const mk::dynamo::Decoded<DiscoveryRecord> decoded = decoder.Decode(key_text, value);
  mk::fuzz::CheckShape(
      decoded, "discovery record",
      {DropReason::kOversized, DropReason::kUnknownKey, DropReason::kBadWorkerId,
       DropReason::kMalformedJson, DropReason::kKeyMismatch, DropReason::kWrongType,
       DropReason::kOutOfRange, DropReason::kMissingField});
  MK_FUZZ_CHECK(mk::fuzz::Same(decoded, decoder.Decode(key_text, value)),
                "decoding a discovery record twice differed");
  if (!key.ok()) {
    MK_FUZZ_CHECK(!decoded.ok() && decoded.reason == key.reason,
                  "a record kept, or dropped for another reason, under a key that was not");
    return 0;
  }
  if (decoded.ok()) {
    CheckRecord(*key.record, *decoded.record);
  } else if (key.record->layout == DiscoveryLayout::kV1Scoped) {
    MK_FUZZ_CHECK(!decoded.unit.has_value(), "a scoped channel's drop names a worker");
  } else {
    MK_FUZZ_CHECK(decoded.unit && decoded.unit->lease_id == key.record->instance_id,
                  "a dropped record does not name its key's worker");
  }
  return 0;
}
