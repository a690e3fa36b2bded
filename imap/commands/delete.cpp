// DELETE (RFC 9051 6.3.5). INBOX cannot be deleted. Whether a mailbox with
// children can go is the store's decision (NO [HASCHILDREN] when not).
// Deleting the selected mailbox is allowed: the session stays selected and
// learns of the loss through its next sync. Subscriptions are left alone
// (RFC 9051: the subscription list is the client's).
#include "imap/commands/commands.h"

#include <memory>

namespace imap {

void cmd_delete(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::MailboxArgs>(c.args);
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));
  if (store::is_inbox(*name)) {
    return s.no("INBOX cannot be deleted", proto::code_name(proto::Code::kCannot));
  }

  auto account = s.account_ptr();
  auto result = std::make_shared<store::Result<void>>();
  s.run_store(
      [account, result, n = *name] { *result = account->delete_mailbox(n); },
      [&s, result] {
        if (*result) return s.ok("DELETE completed");
        const store::Error& e = result->error();
        switch (e.code) {
          case store::Errc::kNotFound:
            return s.no("No such mailbox", proto::code_name(proto::Code::kNonExistent));
          case store::Errc::kHasChildren:
            return s.no("Mailbox has children", proto::code_name(proto::Code::kHasChildren));
          case store::Errc::kInvalidName:
          case store::Errc::kNoPermission:
            return s.no("Cannot delete this mailbox", proto::code_name(proto::Code::kCannot));
          case store::Errc::kLocked:
            return s.no("Mailbox is in use", proto::code_name(proto::Code::kInUse));
          default:
            return s.fail(e, "DELETE");
        }
      });
}

}  // namespace imap
