// STARTTLS (RFC 9051 6.2.1): only on a listener with `tls: starttls`, once,
// before login. Input buffered behind the command is discarded.
#include "imap/commands/commands.h"

namespace imap {

void cmd_starttls(Session& s, const proto::Command&) {
  if (!s.starttls_available()) {
    return s.bad("STARTTLS is not available on this connection (already TLS, or use port 993)");
  }
  s.start_tls();
}

}  // namespace imap
