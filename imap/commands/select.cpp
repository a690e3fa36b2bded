// SELECT (RFC 9051 6.3.2), and the routine EXAMINE shares: opens a mailbox
// and reports its state. A failed SELECT leaves no mailbox selected.
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "imap/commands/commands.h"
#include "imap/recent.h"

namespace imap {

using proto::Code;

namespace {
// Whether a SELECT / EXAMINE that closes a selected mailbox answers
// "* OK [CLOSED]" first (RFC 9051 7.1; RFC 7162 3.2.11 for QRESYNC): the one
// condition for every extension that asks for it.
bool announces_closed(const Session& s) {
  return s.rev2() || s.qresync();
}

// ---- QRESYNC (RFC 7162 3.2.5) -------------------------------------------------

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;  // ascending, disjoint

// The UIDs a QRESYNC answer may name: known-uids (or 1:UIDNEXT-1), below
// UIDNEXT, above `above`.
Ranges qresync_candidates(const proto::QresyncParams& q, uint32_t uidnext, uint32_t above) {
  Ranges in;
  if (q.known_uids) {
    for (const auto& r : q.known_uids->ranges) in.emplace_back(r.lo, r.hi);
  } else {
    in.emplace_back(1, 0xFFFFFFFFu);
  }
  std::sort(in.begin(), in.end());
  Ranges out;
  for (auto [lo, hi] : in) {
    lo = std::max(lo, above + 1);
    if (uidnext == 0) break;
    hi = std::min(hi, uidnext - 1);
    if (lo == 0 || lo > hi) continue;
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

bool in_ranges(const Ranges& rs, uint32_t uid) {
  auto it = std::upper_bound(rs.begin(), rs.end(), std::make_pair(uid, 0xFFFFFFFFu));
  return it != rs.begin() && std::prev(it)->second >= uid;
}

// The highest UID of seq-match-data still at the message number the client
// saw it at: no message below it can have been expunged since (0 = none).
uint32_t seq_match_floor(const proto::QresyncParams& q,
                         const std::vector<store::MessageMeta>& view) {
  uint32_t best = 0;
  for (size_t i = 0; i < q.match_seqs.size(); ++i) {
    uint32_t seq = q.match_seqs[i];
    if (seq >= 1 && seq <= view.size() && view[seq - 1].uid == q.match_uids[i]) {
      best = std::max(best, q.match_uids[i]);
    }
  }
  return best;
}

void write_ranges(std::string& out, const Ranges& rs) {
  bool first = true;
  for (auto [lo, hi] : rs) {
    if (!first) out += ',';
    first = false;
    out += std::to_string(lo);
    if (hi != lo) out += ':' + std::to_string(hi);
  }
}

// The "* VANISHED (EARLIER)" line for a SELECT with QRESYNC: from the store's
// memory when it reaches back to the client's modseq, else the answer that
// is always right, every candidate UID that no longer exists.
std::string qresync_vanished(const proto::QresyncParams& q,
                             const std::optional<std::vector<uint32_t>>& memory,
                             const std::vector<store::MessageMeta>& view, uint32_t uidnext) {
  Ranges gone;
  if (memory) {
    Ranges cand = qresync_candidates(q, uidnext, 0);
    for (uint32_t uid : *memory) {
      if (!in_ranges(cand, uid)) continue;
      if (!gone.empty() && gone.back().second + 1 == uid) {
        gone.back().second = uid;
      } else {
        gone.emplace_back(uid, uid);
      }
    }
  } else {
    Ranges cand = qresync_candidates(q, uidnext, seq_match_floor(q, view));
    auto it = view.begin();
    for (auto [lo, hi] : cand) {
      uint64_t next = lo;  // first UID of the range not yet decided
      it = std::lower_bound(it, view.end(), lo,
                            [](const store::MessageMeta& m, uint32_t u) { return m.uid < u; });
      for (; it != view.end() && it->uid <= hi; ++it) {
        if (it->uid > next) gone.emplace_back(static_cast<uint32_t>(next), it->uid - 1);
        next = static_cast<uint64_t>(it->uid) + 1;
      }
      if (next <= hi) gone.emplace_back(static_cast<uint32_t>(next), hi);
    }
  }
  if (gone.empty()) return {};
  std::string out = "* VANISHED (EARLIER) ";
  write_ranges(out, gone);
  out += "\r\n";
  return out;
}

// Streams the SELECT's QRESYNC answer: VANISHED (EARLIER), then FETCH (UID
// FLAGS MODSEQ) of every message (of known-uids) changed since the modseq.
struct QresyncJob {
  proto::QresyncParams q;
  std::optional<Ranges> known;  // normalised known-uids
  std::string vanished;
  size_t next = 0;  // index into the view
};

bool qresync_step(Session& s, QresyncJob& job, std::string& out) {
  if (!job.vanished.empty()) {
    out += job.vanished;
    job.vanished.clear();
  }
  Selected& sel = s.selected();
  const auto& view = sel.mailbox->messages();
  const size_t start = out.size();
  while (job.next < view.size() && out.size() - start < 256 * 1024) {
    const store::MessageMeta& m = view[job.next++];
    if (m.modseq <= job.q.modseq) continue;
    if (job.known && !in_ranges(*job.known, m.uid)) continue;
    uint32_t seq = sel.seq_of(m.uid);
    if (!seq) continue;
    out += "* " + std::to_string(seq) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS ";
    uint32_t flags = m.flags;
    if (!s.rev2() && sel.recent.count(m.uid)) flags |= proto::kFlagRecent;
    proto::write_flag_list(out, flags, m.keywords);
    out += " MODSEQ (" + std::to_string(m.modseq) + "))\r\n";
  }
  return job.next < view.size();
}
}  // namespace

void open_selected(Session& s, const proto::SelectArgs& args, bool read_only) {
  for (size_t i = 0; i < args.params.size(); ++i) {
    const auto& p = args.params[i];
    std::string word = p.kind == proto::Value::Kind::kAtom ? proto::to_upper(p.text) : "";
    if (word == "QRESYNC") {
      ++i;  // its list was checked by the parser
    } else if (word != "CONDSTORE") {
      return s.bad("Unknown SELECT parameter");
    }
  }
  if (args.qresync && !s.qresync()) {
    return s.bad("The QRESYNC parameter needs ENABLE QRESYNC first");  // RFC 7162 3.2.5
  }
  if (args.condstore) s.enable_condstore();  // RFC 7162 3.1.8
  bool had_selected = s.has_selected();
  s.unselect();
  // The boundary between the old mailbox's responses and the new one's; sent
  // also when opening the new mailbox fails (it is closed either way).
  if (had_selected && announces_closed(s)) {
    std::string closed;
    proto::untagged(closed, proto::Status::kOk, proto::code_name(Code::kClosed),
                    "Previous mailbox closed");
    s.write(closed);
  }
  std::string why;
  auto name = s.mailbox_name(args.mailbox, &why);
  if (!name) return s.no(why, proto::code_name(Code::kCannot));
  struct Opened {
    store::Result<std::unique_ptr<store::Mailbox>> mailbox =
        core::fail(store::make_error(store::Errc::kIo, "not opened"));
    store::Result<store::SyncResult> sync = store::SyncResult{};
    std::string mailbox_id;  // OBJECTID (RFC 8474); empty when unavailable
    // QRESYNC with the right UIDVALIDITY: the store's memory of expunges
    // since the client's modseq (nullopt: it does not reach back that far).
    bool qresync = false;
    std::optional<std::vector<uint32_t>> expunged;
  };
  auto st = std::make_shared<Opened>();
  auto account = s.account_ptr();
  std::string mbname = *name;
  std::optional<proto::QresyncParams> qres = args.qresync;
  s.run_store(
      [st, account, mbname, read_only, qres]() {
        st->mailbox = account->open_mailbox(mbname, read_only);
        if (st->mailbox) st->sync = (*st->mailbox)->sync();
        // RFC 7162 3.2.5: another UIDVALIDITY means the client's data is
        // of no use; the SELECT goes on as without QRESYNC.
        if (qres && st->mailbox && st->sync &&
            (*st->mailbox)->status().uidvalidity == qres->uidvalidity) {
          st->qresync = true;
          auto e = (*st->mailbox)->expunged_since(qres->modseq);
          if (e) st->expunged = std::move(*e);  // an error: the complete answer
        }
        if (st->mailbox) {
          auto id = account->mailbox_id(mbname);
          if (id) st->mailbox_id = std::move(*id);
        }
      },
      [&s, st, mbname, read_only, qres]() {
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
        if (!st->mailbox_id.empty()) {
          proto::untagged(out, proto::Status::kOk, "MAILBOXID (" + st->mailbox_id + ")", "Ok");
        }
        if (s.rev2()) {
          // RFC 9051 6.3.2: SELECT / EXAMINE answer a LIST response for the mailbox.
          out += "* LIST () \"/\" ";
          s.write_mailbox(out, mbname);
          out += "\r\n";
        }
        s.write(out);
        std::shared_ptr<QresyncJob> job;
        if (st->qresync) {
          job = std::make_shared<QresyncJob>();
          job->q = *qres;
          if (qres->known_uids) job->known = qresync_candidates(*qres, 0xFFFFFFFFu, 0);
          job->vanished = qresync_vanished(*qres, st->expunged, mb->messages(), status.uidnext);
        }
        s.select(std::move(mb), mbname, ro);
        s.selected().recent = std::move(recent);
        s.selected().keywords = std::move(keywords);
        const char* text = ro ? "EXAMINE completed" : "SELECT completed";
        std::string code(proto::code_name(ro ? Code::kReadOnly : Code::kReadWrite));
        if (!job) return s.ok(text, code);
        Session* sp = &s;
        s.produce([sp, job](std::string& o) { return qresync_step(*sp, *job, o); },
                  [sp, text, code]() { sp->ok(text, code); });
      });
}

void cmd_select(Session& s, const proto::Command& c) {
  open_selected(s, std::get<proto::SelectArgs>(c.args), false);
}

}  // namespace imap
