// STLS (RFC 2595): upgrades to TLS. Only before login, on a STARTTLS
// listener, and once.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_stls(Session& s, const proto::Command&) {
  if (!s.stls_available()) {
    s.err(s.conn().tls_active() ? "TLS is already active" : "STLS is not available here");
    return;
  }
  s.start_tls();
}

}  // namespace pop3
