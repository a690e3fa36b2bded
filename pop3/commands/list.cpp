// LIST [msg]: sizes in octets with CRLF line ends (RFC 1939 section 11).
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_list(Session& s, const proto::Command& c) {
  if (c.args.size() > 1) {
    s.err("LIST takes at most one argument");
    s.count_bad_command();
    return;
  }
  if (c.args.size() == 1) {
    auto* m = s.message_arg(c.args[0]);
    if (!m) return;
    s.ok(c.args[0] + " " + std::to_string(m->size));
    return;
  }
  std::vector<std::string> lines;
  uint64_t n = 0, size = 0;
  const auto& msgs = s.messages();
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].deleted) continue;
    ++n;
    size += msgs[i].size;
    lines.push_back(std::to_string(i + 1) + " " + std::to_string(msgs[i].size));
  }
  s.multiline(std::to_string(n) + " messages (" + std::to_string(size) + " octets)", lines);
}

}  // namespace pop3
