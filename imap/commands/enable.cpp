// ENABLE (RFC 5161): turns on extensions that change what the server sends.
// Roost offers CONDSTORE and QRESYNC (RFC 7162), UTF8=ACCEPT (RFC 6855) and IMAP4rev2
// (RFC 9051, which includes UTF8=ACCEPT). Unknown names are ignored, as the
// RFC requires, and the answer lists what this command enabled (a name
// already on is not listed again; UTF8=ACCEPT is listed only when asked for).
#include "imap/commands/commands.h"

namespace imap {

void cmd_enable(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::EnableArgs>(c.args);
  std::string enabled;
  auto listed = [&enabled](std::string_view name) {
    return (enabled + " ").find(" " + std::string(name) + " ") != std::string::npos;
  };
  for (const auto& cap : args.capabilities) {
    if (cap == "CONDSTORE" && !listed("CONDSTORE")) {
      s.enable_condstore();
      enabled += " CONDSTORE";
    } else if (cap == "QRESYNC" && !listed("QRESYNC")) {
      // RFC 7162 3.2.3: implies CONDSTORE, which is not listed unless asked for.
      if (s.qresync()) continue;
      s.enable_qresync();
      enabled += " QRESYNC";
    } else if (cap == "UTF8=ACCEPT" && !listed("UTF8=ACCEPT")) {
      if (s.utf8() == proto::Utf8Mode::kOn) continue;  // already on (maybe by IMAP4rev2)
      s.enable_utf8();
      s.parser().set_utf8(true);
      enabled += " UTF8=ACCEPT";
    } else if (cap == "IMAP4REV2" && !listed("IMAP4rev2")) {
      if (s.rev2()) continue;
      s.enable_rev2();
      s.enable_utf8();
      s.parser().set_utf8(true);
      enabled += " IMAP4rev2";
    }
  }
  s.write("* ENABLED" + enabled + "\r\n");
  s.ok("ENABLE completed");
}

}  // namespace imap
