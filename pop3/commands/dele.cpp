// DELE msg: marks a message; what happens to it is decided at QUIT.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_dele(Session& s, const proto::Command& c) {
  if (c.args.size() != 1) {
    s.err("DELE needs one message number");
    s.count_bad_command();
    return;
  }
  auto* m = s.message_arg(c.args[0]);
  if (!m) return;
  m->deleted = true;
  s.ok("Message " + c.args[0] + " marked for deletion");
}

}  // namespace pop3
