// libFuzzer target: arbitrary bytes as the MessagePack of Dynamo's event plane,
// decoded as a NATS event source would: the bytes as an EventEnvelope and its payload
// as an ActiveLoad and as a ForwardPassMetrics; and the bytes themselves as both
// records (so that mutations reach the records without passing an envelope).
//
// Invariants (fuzz/event_checks.h): nothing crashes, leaks or allocates without
// bound; every answer is dropped-or-valid, with a reason the decoder documents;
// decoding is deterministic although each thread's zone is reused; kept values are
// in range (an ActiveLoad's origin is the rule's, it has a load figure; variances and
// wall time are finite and >= 0); a kept record written out again decodes to itself;
// an envelope's views lie inside the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dynamo/event_envelope.h"
#include "event_checks.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  const mk::dynamo::Decoded<mk::dynamo::EventEnvelope> envelope =
      mk::dynamo::DecodeEventEnvelope(bytes);
  mk::fuzz::CheckEnvelope(envelope, bytes);
  MK_FUZZ_CHECK(mk::fuzz::Same(envelope, mk::dynamo::DecodeEventEnvelope(bytes)),
                "decoding an envelope twice differed");
  if (envelope.ok()) mk::fuzz::CheckPayload(envelope.record->payload);

  mk::fuzz::CheckPayload(bytes);
  return 0;
}
