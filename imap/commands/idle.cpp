// Placeholder while the command is being written; not advertised.
#include "imap/commands/commands.h"

namespace imap {
void cmd_idle(Session& s, const proto::Command&) {
  s.bad("Not supported yet");
}
}  // namespace imap
