// UNAUTHENTICATE (RFC 8437): ends the login without closing the connection,
// so a client can log in as another account over the same TLS session.
#include "imap/commands/commands.h"

namespace imap {

void cmd_unauthenticate(Session& s, const proto::Command&) {
  s.unauthenticate();
}

}  // namespace imap
