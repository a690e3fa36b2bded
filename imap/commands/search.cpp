// SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4), answered with
// "* SEARCH" or, with RETURN (or in IMAP4rev2), "* ESEARCH" (RFC 4731 /
// RFC 9051: MIN MAX COUNT ALL). MODSEQ keys add the highest MODSEQ of the
// answer (RFC 7162 3.1.5). The evaluation itself is imap/search's Program,
// run on the store pool in steps; at most one message is held in memory.
//
// SEARCHRES (RFC 5182): RETURN (SAVE) keeps the result in the session as
// UIDs (all matches, or only the MIN / MAX ones when those are the only
// other options); SAVE alone answers no ESEARCH line. A SAVE search that
// ends in NO empties the saved result; BAD leaves it. "$" in the program is
// replaced by the saved UIDs before it is compiled (for SORT and THREAD too:
// compile_search does it).
//
// CONTEXT=SEARCH (RFC 5267): RETURN (PARTIAL m:n) answers the matches at
// those positions (RFC 9394's "-m:-n" counts from the end); RETURN (UPDATE)
// keeps the result up to date with unsolicited ESEARCH ADDTO / REMOVEFROM
// (search_context.cpp); CONTEXT is a hint and changes nothing.
#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log/log.h"
#include "imap/commands/commands.h"
#include "imap/commands/search_context.h"
#include "imap/search/context.h"
#include "imap/search/search.h"

namespace imap {

namespace {

// Messages evaluated per pool step, by what the program has to read.
size_t batch_size(search::Cost cost) {
  switch (cost) {
    case search::Cost::kMeta:
      return 50000;
    case search::Cost::kHeader:
      return 2000;
    case search::Cost::kBody:
      return 200;
  }
  return 200;
}

// The plain "* SEARCH" line is streamed in pieces of about this size.
constexpr size_t kStepBytes = 256 * 1024;

struct SearchJob {
  explicit SearchJob(search::Program p) : program(std::move(p)) {}

  search::Program program;
  std::string tag;
  bool uid_command = false;
  bool esearch = false;
  bool want_min = false, want_max = false, want_count = false, want_all = false;
  bool silent = false;          // RETURN (SAVE) alone: no ESEARCH line
  bool save = false;            // RETURN (SAVE ...)
  bool save_all = false;        // ... of all matches, not only MIN / MAX
  std::vector<uint32_t> saved;  // UIDs of the matches (save_all)
  // RETURN (PARTIAL m:n) and RETURN (UPDATE) (RFC 5267).
  std::optional<search::PartialRange> partial;
  bool update = false;
  std::vector<uint32_t> match_uids;  // UIDs of the matches (update)
  uint32_t first_uid = 0, last_uid = 0;

