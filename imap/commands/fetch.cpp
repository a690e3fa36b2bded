// FETCH and UID FETCH (RFC 9051 6.4.5, RFC 3516 BINARY, RFC 7162
// CHANGEDSINCE). The responses are written by imap/fetch's FetchWriter, one
// message after another, from store-pool steps of about 256 KiB each.
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/log/log.h"
#include "imap/commands/commands.h"
#include "imap/fetch/fetch_writer.h"

namespace imap {

namespace {

struct FetchJob {
  std::vector<proto::FetchAtt> atts;
  std::vector<uint32_t> uids;  // to answer, ascending
  bool uid_command = false;
  bool modseq = false;         // CHANGEDSINCE given: MODSEQ in every answer
  bool condstore = false;      // CONDSTORE on: MODSEQ wherever FLAGS changed
  bool mark_seen = false;      // some attribute sets \Seen and the mailbox is writable
  bool needs_message = false;  // some attribute needs the stored bytes
  // ... but only cached header fields: the store's header cache answers,
  // a batch of messages per store call.
  bool from_cache = false;
  bool rev2 = false;
  proto::Utf8Mode utf8 = proto::Utf8Mode::kOff;

  bool seen_done = false;
  // UID FETCH ... (CHANGEDSINCE m VANISHED): the UID set (resolved up to
  // UIDNEXT-1) whose expunges since m go out first as VANISHED (EARLIER).
  bool vanished = false;
  uint64_t vanished_since = 0;
  std::vector<std::pair<uint32_t, uint32_t>> vanished_set;
  std::set<uint32_t> seen_set;  // UIDs that got \Seen from this command
  size_t next = 0;
  uint32_t current_uid = 0;
  std::unique_ptr<store::MessageStream> stream;
  std::unique_ptr<fetch::Reader> reader;
  std::vector<std::optional<std::string>> headers;  // from_cache: uids[headers_from...]
  size_t headers_from = 0;
  std::string header;  // the one being answered
  std::unique_ptr<fetch::FetchWriter> writer;
  std::optional<fetch::MetaItems> meta_only;  // set when no attribute needs the message
  fetch::Problem problem = fetch::Problem::kNone;
  size_t unreadable = 0;
  size_t vanished_meanwhile = 0;       // expunged by another session, file gone
  size_t meta_hint = 0, seq_hint = 0;  // positions for the ascending walk
};

// Sets \Seen on the messages about to be answered that lack it, in one
// store call, before any of their responses is written.
void mark_seen(Session& s, FetchJob& job) {
  Selected& sel = s.selected();
  std::vector<uint32_t> want;
  size_t hint = 0;
  for (uint32_t uid : job.uids) {
    const store::MessageMeta* m = sel.meta_near(uid, hint);
    if (m != nullptr && (m->flags & store::kSeen) == 0) want.push_back(uid);
  }
  if (want.empty()) return;
  store::FlagChange change;
  change.op = store::FlagOp::kAdd;
  change.flags = store::kSeen;
  auto r = sel.mailbox->store_flags(want, change);
  if (!r) {
    core::log::error("imap_fetch_seen_failed",
                     {{"session", s.id()}, {"mailbox", sel.name}, {"error", r.error().message}});
    return;
  }
  job.seen_set.insert(r->begin(), r->end());
}

// The next message to answer, with its options (current_uid set); null
// when none is left.
const store::MessageMeta* next_meta(Session& s, FetchJob& job, fetch::Options* o) {
  Selected& sel = s.selected();
  while (job.next < job.uids.size()) {
    uint32_t uid = job.uids[job.next++];
    const store::MessageMeta* m = sel.meta_near(uid, job.meta_hint);
    uint32_t seq = sel.seq_near(uid, job.seq_hint);
    if (m == nullptr || seq == 0) {  // expunged elsewhere meanwhile
      ++job.vanished_meanwhile;
      continue;
    }
    o->seq = seq;
    o->uid = job.uid_command;
    o->flags = !job.seen_set.empty() && job.seen_set.count(uid) > 0;
    o->modseq = job.modseq || (job.condstore && o->flags);
    o->recent = !job.rev2 && sel.recent.count(uid) > 0;
    o->utf8 = job.utf8;
    job.current_uid = uid;
    return m;
  }
  return nullptr;
}

// Messages whose cached headers one store call fetches.
constexpr size_t kHeaderBatch = 256;

// With from_cache: the cached header of the current message into job.header,
// fetching the next batch when needed; false when the store has none for it.
bool take_cached_header(Session& s, FetchJob& job) {
  const size_t i = job.next - 1;  // next_meta() has moved past the current one
  if (i < job.headers_from || i >= job.headers_from + job.headers.size()) {
    const size_t n = std::min(kHeaderBatch, job.uids.size() - i);
    job.headers = s.selected().mailbox->cached_headers(std::span(job.uids).subspan(i, n));
    job.headers_from = i;
  }
  std::optional<std::string>& h = job.headers[i - job.headers_from];
  if (!h) return false;
  job.header = std::move(*h);
  h.reset();
  return true;
}

// Starts the writer of the next message; false when none is left.
bool next_message(Session& s, FetchJob& job) {
  Selected& sel = s.selected();
  fetch::Options o;
  while (const store::MessageMeta* m = next_meta(s, job, &o)) {
    job.writer.reset();
    job.reader.reset();
    job.stream.reset();
    if (job.from_cache && take_cached_header(s, job)) {
      job.reader = std::make_unique<fetch::StringReader>(job.header);
    } else if (job.needs_message) {
      auto opened = sel.mailbox->open_message(job.current_uid);
      if (opened) {
        job.stream = std::move(*opened);
        job.reader = std::make_unique<fetch::StreamReader>(*job.stream);
      } else if (opened.error().code == store::Errc::kNotFound) {
        // Expunged by another session since this one last synced: its
        // file is gone. No made-up data for it (a client could keep it in
        // its cache forever); the tagged NO says why (RFC 2180 4.1.2).
        ++job.vanished_meanwhile;
        continue;
      } else {
        core::log::error("imap_fetch_open_failed", {{"session", s.id()},
                                                    {"mailbox", sel.name},
                                                    {"uid", job.current_uid},
                                                    {"error", opened.error().message}});
      }
    }
    job.writer = std::make_unique<fetch::FetchWriter>(*m, job.atts, o, job.reader.get());
    return true;
  }
  return false;
}

// "* VANISHED (EARLIER) <uids>" (RFC 7162 3.2.6): the UIDs of the set
// expunged since the modseq that the session no longer shows. From the
// store's memory when it reaches back that far, else every UID of the set
// that no longer exists (always right, maybe longer).
void write_vanished(Session& s, FetchJob& job, std::string& out) {
  Selected& sel = s.selected();
  const auto& view = sel.mailbox->messages();
  std::vector<uint32_t> present;  // UIDs the store or the client still has
  present.reserve(view.size() + sel.uids.size());
  for (const auto& m : view) present.push_back(m.uid);
  present.insert(present.end(), sel.uids.begin(), sel.uids.end());
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  auto in_set = [&job](uint32_t uid) {
    auto it = std::upper_bound(job.vanished_set.begin(), job.vanished_set.end(),
                               std::make_pair(uid, 0xFFFFFFFFu));
    return it != job.vanished_set.begin() && std::prev(it)->second >= uid;
  };
  std::vector<std::pair<uint32_t, uint32_t>> gone;
  auto add = [&gone](uint32_t lo, uint32_t hi) {
    if (!gone.empty() && static_cast<uint64_t>(gone.back().second) + 1 == lo) {
      gone.back().second = hi;
    } else {
      gone.emplace_back(lo, hi);
    }
  };
  auto memory = sel.mailbox->expunged_since(job.vanished_since);
  if (memory && *memory) {
    for (uint32_t uid : **memory) {
      if (in_set(uid) && !std::binary_search(present.begin(), present.end(), uid)) add(uid, uid);
    }
  } else {
    auto it = present.begin();
    for (auto [lo, hi] : job.vanished_set) {
      uint64_t next = lo;
      it = std::lower_bound(it, present.end(), lo);
      for (; it != present.end() && *it <= hi; ++it) {
        if (*it > next) add(static_cast<uint32_t>(next), *it - 1);
        next = static_cast<uint64_t>(*it) + 1;
      }
      if (next <= hi) add(static_cast<uint32_t>(next), hi);
    }
  }
  if (gone.empty()) return;
  out += "* VANISHED (EARLIER) ";
  bool first = true;
  for (auto [lo, hi] : gone) {
    if (!first) out += ',';
    first = false;
    out += std::to_string(lo);
    if (hi != lo) out += ':' + std::to_string(hi);
  }
  out += "\r\n";
}

// One store-pool step: about kStepBytes of responses.
bool fetch_step(Session& s, FetchJob& job, std::string& out) {
  if (job.vanished) {
    job.vanished = false;
    write_vanished(s, job, out);
  }
  if (!job.seen_done) {
    job.seen_done = true;
    if (job.mark_seen) mark_seen(s, job);
  }
  const size_t start = out.size();
  if (job.meta_only) {
    // Nothing to read: no writer per message.
    fetch::Options o;
    while (out.size() - start < fetch::kStepBytes) {
      const store::MessageMeta* m = next_meta(s, job, &o);
      if (m == nullptr) return false;
      job.meta_only->write(out, *m, o);
    }
    return true;
  }
  while (out.size() - start < fetch::kStepBytes) {
    if (!job.writer && !next_message(s, job)) return false;
    bool more = job.writer->write(out, fetch::kStepBytes - (out.size() - start));
    if (job.writer->problem() != fetch::Problem::kNone) {
      job.problem = job.writer->problem();
      job.writer.reset();
      return false;
    }
    if (!more) {
      if (job.writer->read_failed()) {
        ++job.unreadable;
        core::log::error(
            "imap_fetch_read_failed",
            {{"session", s.id()}, {"mailbox", s.selected().name}, {"uid", job.current_uid}});
      }
      job.writer.reset();
      job.reader.reset();
      job.stream.reset();
    }
  }
  return true;
}

}  // namespace

void cmd_fetch(Session& s, const proto::Command& c) {
  const auto& args = std::get<proto::FetchArgs>(c.args);
  if (args.vanished) {
    // RFC 7162 3.2.6: UID FETCH only, after ENABLE QRESYNC, with CHANGEDSINCE.
    if (!c.uid) return s.bad("VANISHED is only valid with UID FETCH");
    if (!s.qresync()) return s.bad("VANISHED needs ENABLE QRESYNC first");
    if (!args.changed_since) return s.bad("VANISHED needs CHANGEDSINCE");
  }
  bool bad = false;
  std::vector<uint32_t> uids = s.resolve(args.set, c.uid, &bad);
  if (bad) {
    s.bad("Invalid message number in the sequence set");
    return;
  }

  auto job = std::make_shared<FetchJob>();
  job->atts = args.atts;
  job->uid_command = c.uid;
  job->modseq = args.changed_since.has_value();
  if (args.vanished && !args.set.saved) {
    uint32_t uidnext = s.selected().mailbox->status().uidnext;
    job->vanished = true;
    job->vanished_since = *args.changed_since;
    job->vanished_set = args.set.resolve(uidnext > 1 ? uidnext - 1 : 0);
  }
  for (const proto::FetchAtt& a : args.atts) {
    if (a.kind == proto::FetchAtt::Kind::kModSeq) s.enable_condstore();
  }
  if (job->modseq) s.enable_condstore();  // RFC 7162 3.1: CONDSTORE-enabling
  job->condstore = s.condstore();
  job->rev2 = s.rev2();
  job->utf8 = s.utf8();
  bool seen = false;
  bool all_cached = true;
  for (const proto::FetchAtt& a : job->atts) {
    seen = seen || fetch::sets_seen(a);
    const bool needs = fetch::needs_message(a);
    job->needs_message = job->needs_message || needs;
    all_cached = all_cached && (!needs || fetch::answered_by_cached_header(a));
  }
  job->from_cache = job->needs_message && all_cached;
  if (!job->needs_message) job->meta_only.emplace(job->atts);
  Selected& sel = s.selected();
  job->mark_seen = seen && !sel.read_only;
  job->uids.reserve(uids.size());
  size_t hint = 0;
  for (uint32_t uid : uids) {
    const store::MessageMeta* m = sel.meta_near(uid, hint);
    if (m == nullptr) {  // expunged elsewhere, not yet announced here
      ++job->vanished_meanwhile;
      continue;
    }
    if (args.changed_since && m->modseq <= *args.changed_since) continue;
    job->uids.push_back(uid);
  }

  Session* sp = &s;
  s.produce([sp, job](std::string& out) { return fetch_step(*sp, *job, out); },
            [sp, job] {
              switch (job->problem) {
                case fetch::Problem::kUnknownCte:
                  sp->no("Cannot decode the Content-Transfer-Encoding of that part",
                         proto::code_name(proto::Code::kUnknownCte));
                  return;
                case fetch::Problem::kBinaryMultipart:
                  sp->bad("BINARY cannot be used on a multipart part");
                  return;
                case fetch::Problem::kNone:
                  break;
              }
              if (job->unreadable > 0) {
                sp->no("Some messages could not be read",
                       proto::code_name(proto::Code::kUnavailable));
              } else if (job->vanished_meanwhile > 0 && !job->uid_command) {
                // By UID, a UID that no longer exists is simply not there
                // (RFC 3501 6.4.8); by number, the client named a message.
                sp->no("Some of the requested messages no longer exist",
                       proto::code_name(proto::Code::kExpungeIssued));
              } else {
                sp->ok("Fetch completed");
              }
            });
}

}  // namespace imap
