// ENABLE (RFC 5161): turns on extensions that change what the server sends.
// Nothing Roost offers needs enabling yet (CONDSTORE, QRESYNC, UTF8=ACCEPT
// and IMAP4rev2 come with the synchronisation work), so the answer lists
// none; unknown names are ignored as the RFC requires.
#include "imap/commands/commands.h"

namespace imap {

void cmd_enable(Session& s, const proto::Command&) {
  s.write("* ENABLED\r\n");
  s.ok("ENABLE completed");
}

}  // namespace imap
