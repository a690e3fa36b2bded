// STATUS (RFC 9051 6.3.11, RFC 3501 6.3.10): MESSAGES, UIDNEXT, UIDVALIDITY,
// UNSEEN, DELETED, SIZE (RFC 8438), HIGHESTMODSEQ (RFC 7162), DELETED-STORAGE
// (RFC 9208 4.2: the octets of its \Deleted messages, read from a read-only
// view of the mailbox opened only when that item is asked), MAILBOXID
// (RFC 8474, asked from the store only when wanted) and, for
// IMAP4rev1 only, RECENT: the session's own count for its selected mailbox;
// for another mailbox, the messages no session has claimed yet (counted from
// UIDNEXT, so an expunge among them can make it an overestimate, capped at
// MESSAGES; see docs/IMAP.md).
#include "imap/commands/commands.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "imap/mailbox/status.h"
#include "imap/recent.h"

namespace imap {

void cmd_status(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::StatusArgs>(c.args);
  std::string error;
  auto items = mailbox::read_status_items(a.items, s.rev2(), &error, true);
  if (!items) return s.bad(error);
  for (const auto& item : a.items) {
    if (item == "HIGHESTMODSEQ") s.enable_condstore();  // RFC 7162 3.1
  }
  std::string why;
  auto name = s.mailbox_name(a.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(proto::Code::kCannot));

  std::optional<uint32_t> recent;
  if (s.has_selected() && s.selected().name == *name) {
    recent = static_cast<uint32_t>(s.selected().recent.size());
  }
  std::string address = s.address();
  auto account = s.account_ptr();
  struct Found {
    std::optional<store::Result<store::MailboxStatus>> status;
    std::optional<store::Error> view_error;  // opening the view for DELETED-STORAGE
    uint64_t deleted_storage = 0;
    std::string mailbox_id;  // MAILBOXID (RFC 8474)
  };
  auto result = std::make_shared<Found>();
  bool want_deleted = mailbox::wants_deleted_storage(*items);
  bool want_id = mailbox::wants_mailbox_id(*items);
  s.run_store(
      [account, result, n = *name, want_deleted, want_id] {
        result->status.emplace(account->mailbox_status(n));
        if (want_id && *result->status) {
          auto id = account->mailbox_id(n);
          if (!id) {
            result->view_error = id.error();
            return;
          }
          result->mailbox_id = std::move(*id);
        }
        if (!want_deleted || !*result->status) return;
        auto mb = account->open_mailbox(n, true);
        if (!mb) {
          result->view_error = mb.error();
          return;
        }
        auto synced = (*mb)->sync();
        if (!synced) {
          result->view_error = synced.error();
          return;
        }
        result->deleted_storage = mailbox::deleted_storage((*mb)->messages());
      },
      [&s, result, n = *name, items = std::move(*items), recent, address] {
        const auto& r = *result->status;
        if (!r || result->view_error) {
          const store::Error& e = r ? *result->view_error : r.error();
          if (e.code == store::Errc::kNotFound) {
            return s.no("No such mailbox", proto::code_name(proto::Code::kNonExistent));
          }
          return s.fail(e, "STATUS");
        }
        uint32_t unclaimed = 0;
        if (!recent) {
          uint32_t first = RecentTracker::peek(address, n, r->uidvalidity);
          unclaimed = r->uidnext > first ? r->uidnext - first : 0;
          unclaimed = std::min(unclaimed, r->messages);
        }
        std::string out;
        mailbox::write_status(
            out, n, *r, items, recent.value_or(unclaimed),
            [&s](std::string& o, std::string_view nm) { s.write_mailbox(o, nm); },
            result->deleted_storage, s.config().limits.literal_size, result->mailbox_id);
        s.write(out);
        s.ok("STATUS completed");
      });
}

}  // namespace imap
