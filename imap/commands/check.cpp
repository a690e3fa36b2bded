// CHECK (RFC 3501 6.4.1; IMAP4rev1 only). The store writes through on every
// change, so there is nothing to flush: it acts as NOOP.
#include "imap/commands/commands.h"

namespace imap {

void cmd_check(Session& s, const proto::Command&) {
  s.ok("CHECK completed");
}

}  // namespace imap
