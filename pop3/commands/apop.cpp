// APOP needs the plaintext password on the server, which Roost never keeps;
// the greeting carries no timestamp, so clients should not try it.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_apop(Session& s, const proto::Command&) {
  s.err("[AUTH] APOP is not supported; use USER/PASS or AUTH over TLS");
}

}  // namespace pop3
