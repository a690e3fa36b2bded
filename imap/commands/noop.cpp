// NOOP (RFC 9051 6.1.2): does nothing; in the selected state the session's
// completion step reports what changed meanwhile (EXISTS, EXPUNGE, FLAGS).
#include "imap/commands/commands.h"

namespace imap {

void cmd_noop(Session& s, const proto::Command&) {
  s.ok("NOOP completed");
}

}  // namespace imap
