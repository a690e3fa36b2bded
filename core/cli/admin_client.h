// The `roost` subcommands that talk to a running roostd through its admin
// API (who, kick, status, reload) and the offline index rebuild (mailbox
// reindex). Each takes -c CONFIG (default /etc/roost/roost.yaml) and --json.
// The admin listener (TCP address/port or unix socket path) and its
// token_file come from the configuration; HTTP is libcurl.
#pragma once

#include <string>
#include <vector>

namespace core::cli {

// Exit codes (sysexits(3) where one fits).
inline constexpr int kAdminOk = 0;
inline constexpr int kAdminFail = 1;          // the server said no (404, broken reload...)
inline constexpr int kAdminUsage = 64;        // bad arguments
inline constexpr int kAdminUnavailable = 69;  // roostd not reachable
inline constexpr int kAdminConfig = 78;       // no admin listener, token unreadable

// `args` are the arguments after the subcommand name.
int cmd_who(const std::vector<std::string>& args);
int cmd_kick(const std::vector<std::string>& args);
int cmd_status(const std::vector<std::string>& args);
int cmd_reload(const std::vector<std::string>& args);
int cmd_mailbox(const std::vector<std::string>& args);  // "reindex ADDRESS"

// "12,345"
std::string group_thousands(uint64_t n);
// "[#####     ] 12,345/100,000 messages" with a bar `width` characters wide.
std::string progress_bar(uint64_t done, uint64_t total, size_t width);

}  // namespace core::cli
