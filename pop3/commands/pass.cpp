// PASS password: completes USER/PASS. The password is the rest of the line,
// spaces included.
#include "pop3/commands/commands.h"

namespace pop3 {

void cmd_pass(Session& s, const proto::Command& c) {
  if (s.pending_user().empty()) {
    s.err("Send USER first");
    s.count_bad_command();
    return;
  }
  std::string user = std::move(s.pending_user());
  s.pending_user().clear();
  s.login(std::move(user), c.rest, "USER");
}

}  // namespace pop3
