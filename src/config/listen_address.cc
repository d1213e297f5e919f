#include "config/listen_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace mk::config {
namespace {

bool IsIpv4(const std::string& text) {
  in_addr address{};
  return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

bool IsIpv6(const std::string& text) {
  in6_addr address{};
  return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

bool IsAllDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A host name as RFC 1123 has it: dot-separated labels of 1-63 letters, digits and
// '-', neither starting nor ending with '-', 253 characters at most. A name whose last
// label is all digits would be an IPv4 address, and is taken only as one.
bool IsHostName(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::string_view last;
  while (true) {
    const size_t dot = text.find('.');
    const std::string_view label = text.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (const char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  return !IsAllDigits(last);
}

}  // namespace

std::string ListenHost::WithPort(int port) const {
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::optional<ListenHost> ParseListenHost(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    const std::string inner(text.substr(1, text.size() - 2));
    if (!IsIpv6(inner)) return std::nullopt;
    return ListenHost{inner, true};
  }
  const std::string host(text);
  if (host.find(':') != std::string::npos) {
    if (!IsIpv6(host)) return std::nullopt;
    return ListenHost{host, true};
  }
  if (IsIpv4(host) || IsHostName(host)) return ListenHost{host, false};
  return std::nullopt;
}

}  // namespace mk::config
