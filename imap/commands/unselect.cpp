// UNSELECT (RFC 3691 / RFC 9051 6.4.2): leaves the selected state without
// expunging anything.
#include "imap/commands/commands.h"

namespace imap {

void cmd_unselect(Session& s, const proto::Command&) {
  s.unselect();
  s.ok("UNSELECT completed");
}

}  // namespace imap
