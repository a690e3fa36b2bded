// CANCELUPDATE (RFC 5267 4.3): ends the update contexts of the searches
// whose tags are given. Every tag must name a context of the selected
// mailbox; otherwise the answer is BAD and no context ends.
#include "imap/commands/commands.h"
#include "imap/commands/search_context.h"

namespace imap {

void cmd_cancelupdate(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::CancelUpdateArgs>(c.args);
  if (!cancel_search_contexts(s, a.tags)) {
    return s.bad("No search with that tag is being updated");
  }
  s.ok("Updates cancelled");
}

}  // namespace imap
