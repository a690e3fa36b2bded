// SELECT (RFC 9051 6.3.2), and the routine EXAMINE shares: opens a mailbox
// and reports its state. A failed SELECT leaves no mailbox selected.
#include <set>

#include "imap/commands/commands.h"
#include "imap/recent.h"

namespace imap {

using proto::Code;

void open_selected(Session& s, const proto::SelectArgs& args, bool read_only) {
  for (const auto& p : args.params) {
    if (p.kind == proto::Value::Kind::kAtom && proto::to_upper(p.text) == "CONDSTORE") {
      s.enable_condstore();  // RFC 7162 3.1.8
    } else {
      return s.bad("Unknown SELECT parameter (QRESYNC is not offered)");
    }
  }
  bool had_selected = s.has_selected();
  s.unselect();
  std::string why;
  auto name = s.mailbox_name(args.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(Code::kCannot));
  struct Opened {
    store::Result<std::unique_ptr<store::Mailbox>> mailbox =
        core::fail(store::make_error(store::Errc::kIo, "not opened"));
    store::Result<store::SyncResult> sync = store::SyncResult{};
  };
  auto st = std::make_shared<Opened>();
  auto account = s.account_ptr();
  std::string mbname = *name;
  s.run_store(
      [st, account, mbname, read_only]() {
        st->mailbox = account->open_mailbox(mbname, read_only);
        if (st->mailbox) st->sync = (*st->mailbox)->sync();
      },
      [&s, st, mbname, read_only, had_selected]() {
        if (!st->mailbox) {
          if (st->mailbox.error().code == store::Errc::kNotFound) {
            return s.no("Mailbox does not exist: " + mbname, proto::code_name(Code::kNonExistent));
          }
          return s.fail(st->mailbox.error(), "SELECT");
        }
        if (!st->sync) return s.fail(st->sync.error(), "SELECT");
        auto& mb = *st->mailbox;
        bool ro = read_only || mb->read_only();
        auto status = mb->status();
        std::set<std::string> keywords;
        uint32_t first_unseen = 0, n = 0;
        for (const auto& m : mb->messages()) {
          ++n;
          keywords.insert(m.keywords.begin(), m.keywords.end());
          if (!first_unseen && !(m.flags & store::kSeen)) first_unseen = n;
        }
        std::vector<std::string> kw(keywords.begin(), keywords.end());
        std::string out;
        if (had_selected && s.rev2()) {
          proto::untagged(out, proto::Status::kOk, proto::code_name(Code::kClosed),
                          "Previous mailbox closed");
        }
        out += "* FLAGS ";
        proto::write_flag_list(out,
                               proto::kFlagSeen | proto::kFlagAnswered | proto::kFlagFlagged |
                                   proto::kFlagDeleted | proto::kFlagDraft,
                               kw);
        out += "\r\n";
        uint32_t perm = ro ? 0
                           : (proto::kFlagSeen | proto::kFlagAnswered | proto::kFlagFlagged |
                              proto::kFlagDeleted | proto::kFlagDraft | proto::kFlagWildcard);
        proto::untagged(out, proto::Status::kOk,
                        proto::code_permanentflags(perm, ro ? std::vector<std::string>{} : kw),
                        ro ? "No permanent flags permitted" : "Flags permitted");
        proto::untagged_number(out, n, "EXISTS");
        UidRanges recent;
        if (!s.rev2()) {
          std::vector<uint32_t> uids;
          uids.reserve(mb->messages().size());
          for (const auto& m : mb->messages()) uids.push_back(m.uid);
          recent = s.take_recent(mbname, status.uidvalidity, uids, ro);
          proto::untagged_number(out, recent.size(), "RECENT");
          if (first_unseen) {
            proto::untagged(out, proto::Status::kOk, proto::code_unseen(first_unseen),
                            "First unseen");
          }
        }
        proto::untagged(out, proto::Status::kOk, proto::code_uidvalidity(status.uidvalidity),
                        "UIDs valid");
        proto::untagged(out, proto::Status::kOk, proto::code_uidnext(status.uidnext),
                        "Predicted next UID");
        // RFC 7162 3.1.2.1: mod-sequences are persistent, so always.
        proto::untagged(out, proto::Status::kOk,
                        proto::code_highestmodseq(std::max<uint64_t>(status.highest_modseq, 1)),
                        "Highest");
        s.write(out);
        s.select(std::move(mb), mbname, ro);
        s.selected().recent = std::move(recent);
        s.selected().keywords = std::move(keywords);
        s.ok(ro ? "EXAMINE completed" : "SELECT completed",
             proto::code_name(ro ? Code::kReadOnly : Code::kReadWrite));
      });
}

void cmd_select(Session& s, const proto::Command& c) {
  open_selected(s, std::get<proto::SelectArgs>(c.args), false);
}

}  // namespace imap
