// IDLE (RFC 2177 / RFC 9051 6.3.13): the session pushes EXISTS, EXPUNGE and
// FETCH FLAGS as other sessions, delivery or other programs change the
// selected mailbox, until the client sends DONE. The machinery (watchers,
// keepalive, polling safety net) is Session::start_idle in session.cpp.
#include "imap/commands/commands.h"

namespace imap {

void cmd_idle(Session& s, const proto::Command&) {
  s.start_idle();
}

}  // namespace imap
