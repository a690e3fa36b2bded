// THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT, REFERENCES and REFS
// (draft-ietf-morg-inthread), answered with "* THREAD". The search program
// is imap/search's, the algorithms imap/sort's. Runs on the store pool in
// steps, reading only message headers; the answer is written in pieces.
// A MODSEQ search key selects messages as in SEARCH; the THREAD response has
// no MODSEQ item (RFC 7162 extends only SEARCH and SORT). "$" (SEARCHRES) is
// substituted by compile_search.
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

struct ThreadJob {
  explicit ThreadJob(search::Program p) : program(std::move(p)) {}

  search::Program program;
  sort::Algorithm algorithm = sort::Algorithm::kReferences;
  bool uid_command = false;

  size_t next = 0;  // index into Selected::uids while collecting
  std::vector<sort::ThreadMessage> messages;
  size_t unreadable = 0;
  bool threaded = false;
  std::string answer;  // the whole "* THREAD" line, once threaded
  size_t written = 0;
};

bool thread_step(Session& s, ThreadJob& job, std::string& out) {
  Selected& sel = s.selected();
  const size_t n_msgs = sel.uids.size();
  if (job.next < n_msgs) {
    const size_t batch = job.program.cost() == search::Cost::kBody ? 200 : 2000;
    const size_t end = std::min(n_msgs, job.next + batch);
    store::Mailbox* mailbox = sel.mailbox.get();
    const size_t first = job.next;
    search::StepHeaders headers(job.program, true, *mailbox,
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
      const std::string* header = hit ? access.header() : nullptr;
      if (access.failed()) {
        ++job.unreadable;
        core::log::error("imap_thread_read_failed",
                         {{"session", s.id()}, {"mailbox", sel.name}, {"uid", uid}});
      }
      if (!hit) continue;
      job.messages.push_back(
          sort::make_thread_message(*meta, m.seq, job.uid_command ? uid : m.seq, header));
    }
    if (job.next < n_msgs) return true;
  }
  if (!job.threaded) {
    sort::Threads threads = sort::thread_messages(job.algorithm, std::move(job.messages));
    job.messages = {};
    job.answer = "* THREAD ";
    sort::write_threads(job.answer, threads);
    if (job.answer.back() == ' ') job.answer.pop_back();
    job.answer += "\r\n";
    job.threaded = true;
  }
  const size_t n = std::min(kStepBytes, job.answer.size() - job.written);
  out.append(job.answer, job.written, n);
  job.written += n;
  return job.written < job.answer.size();
}

}  // namespace

void cmd_thread(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::ThreadArgs>(c.args);

  std::optional<sort::Algorithm> algorithm = sort::algorithm_from_name(args.algorithm);
  if (!algorithm) {
    s.bad("Unknown thread algorithm " + args.algorithm);
    return;
  }

  std::optional<search::Program> program =
      compile_search(s, args.program, std::optional<std::string>(args.charset));
  if (!program) return;
  if (program->uses_modseq()) s.enable_condstore();  // RFC 7162 3.1

  auto job = std::make_shared<ThreadJob>(std::move(*program));
  job->algorithm = *algorithm;
  job->uid_command = c.uid;

  Session* sp = &s;
  s.produce([sp, job](std::string& out) { return thread_step(*sp, *job, out); },
            [sp, job] {
              if (job->unreadable > 0) {
                sp->no("Some messages could not be read",
                       proto::code_name(proto::Code::kUnavailable));
              } else {
                sp->ok("Thread completed");
              }
            });
}

}  // namespace imap
