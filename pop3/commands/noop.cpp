// NOOP: keeps the session alive (the idle timer restarts on any input).
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_noop(Session& s, const proto::Command&) {
  s.ok("");
}

}  // namespace pop3
