// UIDL [msg]: the store's stable unique id of each message.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_uidl(Session& s, const proto::Command& c) {
  if (c.args.size() > 1) {
    s.err("UIDL takes at most one argument");
    s.count_bad_command();
    return;
  }
  if (c.args.size() == 1) {
    auto* m = s.message_arg(c.args[0]);
    if (!m) return;
    s.ok(c.args[0] + " " + m->uidl);
    return;
  }
  std::vector<std::string> lines;
  const auto& msgs = s.messages();
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].deleted) continue;
    lines.push_back(std::to_string(i + 1) + " " + msgs[i].uidl);
  }
  s.multiline("Unique ids follow", lines);
}

}  // namespace pop3
