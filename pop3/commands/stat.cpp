// STAT: count and size of the messages not marked deleted.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_stat(Session& s, const proto::Command&) {
  uint64_t n = 0, size = 0;
  for (const auto& m : s.messages()) {
    if (m.deleted) continue;
    ++n;
    size += m.size;
  }
  s.ok(std::to_string(n) + " " + std::to_string(size));
}

}  // namespace pop3
