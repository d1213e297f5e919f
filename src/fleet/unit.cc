#include "fleet/unit.h"

namespace mk::fleet {

std::string_view UnitStateName(UnitState state) {
  switch (state) {
    case UnitState::kReporting:
      return "reporting";
    case UnitState::kUnreadable:
      return "unreadable";
  }
  return "unknown";
}

}  // namespace mk::fleet
