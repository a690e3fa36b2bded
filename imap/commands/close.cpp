// CLOSE (RFC 9051 6.4.1): silently expunges \Deleted messages (unless the
// mailbox is read-only), then leaves the selected state. No EXPUNGE
// responses are sent.
#include "imap/commands/commands.h"

namespace imap {

void cmd_close(Session& s, const proto::Command&) {
  auto& sel = s.selected();
  if (sel.read_only) {
    s.unselect();
    return s.ok("CLOSE completed");
  }
  std::vector<uint32_t> doomed;
  for (const auto& m : sel.mailbox->messages())
    if (m.flags & store::kDeleted) doomed.push_back(m.uid);
  if (doomed.empty()) {
    s.unselect();
    return s.ok("CLOSE completed");
  }
  auto* mb = sel.mailbox.get();
  auto err = std::make_shared<std::optional<store::Error>>();
  s.run_store(
      [mb, doomed, err]() {
        if (auto r = mb->expunge(doomed); !r) *err = r.error();
      },
      [&s, err]() {
        s.unselect();
        if (*err) return s.fail(**err, "CLOSE");
        s.ok("CLOSE completed");
      },
      /*sync=*/false);
}

}  // namespace imap
