// SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4), answered with
// "* SEARCH" or, with RETURN (or in IMAP4rev2), "* ESEARCH" (RFC 4731 /
// RFC 9051: MIN MAX COUNT ALL). MODSEQ keys add the highest MODSEQ of the
// answer (RFC 7162 3.1.5). The evaluation itself is imap/search's Program,
// run on the store pool in steps; at most one message is held in memory.
#include <algorithm>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log/log.h"
#include "imap/commands/commands.h"
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
  while (job.next < end && out.size() - start < kStepBytes) {
    const size_t i = job.next++;
    const uint32_t uid = sel.uids[i];
    const store::MessageMeta* meta = sel.meta(uid);
    if (meta == nullptr) continue;  // expunged elsewhere, not announced yet
    search::StreamAccess access([mailbox, uid] { return mailbox->open_message(uid); });
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
      job.first_modseq = meta->modseq;
    }
    job.last = number;
    job.last_modseq = meta->modseq;
    job.highest_modseq = std::max(job.highest_modseq, meta->modseq);
    ++job.count;
    if (job.esearch) {
      if (job.want_all) job.matches.push_back(number);
    } else {
      out += ' ';
      out += std::to_string(number);
    }
  }
  if (job.next < n_msgs) return true;
  finish_line(job, out);
  return false;
}

}  // namespace

void cmd_search(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::SearchArgs>(c.args);
  Selected& sel = s.selected();

  search::Bounds bounds;
  bounds.max_seq = static_cast<uint32_t>(sel.uids.size());
  bounds.max_uid = sel.uids.empty() ? 0 : sel.uids.back();
  bounds.now = static_cast<int64_t>(std::time(nullptr));

  bool min = false, max = false, count = false, all = false;
  for (const std::string& opt : args.return_opts) {
    if (opt == "MIN") {
      min = true;
    } else if (opt == "MAX") {
      max = true;
    } else if (opt == "COUNT") {
      count = true;
    } else if (opt == "ALL") {
      all = true;
    } else if (opt == "SAVE") {
      s.bad("RETURN (SAVE) is not supported (no SEARCHRES)");
      return;
    } else {
      s.bad("Unknown RETURN option " + opt);
      return;
    }
  }

  search::CompileError err;
  std::optional<search::Program> program =
      search::Program::compile(args.program, args.charset, bounds, &err);
  if (!program) {
    if (err.kind == search::CompileError::Kind::kBadCharset) {
      s.no("Unknown charset", "BADCHARSET (" + std::string(search::kAdvertisedCharsets) + ")");
    } else {
      s.bad(err.text.empty() ? "Invalid search program" : err.text);
    }
    return;
  }

  if (program->uses_modseq()) s.enable_condstore();  // RFC 7162 3.1.5

  auto job = std::make_shared<SearchJob>(std::move(*program));
  job->tag = c.tag;
  job->uid_command = c.uid;
  // RETURN () means ALL; IMAP4rev2 answers every SEARCH with ESEARCH.
  job->esearch = args.has_return || s.rev2();
  if (job->esearch && !min && !max && !count && !all) all = true;
  job->want_min = min;
  job->want_max = max;
  job->want_count = count;
  job->want_all = all;

  Session* sp = &s;
  s.produce([sp, job](std::string& out) { return search_step(*sp, *job, out); },
            [sp, job] {
              if (job->unreadable > 0) {
                sp->no("Some messages could not be read",
                       proto::code_name(proto::Code::kUnavailable));
              } else {
                sp->ok("Search completed");
              }
            });
}

}  // namespace imap
