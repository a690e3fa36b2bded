// Placeholder while the command is being written; not advertised.
#include "imap/commands/commands.h"

namespace imap {
void cmd_thread(Session& s, const proto::Command&) {
  s.bad("Not supported yet");
}
}  // namespace imap
