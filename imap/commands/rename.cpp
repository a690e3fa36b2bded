// RENAME (RFC 9051 6.3.6). The store renames the children along with the
// mailbox and creates missing parents of the new name; renaming INBOX moves
// its messages to the new mailbox and leaves INBOX empty.
#include "imap/commands/commands.h"

#include <memory>

namespace imap {

void cmd_rename(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::RenameArgs>(c.args);
  std::string why;
  auto from = s.mailbox_name(a.from, &why);
  if (!from) return s.no(why, proto::code_name(proto::Code::kCannot));
  auto to = s.mailbox_name(a.to, &why);
  if (!to) return s.no(why, proto::code_name(proto::Code::kCannot));
  if (store::is_inbox(*to)) {
    return s.no("INBOX already exists", proto::code_name(proto::Code::kAlreadyExists));
  }
  if (to->find_first_of("*%") != std::string::npos) {
    return s.no("Mailbox names may not contain * or %", proto::code_name(proto::Code::kCannot));
  }

  auto account = s.account_ptr();
  auto result = std::make_shared<store::Result<void>>();
  s.run_store([account, result, f = *from, t = *to] { *result = account->rename_mailbox(f, t); },
              [&s, result] {
                if (*result) return s.ok("RENAME completed");
                const store::Error& e = result->error();
                switch (e.code) {
                  case store::Errc::kNotFound:
                    return s.no("No such mailbox", proto::code_name(proto::Code::kNonExistent));
                  case store::Errc::kAlreadyExists:
                    return s.no("Target mailbox already exists",
                                proto::code_name(proto::Code::kAlreadyExists));
                  case store::Errc::kInvalidName:
                  case store::Errc::kNoPermission:
                    return s.no("Cannot rename to that name",
                                proto::code_name(proto::Code::kCannot));
                  case store::Errc::kLocked:
                    return s.no("Mailbox is in use", proto::code_name(proto::Code::kInUse));
                  default:
                    return s.fail(e, "RENAME");
                }
              });
}

}  // namespace imap
