// SUBSCRIBE (RFC 9051 6.3.7), and the routine UNSUBSCRIBE shares.
// Subscribing a name that does not exist is allowed: the subscription list
// may hold such names (they show up as \NonExistent in LIST (SUBSCRIBED)).
#include "imap/commands/commands.h"

#include <memory>

namespace imap {

void set_subscription(Session& s, const proto::Command& c, bool subscribed) {
  const auto& a = std::get<proto::MailboxArgs>(c.args);
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));
  auto account = s.account_ptr();
  auto result = std::make_shared<store::Result<void>>();
  s.run_store([account, result, n = *name,
               subscribed] { *result = account->set_subscribed(n, subscribed); },
              [&s, result, subscribed] {
                const char* verb = subscribed ? "SUBSCRIBE" : "UNSUBSCRIBE";
                if (!*result) return s.fail(result->error(), verb);
                s.ok(std::string(verb) + " completed");
              });
}

void cmd_subscribe(Session& s, const proto::Command& c) {
  set_subscription(s, c, true);
}

}  // namespace imap
