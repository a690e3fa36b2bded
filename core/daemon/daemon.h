// roostd's top level: loads everything, binds the listeners, runs the
// workers, and handles signals (SIGTERM/SIGINT: graceful stop; SIGHUP:
// reload). The one place that knows every part.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace core::daemon {

struct Options {
  std::string config_path = "/etc/roost/roost.yaml";
};

// Runs the server until it is stopped; returns the process exit code.
int run(const Options& options);

}  // namespace core::daemon
