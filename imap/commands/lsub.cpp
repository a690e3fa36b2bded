// LSUB (RFC 3501 6.3.9; IMAP4rev1, kept for old clients): subscribed names
// matching the pattern, including names that no longer exist. With '%', an
// unsubscribed parent of a subscribed name is returned as \Noselect in its
// place (see imap/mailbox/list.h).
#include "imap/commands/commands.h"

#include <memory>
#include <optional>

#include "imap/mailbox/list.h"
#include "imap/mailbox/pattern.h"

namespace imap {

void cmd_lsub(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::ListArgs>(c.args);
  std::optional<std::string> pattern;
  auto ref = mailbox::decode_pattern(a.reference.name, s.utf8());
  auto pat =
      a.patterns.empty() ? std::nullopt : mailbox::decode_pattern(a.patterns[0].name, s.utf8());
  if (!ref || !pat || pat->empty()) return s.ok("LSUB completed");
  pattern = mailbox::join_pattern(*ref, *pat);

  struct Job {
    std::vector<mailbox::ListEntry> entries;
    std::optional<store::Error> error;
  };
  auto job = std::make_shared<Job>();
  auto account = s.account_ptr();
  s.run_store(
      [account, job, p = *pattern] {
        auto boxes = account->list_mailboxes();
        if (!boxes) {
          job->error = boxes.error();
          return;
        }
        auto subs = account->subscriptions();
        if (!subs) {
          job->error = subs.error();
          return;
        }
        job->entries = mailbox::lsub_entries(*boxes, *subs, p);
      },
      [&s, job] {
        if (job->error) return s.fail(*job->error, "LSUB");
        std::string out;
        auto write_name = [&s](std::string& o, std::string_view n) { s.write_mailbox(o, n); };
        for (const auto& e : job->entries) mailbox::write_list_entry(out, "LSUB", e, write_name);
        s.write(out);
        s.ok("LSUB completed");
      });
}

}  // namespace imap
