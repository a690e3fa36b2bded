// STORE (RFC 9051 6.4.6): FLAGS, +FLAGS, -FLAGS and their .SILENT forms,
// system flags and keywords, with UNCHANGEDSINCE (RFC 7162) where given.
// Answers with the new flags of every message in the set unless silent.
#include "imap/commands/commands.h"

namespace imap {

using proto::Code;

bool parse_flags(const std::vector<std::string>& flags, uint32_t* bits,
                 std::vector<std::string>* keywords, std::string* why) {
  *bits = 0;
  for (const auto& f : flags) {
    if (!f.empty() && f[0] == '\\') {
      std::string u = proto::to_upper(f);
      if (u == "\\SEEN") {
        *bits |= store::kSeen;
      } else if (u == "\\ANSWERED") {
        *bits |= store::kAnswered;
      } else if (u == "\\FLAGGED") {
        *bits |= store::kFlagged;
      } else if (u == "\\DELETED") {
        *bits |= store::kDeleted;
      } else if (u == "\\DRAFT") {
        *bits |= store::kDraft;
      } else {
        *why = "Flag " + f + " cannot be set";
        return false;
      }
      continue;
    }
    if (!proto::is_atom(f)) {
      *why = "Invalid keyword";
      return false;
    }
    keywords->push_back(f);
  }
  return true;
}

void cmd_store(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::StoreArgs>(c.args);
  auto& sel = s.selected();
  if (sel.read_only) {
    return s.no("Mailbox is read-only (EXAMINE)", proto::code_name(Code::kReadOnly));
  }
  bool bad = false;
  auto uids = s.resolve(args.set, c.uid, &bad);
  if (bad) return s.bad("Invalid message number in the sequence set");
  store::FlagChange change;
  std::string why;
  if (!parse_flags(args.flags, &change.flags, &change.keywords, &why)) return s.bad(why);
  change.op = args.op == proto::StoreArgs::Op::kAdd      ? store::FlagOp::kAdd
              : args.op == proto::StoreArgs::Op::kRemove ? store::FlagOp::kRemove
                                                         : store::FlagOp::kReplace;
  change.unchanged_since = args.unchanged_since.value_or(0);
  if (args.unchanged_since && *args.unchanged_since == 0) change.unchanged_since = 0;
  struct Result {
    std::optional<store::Error> err;
    std::vector<uint32_t> failed;
  };
  auto st = std::make_shared<Result>();
  auto* mb = sel.mailbox.get();
  bool conditional = args.unchanged_since.has_value();
  if (conditional) s.enable_condstore();  // RFC 7162 3.1
  bool with_modseq = s.condstore();
  s.run_store(
      [mb, uids, change, st, conditional]() {
        if (uids.empty()) return;
        auto r = mb->store_flags(uids, change, conditional ? &st->failed : nullptr);
        if (!r) st->err = r.error();
      },
      [&s, &c, uids, st, silent = args.silent, with_modseq]() {
        if (st->err) return s.fail(*st->err, "STORE");
        auto& sel = s.selected();
        std::string out;
        sel.note_keywords(uids);
        s.write_new_keywords(out);
        for (uint32_t uid : uids) {
          if (std::binary_search(st->failed.begin(), st->failed.end(), uid)) continue;
          // .SILENT still reports MODSEQ under CONDSTORE (RFC 7162 3.2).
          if (silent && !with_modseq) continue;
          uint32_t seq = sel.seq_of(uid);
          const auto* m = sel.meta(uid);
          if (!seq || !m) continue;
          out += "* " + std::to_string(seq) + " FETCH (";
          if (c.uid) out += "UID " + std::to_string(uid) + " ";
          if (with_modseq) out += "MODSEQ (" + std::to_string(m->modseq) + ")";
          if (!silent) {
            if (with_modseq) out += " ";
            out += "FLAGS ";
            uint32_t flags = m->flags;
            if (!s.rev2() && sel.recent.count(uid)) flags |= proto::kFlagRecent;
            proto::write_flag_list(out, flags, m->keywords);
          }
          out += ")\r\n";
          sel.pending_flags.erase(uid);
        }
        s.write(out);
        if (!st->failed.empty()) {
          std::vector<uint32_t> numbers;
          for (uint32_t uid : st->failed) numbers.push_back(c.uid ? uid : sel.seq_of(uid));
          std::string code = "MODIFIED ";
          proto::write_sequence_set(code, numbers);
          return s.ok("Conditional STORE failed for some messages", code);
        }
        s.ok("STORE completed");
      });
}

}  // namespace imap
