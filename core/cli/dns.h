// `roost dns [-c CONFIG] DOMAIN`: the DNS records to publish for a served
// domain (docs/AUTOCONFIG.md).
#pragma once

#include <string>
#include <vector>

namespace core::cli {

// Runs the subcommand with the arguments after "dns"; returns the exit code
// (0 printed, 1 domain not served or config broken, 64 usage).
int cmd_dns(const std::vector<std::string>& args);

}  // namespace core::cli
