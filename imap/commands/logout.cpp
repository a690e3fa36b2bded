// LOGOUT (RFC 9051 6.1.3): BYE, the tagged OK, then the connection closes.
#include "imap/commands/commands.h"

namespace imap {

void cmd_logout(Session& s, const proto::Command&) {
  s.logout();
}

}  // namespace imap
