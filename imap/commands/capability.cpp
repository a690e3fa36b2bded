// CAPABILITY (RFC 9051 6.1.1): what this session may use now. The list
// before login holds only what a client needs to log in; the full list comes
// after (also in the LOGIN / AUTHENTICATE answer).
#include "imap/commands/commands.h"

namespace imap {

void cmd_capability(Session& s, const proto::Command&) {
  s.write("* CAPABILITY " + s.capabilities() + "\r\n");
  s.ok("Capability completed");
}

}  // namespace imap
