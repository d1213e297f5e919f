#include "keda/rpc_counters.h"

namespace mk::keda {

std::string_view RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kGetMetricSpec:
      return "GetMetricSpec";
    case Rpc::kGetMetrics:
      return "GetMetrics";
    case Rpc::kIsActive:
      return "IsActive";
    case Rpc::kStreamIsActive:
      return "StreamIsActive";
  }
  return "unknown";
}

std::string_view StatusCodeName(int code) {
  static constexpr std::string_view kNames[kStatusCodes] = {"OK",
                                                            "CANCELLED",
                                                            "UNKNOWN",
                                                            "INVALID_ARGUMENT",
                                                            "DEADLINE_EXCEEDED",
                                                            "NOT_FOUND",
                                                            "ALREADY_EXISTS",
                                                            "PERMISSION_DENIED",
                                                            "RESOURCE_EXHAUSTED",
                                                            "FAILED_PRECONDITION",
                                                            "ABORTED",
                                                            "OUT_OF_RANGE",
                                                            "UNIMPLEMENTED",
                                                            "INTERNAL",
                                                            "UNAVAILABLE",
                                                            "DATA_LOSS",
                                                            "UNAUTHENTICATED"};
  return code >= 0 && code < kStatusCodes ? kNames[code] : "UNKNOWN";
}

}  // namespace mk::keda
