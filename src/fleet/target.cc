#include "fleet/target.h"

namespace mk::fleet {

std::string Target::ToString() const { return dynamo_namespace + "/" + component + "/" + endpoint; }

}  // namespace mk::fleet
