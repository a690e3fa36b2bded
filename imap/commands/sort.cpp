// SORT and UID SORT (RFC 5256, with the DISPLAYFROM / DISPLAYTO keys of
// RFC 5957), answered with "* SORT", or with RETURN (ESORT, RFC 5267) with
// "* ESEARCH" (MIN MAX COUNT ALL, in sort order). The search program is
// imap/search's; the keys come from imap/sort. Runs on the store pool in
// steps, reading only the header of each message (and only when a key or
// the program needs it); what is kept per match is its sort keys.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log/log.h"
#include "imap/commands/commands.h"
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
  out += "\r\n";
}

bool sort_step(Session& s, SortJob& job, std::string& out) {
  Selected& sel = s.selected();
  const size_t n_msgs = sel.uids.size();
  if (job.next < n_msgs) {
    const size_t end = std::min(n_msgs, job.next + batch_for(job.program.cost(), job.needs_header));
    store::Mailbox* mailbox = sel.mailbox.get();
    while (job.next < end) {
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
      const std::string* header = nullptr;
      if (hit && job.needs_header) header = access.header();
      if (access.failed()) {
        ++job.unreadable;
        core::log::error("imap_sort_read_failed",
                         {{"session", s.id()}, {"mailbox", sel.name}, {"uid", uid}});
      }
      if (!hit) continue;
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

  std::optional<search::Program> program =
      compile_search(s, args.program, std::optional<std::string>(args.charset));
  if (!program) return;
  if (program->uses_modseq()) {
    s.bad("The MODSEQ search key is not supported in SORT");
    return;
  }

  auto job = std::make_shared<SortJob>(std::move(*program));
  job->criteria = std::move(criteria);
  job->needs_header = needs_header;
  job->tag = c.tag;
  job->uid_command = c.uid;
  job->esearch = args.has_return;
  // RETURN () means ALL (RFC 4731 3.1, RFC 5267 3.2).
  if (job->esearch && !min && !max && !count && !all) all = true;
  job->want_min = min;
  job->want_max = max;
  job->want_count = count;
  job->want_all = all;

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
