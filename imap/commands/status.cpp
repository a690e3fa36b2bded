// STATUS (RFC 9051 6.3.11, RFC 3501 6.3.10): MESSAGES, UIDNEXT, UIDVALIDITY,
// UNSEEN, DELETED, SIZE (RFC 8438), HIGHESTMODSEQ (RFC 7162) and, for
// IMAP4rev1 only, RECENT. \Recent belongs to the session that has the
// mailbox selected, so RECENT is that session's count for its own selected
// mailbox and 0 otherwise.
#include "imap/commands/commands.h"

#include <memory>
#include <optional>

#include "imap/mailbox/status.h"

namespace imap {

void cmd_status(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::StatusArgs>(c.args);
  std::string error;
  auto items = mailbox::read_status_items(a.items, s.rev2(), &error);
  if (!items) return s.bad(error);
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));

  uint32_t recent = 0;
  if (s.has_selected() && s.selected().name == *name) {
    recent = static_cast<uint32_t>(s.selected().recent.size());
  }
  auto account = s.account_ptr();
  auto result = std::make_shared<std::optional<store::Result<store::MailboxStatus>>>();
  s.run_store([account, result, n = *name] { result->emplace(account->mailbox_status(n)); },
              [&s, result, n = *name, items = std::move(*items), recent] {
                const auto& r = **result;
                if (!r) {
                  if (r.error().code == store::Errc::kNotFound) {
                    return s.no("No such mailbox", proto::code_name(proto::Code::kNonExistent));
                  }
                  return s.fail(r.error(), "STATUS");
                }
                std::string out;
                mailbox::write_status(
                    out, n, *r, items, recent,
                    [&s](std::string& o, std::string_view nm) { s.write_mailbox(o, nm); });
                s.write(out);
                s.ok("STATUS completed");
              });
}

}  // namespace imap
