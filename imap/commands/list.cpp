// LIST (RFC 9051 6.3.9, RFC 3501 6.3.8) with LIST-EXTENDED (RFC 5258),
// CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).
// The answer set is computed by imap/mailbox/list.h; this handler fetches
// the store's mailbox list and subscriptions on the store pool and streams
// the lines (with a STATUS line after each selectable mailbox when RETURN
// (STATUS ...) was given).
#include "imap/commands/commands.h"

#include <memory>
#include <optional>

#include "imap/mailbox/list.h"
#include "imap/mailbox/pattern.h"

namespace imap {
namespace {

constexpr size_t kStepBytes = 256 * 1024;

struct ListJob {
  std::shared_ptr<store::Account> account;
  std::vector<std::string> patterns;  // canonical, UTF-8
  mailbox::ListOptions options;
  std::string selected_name;  // for RECENT in LIST-STATUS
  uint32_t selected_recent = 0;
  uint64_t append_limit = 0;  // APPENDLIMIT (RFC 7889)
  bool loaded = false;
  std::vector<mailbox::ListEntry> entries;
  size_t next = 0;
  std::optional<store::Error> error;
};

}  // namespace

void cmd_list(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::ListArgs>(c.args);
  auto job = std::make_shared<ListJob>();
  job->append_limit = s.config().limits.literal_size;
  std::string error;
  if (!mailbox::read_list_options(a, s.rev2(), &job->options, &error)) return s.bad(error);

  if (mailbox::is_delimiter_request(a)) {
    std::string out;
    mailbox::write_delimiter_entry(out);
    s.write(out);
    return s.ok("LIST completed");
  }

  // A reference or pattern that does not decode matches nothing.
  if (auto ref = mailbox::decode_pattern(a.reference.name, s.utf8())) {
    for (const auto& p : a.patterns) {
      if (auto pattern = mailbox::decode_pattern(p.name, s.utf8())) {
        job->patterns.push_back(mailbox::join_pattern(*ref, *pattern));
      }
    }
  }
  if (job->patterns.empty()) return s.ok("LIST completed");

  job->account = s.account_ptr();
  if (s.has_selected()) {
    job->selected_name = s.selected().name;
    job->selected_recent = static_cast<uint32_t>(s.selected().recent.size());
  }
  s.produce(
      [&s, job](std::string& out) {
        if (!job->loaded) {
          job->loaded = true;
          auto boxes = job->account->list_mailboxes();
          if (!boxes) {
            job->error = boxes.error();
            return false;
          }
          auto subs = job->account->subscriptions();
          if (!subs) {
            job->error = subs.error();
            return false;
          }
          job->entries = mailbox::list_entries(*boxes, *subs, job->patterns, job->options);
        }
        const size_t start = out.size();
        auto write_name = [&s](std::string& o, std::string_view n) { s.write_mailbox(o, n); };
        while (job->next < job->entries.size() && out.size() - start < kStepBytes) {
          const auto& e = job->entries[job->next++];
          mailbox::write_list_entry(out, "LIST", e, write_name);
          if (!job->options.return_status || !e.selectable) continue;
          // A mailbox deleted meanwhile just gets no STATUS line.
          auto st = job->account->mailbox_status(e.name);
          if (!st) continue;
          std::string id;  // MAILBOXID (RFC 8474), asked only when wanted
          if (mailbox::wants_mailbox_id(job->options.status_items)) {
            auto r = job->account->mailbox_id(e.name);
            if (!r) continue;
            id = std::move(*r);
          }
          const uint32_t recent = e.name == job->selected_name ? job->selected_recent : 0;
          mailbox::write_status(out, e.name, *st, job->options.status_items, recent, write_name, 0,
                                job->append_limit, id);
        }
        return job->next < job->entries.size();
      },
      [&s, job] {
        if (job->error) return s.fail(*job->error, "LIST");
        s.ok("LIST completed");
      });
}

}  // namespace imap
