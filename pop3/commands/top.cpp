// TOP msg n: the header, the blank line and the first n body lines. Does not
// mark the message \Seen (clients use it to preview).
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_top(Session& s, const proto::Command& c) {
  if (c.args.size() != 2) {
    s.err("TOP needs a message number and a line count");
    s.count_bad_command();
    return;
  }
  auto* m = s.message_arg(c.args[0]);
  if (!m) return;
  const std::string& n = c.args[1];
  bool digits =
      !n.empty() && n.size() <= 10 && n.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    s.err("Invalid line count");
    s.count_bad_command();
    return;
  }
  s.send_message(*m, std::stoll(n), false);
}

}  // namespace pop3
