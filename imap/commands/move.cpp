// MOVE (RFC 6851 / RFC 9051 6.4.8): COPY, then the originals are expunged
// and announced with EXPUNGE responses (UID MOVE as well).
#include "imap/commands/commands.h"

namespace imap {

void cmd_move(Session& s, const proto::Command& c) {
  copy_messages(s, c, true);
}

}  // namespace imap
