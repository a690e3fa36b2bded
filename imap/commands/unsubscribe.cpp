// UNSUBSCRIBE (RFC 9051 6.3.8). Removing a name that is not subscribed
// succeeds (nothing to do); names of deleted mailboxes can be removed too.
// The work is shared with SUBSCRIBE (subscribe.cpp).
#include "imap/commands/commands.h"

namespace imap {

void cmd_unsubscribe(Session& s, const proto::Command& c) {
  set_subscription(s, c, false);
}

}  // namespace imap
