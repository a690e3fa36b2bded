// SUBSCRIBE (RFC 9051 6.3.7). Subscribing a name that does not exist is
// allowed: the subscription list may hold such names (they show up as
// \NonExistent in LIST (SUBSCRIBED)).
#include "imap/commands/commands.h"

#include <memory>

namespace imap {

void cmd_subscribe(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::MailboxArgs>(c.args);
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));
  auto account = s.account_ptr();
  auto result = std::make_shared<store::Result<void>>();
  s.run_store([account, result, n = *name] { *result = account->set_subscribed(n, true); },
              [&s, result] {
                if (!*result) return s.fail(result->error(), "SUBSCRIBE");
                s.ok("SUBSCRIBE completed");
              });
}

}  // namespace imap
