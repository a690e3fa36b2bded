// SORT and UID SORT (RFC 5256, with the DISPLAYFROM / DISPLAYTO keys of
// RFC 5957), answered with "* SORT", or with RETURN (ESORT, RFC 5267) with
// "* ESEARCH" (MIN MAX COUNT ALL, in sort order). The search program is
// imap/search's; the keys come from imap/sort. Runs on the store pool in
// steps, reading only the header of each message (and only when a key or
// the program needs it); what is kept per match is its sort keys.
//
// RETURN (PARTIAL m:n) answers the matches at those positions of the sorted
// result (RFC 5267 4.4; "-m:-n" from the end, RFC 9394). CONTEXT is a hint;
// UPDATE needs CONTEXT=SORT, which Roost does not offer: BAD. A MODSEQ
// search key adds "(MODSEQ n)" to "* SORT" and MODSEQ to ESEARCH, the
// highest MODSEQ of the matches (RFC 7162 3.1.5 and its sort-data syntax).
// "$" (SEARCHRES) is substituted by compile_search.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log/log.h"
#include "imap/commands/commands.h"
#include "imap/search/context.h"
#include "imap/search/search.h"
#include "imap/sort/sort.h"

namespace imap {

namespace {

constexpr size_t kStepBytes = 256 * 1024;

size_t batch_for(search::Cost cost, bool header) {
  if (cost == search::Cost::kBody) return 200;
  if (cost == search::Cost::kHeader || header) return 2000;
  return 50000;
}

struct SortJob {
  explicit SortJob(search::Program p) : program(std::move(p)) {}

  search::Program program;
  std::vector<sort::Criterion> criteria;
  bool needs_header = false;
  std::string tag;
  bool uid_command = false;
  bool esearch = false;
  bool want_min = false, want_max = false, want_count = false, want_all = false;
  std::optional<search::PartialRange> partial;
  uint64_t highest_modseq = 0;  // of the matches, when the program has MODSEQ

  size_t next = 0;  // index into Selected::uids while collecting
  std::vector<sort::SortRecord> records;
  size_t unreadable = 0;
  bool sorted = false;
  std::vector<uint32_t> order;  // the answer, once sorted
  size_t written = 0;           // of `order`, for "* SORT"
};

void write_esearch(const SortJob& job, std::string& out) {
  out += "* ESEARCH (TAG ";
  proto::write_string(out, job.tag);
  out += ')';
  if (job.uid_command) out += " UID";
  if (!job.order.empty()) {
    if (job.want_min) out += " MIN " + std::to_string(job.order.front());
    if (job.want_max) out += " MAX " + std::to_string(job.order.back());
  }
  if (job.want_count) out += " COUNT " + std::to_string(job.order.size());
  if (!job.order.empty() && job.want_all) {
    out += " ALL ";
    sort::write_ordered_set(out, job.order);
  }
  if (job.partial) {
    out += " PARTIAL (" + job.partial->text() + ' ';
    std::vector<uint32_t> part = search::partial_slice(job.order, *job.partial);
    if (part.empty()) {
      out += "NIL";
    } else {
      sort::write_ordered_set(out, part);
    }
    out += ')';
  }
  if (job.program.uses_modseq() && !job.order.empty()) {
    out += " MODSEQ " + std::to_string(job.highest_modseq);
  }
  out += "\r\n";
}

bool sort_step(Session& s, SortJob& job, std::string& out) {
  Selected& sel = s.selected();
  const size_t n_msgs = sel.uids.size();
  if (job.next < n_msgs) {
    const size_t end = std::min(n_msgs, job.next + batch_for(job.program.cost(), job.needs_header));
    store::Mailbox* mailbox = sel.mailbox.get();
    const size_t first = job.next;
    search::StepHeaders headers(job.program, job.needs_header, *mailbox,
                                std::span(sel.uids).subspan(first, end - first));
    while (job.next < end) {
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
      const std::string* header = nullptr;
      if (hit && job.needs_header) header = access.header();
      if (access.failed()) {
        ++job.unreadable;
        core::log::error("imap_sort_read_failed",
                         {{"session", s.id()}, {"mailbox", sel.name}, {"uid", uid}});
      }
      if (!hit) continue;
      job.highest_modseq = std::max(job.highest_modseq, meta->modseq);
      job.records.push_back(sort::make_sort_record(job.criteria, *meta, m.seq,
                                                   job.uid_command ? uid : m.seq, header));
    }
    if (job.next < n_msgs) return true;
  }
  if (!job.sorted) {
    job.order = sort::sort_records(job.criteria, std::move(job.records));
    job.records = {};
    job.sorted = true;
    if (job.esearch) {
      write_esearch(job, out);
      return false;
    }
    out += "* SORT";
  }
  const size_t start = out.size();
  while (job.written < job.order.size() && out.size() - start < kStepBytes) {
    out += ' ';
    out += std::to_string(job.order[job.written++]);
  }
  if (job.written < job.order.size()) return true;
  // RFC 7162: sort-data = "SORT" [1*(SP nz-number) SP search-sort-mod-seq].
  if (job.program.uses_modseq() && !job.order.empty()) {
    out += " (MODSEQ " + std::to_string(job.highest_modseq) + ")";
  }
  out += "\r\n";
  return false;
}

}  // namespace

void cmd_sort(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::SortArgs>(c.args);

  std::vector<sort::Criterion> criteria;
  bool needs_header = false;
  for (const proto::SortCriterion& k : args.criteria) {
    std::optional<sort::Key> key = sort::key_from_name(k.key);
    if (!key) {
      s.bad("Unknown sort key " + k.key);
      return;
    }
    criteria.push_back(sort::Criterion{*key, k.reverse});
    needs_header = needs_header || sort::key_needs_header(*key);
  }

  std::string error;
  std::optional<search::ReturnOptions> ret = search::parse_return_options(args.return_opts, &error);
  if (!ret) {
    s.bad(error);
    return;
  }
  if (ret->update) {
    s.bad("RETURN (UPDATE) is not supported for SORT (no CONTEXT=SORT); use SEARCH");
    return;
  }
  if (ret->save) {
    s.bad("RETURN (SAVE) is not supported (no SEARCHRES)");
    return;
  }

  std::optional<search::Program> program =
      compile_search(s, args.program, std::optional<std::string>(args.charset));
  if (!program) return;
  if (program->uses_modseq()) s.enable_condstore();  // RFC 7162 3.1.5

  auto job = std::make_shared<SortJob>(std::move(*program));
  job->criteria = std::move(criteria);
  job->needs_header = needs_header;
  job->tag = c.tag;
  job->uid_command = c.uid;
  job->esearch = args.has_return;
  job->partial = ret->partial;
  job->want_min = ret->min;
  job->want_max = ret->max;
  job->want_count = ret->count;
  job->want_all = ret->all || (job->esearch && ret->none_named());

  Session* sp = &s;
  s.produce([sp, job](std::string& out) { return sort_step(*sp, *job, out); },
            [sp, job] {
              if (job->unreadable > 0) {
                sp->no("Some messages could not be read",
                       proto::code_name(proto::Code::kUnavailable));
              } else {
                sp->ok("Sort completed");
              }
            });
}

}  // namespace imap
