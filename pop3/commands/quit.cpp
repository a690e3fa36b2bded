// QUIT: in TRANSACTION, enters UPDATE and applies the deletions per
// policy.pop3.on_delete; in AUTHORIZATION, just says goodbye.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_quit(Session& s, const proto::Command&) {
  s.quit();
}

}  // namespace pop3
