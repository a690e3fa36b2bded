// EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (RFC 4315 / RFC 9051 6.4.9):
// removes \Deleted messages (UID EXPUNGE: only those in the set). The
// session's completion step sends one EXPUNGE response per message.
#include "imap/commands/commands.h"

namespace imap {

void cmd_expunge(Session& s, const proto::Command& c) {
  auto& sel = s.selected();
  if (sel.read_only) {
    return s.no("Mailbox is read-only (EXAMINE)", proto::code_name(proto::Code::kReadOnly));
  }
  const auto& args = std::get<proto::ExpungeArgs>(c.args);
  std::vector<uint32_t> doomed;
  if (args.set) {
    for (uint32_t uid : s.resolve(*args.set, /*uid=*/true)) {
      const auto* m = sel.meta(uid);
      if (m && (m->flags & store::kDeleted)) doomed.push_back(uid);
    }
  } else {
    for (uint32_t uid : sel.uids) {
      const auto* m = sel.meta(uid);
      if (m && (m->flags & store::kDeleted)) doomed.push_back(uid);
    }
  }
  // RFC 7162 3.2.10: with QRESYNC the tagged OK tells the new HIGHESTMODSEQ.
  auto done_code = [&s]() -> std::optional<std::string> {
    if (!s.qresync()) return std::nullopt;
    return proto::code_highestmodseq(
        std::max<uint64_t>(s.selected().mailbox->status().highest_modseq, 1));
  };
  if (doomed.empty()) return s.ok("EXPUNGE completed", done_code());
  auto* mb = sel.mailbox.get();
  auto err = std::make_shared<std::optional<store::Error>>();
  s.run_store(
      [mb, doomed, err]() {
        if (auto r = mb->expunge(doomed); !r) *err = r.error();
      },
      [&s, doomed, err, done_code]() {
        if (*err) return s.fail(**err, "EXPUNGE");
        auto& p = s.selected().pending_expunge;
        p.insert(p.end(), doomed.begin(), doomed.end());
        s.ok("EXPUNGE completed", done_code());
      });
}

}  // namespace imap
