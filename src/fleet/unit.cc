#include "fleet/unit.h"

namespace mk::fleet {

std::string_view UnitStateName(UnitState state) {
  switch (state) {
    case UnitState::kReporting:
      return "reporting";
    case UnitState::kUnreadable:
      return "unreadable";
    case UnitState::kPending:
      return "pending";
  }
  return "unknown";
}

std::string_view FigureSourceName(FigureSource source) {
  switch (source) {
    case FigureSource::kNone:
      return "-";
    case FigureSource::kStats:
      return "stats";
    case FigureSource::kEvents:
      return "events";
    case FigureSource::kMetrics:
      return "metrics";
    case FigureSource::kAssumed:
      return "assumed_idle";
  }
  return "unknown";
}

std::string_view SourceViewName(SourceView view) {
  switch (view) {
    case SourceView::kAll:
      return "auto";
    case SourceView::kStats:
      return "stats";
    case SourceView::kEvents:
      return "events";
    case SourceView::kMetrics:
      return "metrics";
  }
  return "unknown";
}

}  // namespace mk::fleet
