// UNSUBSCRIBE (RFC 9051 6.3.8). Removing a name that is not subscribed
// succeeds (nothing to do); names of deleted mailboxes can be removed too.
#include "imap/commands/commands.h"

#include <memory>

namespace imap {

void cmd_unsubscribe(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::MailboxArgs>(c.args);
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));
  auto account = s.account_ptr();
  auto result = std::make_shared<store::Result<void>>();
  s.run_store([account, result, n = *name] { *result = account->set_subscribed(n, false); },
              [&s, result] {
                if (!*result) return s.fail(result->error(), "UNSUBSCRIBE");
                s.ok("UNSUBSCRIBE completed");
              });
}

}  // namespace imap
