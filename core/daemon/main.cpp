// roostd: the Roost mail access server (POP3, IMAP), in the foreground.
#include <cstring>
#include <iostream>
#include <string>

#include "core/cli/check.h"
#include "core/daemon/daemon.h"

namespace {

void usage(std::ostream& out) {
  out << "usage: roostd [-c|--config PATH] [--check-config]\n"
         "  -c, --config PATH  configuration file (default /etc/roost/roost.yaml)\n"
         "  --check-config     validate the configuration, every domain file and the\n"
         "                     certificates; print problems as FILE:LINE: message\n"
         "  --version          print the version\n";
}

}  // namespace

int main(int argc, char** argv) {
  core::daemon::Options opts;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      opts.config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      opts.config_path = a.substr(9);
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--version") {
      std::cout << "roostd " ROOST_VERSION "\n";
      return 0;
    } else if (a == "-h" || a == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "roostd: unknown argument: " << a << "\n";
      usage(std::cerr);
      return 64;
    }
  }
  if (check) return core::cli::run_check_config(opts.config_path, std::cout);
  return core::daemon::run(opts);
}
