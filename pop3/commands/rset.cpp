// RSET: unmarks every message marked by DELE.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_rset(Session& s, const proto::Command&) {
  size_t n = 0;
  for (auto& m : s.messages()) {
    if (m.deleted) ++n;
    m.deleted = false;
  }
  s.ok(std::to_string(n) + " messages unmarked; " + std::to_string(s.messages().size()) +
       " messages in the maildrop");
}

}  // namespace pop3
