// COPY (RFC 9051 6.4.7), and the routine MOVE shares. Answers with COPYUID
// (RFC 4315); a missing destination gets [TRYCREATE] so clients offer to
// create it.
#include "imap/commands/commands.h"

namespace imap {

using proto::Code;

void copy_messages(Session& s, const proto::Command& c, bool move) {
  const auto& args = std::get<proto::CopyArgs>(c.args);
  auto& sel = s.selected();
  if (move && sel.read_only) {
    return s.no("Mailbox is read-only (EXAMINE)", proto::code_name(Code::kReadOnly));
  }
  bool bad = false;
  auto uids = s.resolve(args.set, c.uid, &bad);
  if (bad) return s.bad("Invalid message number in the sequence set");
  std::string why;
  auto dest = s.mailbox_name(args.mailbox, &why);
  if (!dest) return s.no(why, proto::code_name(Code::kCannot));
  // Messages expunged elsewhere and not yet announced cannot be copied.
  std::vector<uint32_t> present;
  uint64_t bytes = 0;  // what a COPY adds to the account (quota)
  for (uint32_t uid : uids) {
    if (const auto* m = sel.meta(uid)) {
      present.push_back(uid);
      bytes += m->size;
    }
  }
  bool some_gone = present.size() != uids.size();
  struct Result {
    store::Result<std::vector<std::pair<uint32_t, uint32_t>>> pairs =
        std::vector<std::pair<uint32_t, uint32_t>>{};
    uint32_t uidvalidity = 0;
    bool exists = true;
  };
  auto st = std::make_shared<Result>();
  auto* mb = sel.mailbox.get();
  auto account = s.account_ptr();
  std::string d = *dest;
  s.run_store(
      [mb, account, present, d, move, st, bytes, limits = quota_limits(s.policy())]() {
        if (present.empty()) {
          auto status = account->mailbox_status(d);
          if (!status) st->exists = false;
          return;
        }
        // RFC 9208: NO [OVERQUOTA] and nothing copied. A MOVE stays in the
        // account's one quota root: refused only when it is over already.
        auto q = move ? check_quota(*account, limits, 0, 0)
                      : check_quota(*account, limits, bytes, present.size());
        if (!q) {
          st->pairs = core::fail(q.error());
          return;
        }
        st->pairs = mb->copy_to(present, d, move, &st->uidvalidity);
      },
      [&s, st, move, some_gone]() {
        const char* verb = move ? "MOVE" : "COPY";
        if (!st->exists) {
          return s.no("Destination mailbox does not exist", proto::code_name(Code::kTryCreate));
        }
        if (!st->pairs) {
          if (st->pairs.error().code == store::Errc::kNotFound) {
            return s.no("Destination mailbox does not exist", proto::code_name(Code::kTryCreate));
          }
          return s.fail(st->pairs.error(), verb);
        }
        std::string code;
        if (!st->pairs->empty()) {
          std::vector<uint32_t> from, to;
          for (auto [a, b] : *st->pairs) {
            from.push_back(a);
            to.push_back(b);
          }
          code = proto::code_copyuid(st->uidvalidity, from, to);
          if (move) {
            // RFC 6851: COPYUID goes in an untagged OK before the EXPUNGEs.
            std::string out;
            proto::untagged(out, proto::Status::kOk, code, "Moved UIDs");
            s.write(out);
            code.clear();
            auto& p = s.selected().pending_expunge;
            p.insert(p.end(), from.begin(), from.end());
          }
        }
        if (some_gone) {
          return s.no("Some of the messages were expunged meanwhile",
                      proto::code_name(Code::kExpungeIssued));
        }
        std::string text = std::string(verb) + " completed";
        if (code.empty()) return s.ok(text);
        s.ok(text, code);
      });
}

void cmd_copy(Session& s, const proto::Command& c) {
  copy_messages(s, c, false);
}

}  // namespace imap
