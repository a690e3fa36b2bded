// USER name: remembers the address for PASS. Refused before TLS when the
// policy for that address forbids plaintext logins, so the client learns to
// use STLS before it sends the password.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_user(Session& s, const proto::Command& c) {
  if (c.rest.empty() || c.rest.size() > 320) {
    s.err("USER needs an address");
    s.count_bad_command();
    return;
  }
  if (!s.plaintext_ok(c.rest)) {
    s.err("[AUTH] Plaintext login is not allowed without TLS; use STLS or port 995");
    return;
  }
  s.pending_user() = c.rest;
  s.ok("Send your password");
}

}  // namespace pop3
