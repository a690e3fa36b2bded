// EXAMINE (RFC 9051 6.3.3): SELECT, read-only (no flag changes, not even
// \Seen from fetching bodies).
#include "imap/commands/commands.h"

namespace imap {

void cmd_examine(Session& s, const proto::Command& c) {
  open_selected(s, std::get<proto::SelectArgs>(c.args), true);
}

}  // namespace imap
