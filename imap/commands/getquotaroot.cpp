// GETQUOTAROOT (RFC 9208 4.1.2): every mailbox of the account is under its
// one quota root "" (see getquota.cpp): "* QUOTAROOT <mailbox> """ then that
// root's QUOTA line. When the policy limits nothing, the QUOTAROOT line names
// no root and no QUOTA line follows. A mailbox that does not exist is NO
// [NONEXISTENT].
#include "imap/commands/commands.h"

#include <memory>
#include <optional>
#include <string>

#include "imap/proto/writer.h"

namespace imap {

void cmd_getquotaroot(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::MailboxArgs>(c.args);
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));

  struct Found {
    std::optional<store::Error> error;
    store::QuotaUsage used;
  };
  auto result = std::make_shared<Found>();
  auto account = s.account_ptr();
  bool limited = has_quota_root(s.policy());
  s.run_store(
      [account, result, n = *name, limited, limits = quota_limits(s.policy())] {
        auto st = account->mailbox_status(n);
        if (!st) {
          result->error = st.error();
          return;
        }
        if (!limited) return;
        account->set_quota_limits(limits);
        auto used = account->quota_usage();
        if (!used) {
          result->error = used.error();
          return;
        }
        result->used = *used;
      },
      [&s, result, n = *name, limited] {
        if (result->error) {
          if (result->error->code == store::Errc::kNotFound) {
            return s.no("No such mailbox", proto::code_name(proto::Code::kNonExistent));
          }
          return s.fail(*result->error, "GETQUOTAROOT");
        }
        std::string out = "* QUOTAROOT ";
        s.write_mailbox(out, n);
        if (limited) {
          out += " \"\"\r\n";
          out += quota_line(s.policy(), result->used);
        } else {
          out += "\r\n";
        }
        s.write(out);
        s.ok("GETQUOTAROOT completed");
      });
}

}  // namespace imap
