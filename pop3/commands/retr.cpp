// RETR msg: the whole message, streamed from the store in chunks under the
// connection's output high-water mark; \Seen is set when policy says so.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_retr(Session& s, const proto::Command& c) {
  if (c.args.size() != 1) {
    s.err("RETR needs one message number");
    s.count_bad_command();
    return;
  }
  auto* m = s.message_arg(c.args[0]);
  if (!m) return;
  s.send_message(*m, -1, s.policy().pop3.mark_seen);
}

}  // namespace pop3
