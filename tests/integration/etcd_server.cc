#include "etcd_server.h"

#include <unistd.h>

#include <stdexcept>

namespace mk::testing {

std::string Which(const std::string& name) {
  for (const std::string dir : {"/usr/bin/", "/usr/sbin/", "/usr/local/bin/"}) {
    if (access((dir + name).c_str(), X_OK) == 0) return dir + name;
  }
  throw std::runtime_error(name + " not found: run scripts/install-deps.sh");
}

}  // namespace mk::testing
