// ENABLE (RFC 5161): turns on extensions that change what the server sends.
// CONDSTORE (RFC 7162) is the one Roost offers; unknown names are ignored,
// as the RFC requires, and the answer lists what was enabled.
#include "imap/commands/commands.h"

namespace imap {

void cmd_enable(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::EnableArgs>(c.args);
  std::string enabled;
  for (const auto& cap : args.capabilities) {
    if (cap == "CONDSTORE" && enabled.find("CONDSTORE") == std::string::npos) {
      s.enable_condstore();
      enabled += " CONDSTORE";
    }
  }
  s.write("* ENABLED" + enabled + "\r\n");
  s.ok("ENABLE completed");
}

}  // namespace imap