  size_t next = 0;  // index into Selected::uids
  bool line_started = false;
  std::vector<uint32_t> matches;  // ESEARCH ALL: the numbers, ascending
  uint32_t count = 0;
  uint32_t first = 0, last = 0;  // smallest and largest match
  uint64_t first_modseq = 0, last_modseq = 0, highest_modseq = 0;
  size_t unreadable = 0;
};

void finish_line(SearchJob& job, std::string& out) {
  const bool modseq = job.program.uses_modseq() && job.count > 0;
  if (job.silent) return;
  if (!job.esearch) {
    if (!job.line_started) out += "* SEARCH";
    if (modseq) out += " (MODSEQ " + std::to_string(job.highest_modseq) + ")";
    out += "\r\n";
    return;
  }
  out += "* ESEARCH (TAG ";
  proto::write_string(out, job.tag);
  out += ')';
  if (job.uid_command) out += " UID";
  if (job.count > 0) {
    if (job.want_min) out += " MIN " + std::to_string(job.first);
    if (job.want_max) out += " MAX " + std::to_string(job.last);
  }
  if (job.want_count) out += " COUNT " + std::to_string(job.count);
  if (job.count > 0 && job.want_all) {
    out += " ALL ";
    proto::write_sequence_set(out, job.matches);
  }
  if (job.partial) {
    out += " PARTIAL (" + job.partial->text() + ' ';
    std::vector<uint32_t> part = search::partial_slice(job.matches, *job.partial);
    if (part.empty()) {
      out += "NIL";
    } else {
      proto::write_sequence_set(out, part);
    }
    out += ')';
  }
  if (modseq) {
    // The highest MODSEQ of the messages the answer names: all matches
    // for ALL / COUNT, else the MIN / MAX messages.
    uint64_t m = job.highest_modseq;
    if (!job.want_all && !job.want_count) {
      m = 0;
      if (job.want_min) m = std::max(m, job.first_modseq);
      if (job.want_max) m = std::max(m, job.last_modseq);
    }
    out += " MODSEQ " + std::to_string(m);
  }
  out += "\r\n";
}

bool search_step(Session& s, SearchJob& job, std::string& out) {
  Selected& sel = s.selected();
  const size_t n_msgs = sel.uids.size();
  const size_t start = out.size();
  const size_t end = std::min(n_msgs, job.next + batch_size(job.program.cost()));
  if (!job.esearch && !job.line_started) {
    out += "* SEARCH";
    job.line_started = true;
  }
  store::Mailbox* mailbox = sel.mailbox.get();
  const size_t first = job.next;
  search::StepHeaders headers(job.program, false, *mailbox,
                              std::span(sel.uids).subspan(first, end - first));
  while (job.next < end && out.size() - start < kStepBytes) {
    const size_t i = job.next++;
    const uint32_t uid = sel.uids[i];
    const store::MessageMeta* meta = sel.meta(uid);
    if (meta == nullptr) continue;  // expunged elsewhere, not announced yet
    search::StreamAccess access([mailbox, uid] { return mailbox->open_message(uid); },
                                headers.take(i - first));
    search::MessageContext m;
    m.meta = meta;
    m.seq = static_cast<uint32_t>(i + 1);
    m.recent = sel.recent.count(uid) > 0;
    m.access = &access;
    const bool hit = job.program.matches(m);
    if (access.failed()) {
      ++job.unreadable;
      core::log::error("imap_search_read_failed",
                       {{"session", s.id()}, {"mailbox", sel.name}, {"uid", uid}});
    }
    if (!hit) continue;
    const uint32_t number = job.uid_command ? uid : m.seq;
    if (job.count == 0) {
      job.first = number;
      job.first_uid = uid;
      job.first_modseq = meta->modseq;
    }
    job.last = number;
    job.last_uid = uid;
    if (job.save_all) job.saved.push_back(uid);
    if (job.update) job.match_uids.push_back(uid);
    job.last_modseq = meta->modseq;
    job.highest_modseq = std::max(job.highest_modseq, meta->modseq);
    ++job.count;
    if (job.esearch) {
      if (job.want_all || job.partial) job.matches.push_back(number);
    } else {
      out += ' ';
      out += std::to_string(number);
    }
  }
  if (job.next < n_msgs) return true;
  finish_line(job, out);
  return false;
}

// Whether the program uses "$".
bool uses_saved(const proto::SearchKey& key) {
  using Kind = proto::SearchKey::Kind;
  if ((key.kind == Kind::kUid || key.kind == Kind::kSequenceSet) && key.set.saved) return true;
  for (const auto& child : key.children)
    if (uses_saved(child)) return true;
  return false;
}

// Replaces "$" by a UID set of the saved messages the client knows (the
// same messages for "$" as message numbers and as UIDs).
void substitute_saved(proto::SearchKey& key, const std::vector<proto::SeqRange>& saved) {
  using Kind = proto::SearchKey::Kind;
  if ((key.kind == Kind::kUid || key.kind == Kind::kSequenceSet) && key.set.saved) {
    key.kind = Kind::kUid;
    key.set.saved = false;
    key.set.ranges = saved;
  }
  for (auto& child : key.children) substitute_saved(child, saved);
}

std::vector<proto::SeqRange> saved_ranges(Session& s) {
  std::vector<proto::SeqRange> out;
  proto::SequenceSet dollar;
  dollar.saved = true;
  for (uint32_t uid : s.resolve(dollar, /*uid=*/true)) {
    if (!out.empty() && out.back().hi + 1 == uid) {
      out.back().hi = uid;
    } else {
      out.push_back(proto::SeqRange{uid, uid});
    }
  }
  return out;
}

}  // namespace

std::optional<search::Program> compile_search(Session& s, const proto::SearchKey& program,
                                              const std::optional<std::string>& charset,
                                              const std::function<void()>& on_bad_charset) {
  if (uses_saved(program)) {
    // "$" (RFC 5182) in SEARCH, SORT and THREAD alike.
    proto::SearchKey key = program;
    substitute_saved(key, saved_ranges(s));
    return compile_search(s, key, charset, on_bad_charset);
  }
  const Selected& sel = s.selected();
  search::Bounds bounds;
  bounds.max_seq = static_cast<uint32_t>(sel.uids.size());
  bounds.max_uid = sel.uids.empty() ? 0 : sel.uids.back();
  bounds.now = static_cast<int64_t>(std::time(nullptr));
  search::CompileError err;
  auto compiled = search::Program::compile(program, charset, bounds, &err);
  if (compiled) return compiled;
  if (err.kind == search::CompileError::Kind::kBadCharset) {
    if (on_bad_charset) on_bad_charset();
    s.no("Unknown charset", "BADCHARSET (" + std::string(search::kAdvertisedCharsets) + ")");
  } else {
    s.bad(err.text.empty() ? "Invalid search program" : err.text);
  }
  return std::nullopt;
}

void cmd_search(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::SearchArgs>(c.args);

  std::string error;
  std::optional<search::ReturnOptions> ret = search::parse_return_options(args.return_opts, &error);
  if (!ret) {
    s.bad(error);
    return;
  }
  bool min = ret->min, max = ret->max, count = ret->count, all = ret->all;
  const bool save = ret->save, update = ret->update;
  const std::optional<search::PartialRange> partial = ret->partial;

  // RFC 6855 3: after ENABLE UTF8=ACCEPT a CHARSET argument conflicts with
  // the UTF-8 the strings are in. IMAP4rev2 (RFC 9051 6.4.4) keeps CHARSET.
  if (args.charset && s.utf8() == proto::Utf8Mode::kOn && !s.rev2()) {
    s.bad("SEARCH with CHARSET is not allowed after ENABLE UTF8=ACCEPT; strings are UTF-8");
    return;
  }

  // RFC 5182 2.1: a SAVE that fails empties "$".
  auto on_bad_charset = [&s, save] {
    if (save) s.set_saved_result({});
  };
  std::optional<search::Program> program;
  if (uses_saved(args.program)) {
    proto::SearchKey key = args.program;
    substitute_saved(key, saved_ranges(s));
    program = compile_search(s, key, args.charset, on_bad_charset);
  } else {
    program = compile_search(s, args.program, args.charset, on_bad_charset);
  }
  if (!program) return;

  if (program->uses_modseq()) s.enable_condstore();  // RFC 7162 3.1.5

  auto job = std::make_shared<SearchJob>(std::move(*program));
  job->tag = c.tag;
  job->uid_command = c.uid;
  // RETURN () means ALL; IMAP4rev2 answers every SEARCH with ESEARCH.
  job->esearch = args.has_return || s.rev2();
  if (job->esearch && !min && !max && !count && !all && !partial) {
    if (save) {
      job->silent = true;
    } else {
      all = true;
    }
  }
  job->save = save;
  job->save_all = save && (job->silent || all || count || partial);
  job->partial = partial;
  job->update = update;
  std::string refusal;
  if (update) refusal = search_context_refusal(args.program, job->program.cost());
  job->want_min = min;
  job->want_max = max;
  job->want_count = count;
  job->want_all = all;

  Session* sp = &s;
  s.produce([sp, job](std::string& out) { return search_step(*sp, *job, out); },
            [sp, job, refusal] {
              if (job->unreadable > 0) {
                if (job->save) sp->set_saved_result({});
                sp->no("Some messages could not be read",
                       proto::code_name(proto::Code::kUnavailable));
              } else {
                if (job->save) {
                  if (job->save_all) {
                    sp->set_saved_result(std::move(job->saved));
                  } else {
                    // RFC 5182 2.4: SAVE with only MIN and / or MAX keeps those.
                    std::vector<uint32_t> v;
                    if (job->count > 0 && job->want_min) v.push_back(job->first_uid);
                    if (job->count > 0 && job->want_max) v.push_back(job->last_uid);
                    sp->set_saved_result(std::move(v));
                  }
                }
                if (job->update) {
                  SearchContext ctx(job->program);
                  ctx.tag = job->tag;
                  ctx.uid = job->uid_command;
                  ctx.result = std::move(job->match_uids);
                  std::string out;
                  add_search_context(*sp, std::move(ctx), refusal, out);
                  if (!out.empty()) sp->write(out);
                }
                sp->ok("Search completed");
              }
            });
}

}  // namespace imap
