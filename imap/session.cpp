#include "imap/session.h"

#include <algorithm>

#include "core/log/log.h"
#include "core/net/worker.h"
#include "core/util/utf7.h"
#include "imap/commands/notify.h"
#include "imap/commands/search_context.h"
#include "imap/recent.h"

namespace imap {

using core::config::Protocol;
using proto::Code;
using proto::Status;
namespace log = core::log;

const char* state_name(State s) {
  switch (s) {
    case State::kNotAuthenticated:
      return "not authenticated";
    case State::kAuthenticated:
      return "authenticated";
    case State::kSelected:
      return "selected";
    case State::kLogout:
      return "logout";
  }
  return "?";
}

// ------------------------------------------------------------------ Selected

uint32_t Selected::seq_of(uint32_t uid) const {
  auto it = std::lower_bound(uids.begin(), uids.end(), uid);
  if (it == uids.end() || *it != uid) return 0;
  return static_cast<uint32_t>(it - uids.begin()) + 1;
}

const store::MessageMeta* Selected::meta(uint32_t uid) const {
  const auto& v = mailbox->messages();
  auto it = std::lower_bound(v.begin(), v.end(), uid,
                             [](const store::MessageMeta& m, uint32_t u) { return m.uid < u; });
  if (it == v.end() || it->uid != uid) return nullptr;
  return &*it;
}

uint32_t Selected::seq_near(uint32_t uid, size_t& hint) const {
  if (hint < uids.size() && uids[hint] == uid) return static_cast<uint32_t>(++hint);
  if (hint + 1 < uids.size() && uids[hint + 1] == uid) {
    hint += 2;
    return static_cast<uint32_t>(hint);
  }
  uint32_t seq = seq_of(uid);
  if (seq != 0) hint = seq;
  return seq;
}

const store::MessageMeta* Selected::meta_near(uint32_t uid, size_t& hint) const {
  const auto& v = mailbox->messages();
  if (hint < v.size() && v[hint].uid == uid) return &v[hint++];
  if (hint + 1 < v.size() && v[hint + 1].uid == uid) {
    hint += 2;
    return &v[hint - 1];
  }
  const store::MessageMeta* m = meta(uid);
  if (m != nullptr) hint = static_cast<size_t>(m - v.data()) + 1;
  return m;
}

void Selected::note_keywords(const std::vector<uint32_t>& list) {
  for (uint32_t uid : list) {
    const auto* m = meta(uid);
    if (!m) continue;
    for (const auto& k : m->keywords) {
      if (keywords.insert(k).second) keywords_changed = true;
    }
  }
}

// ------------------------------------------------------------------- Session

namespace {

// RFC 7888 4: the largest non-synchronising literal under LITERAL-.
constexpr uint64_t kLiteralMinusMax = 4096;

proto::Limits parser_limits(const core::config::Config& cfg) {
  proto::Limits l;
  l.line_max_preauth = cfg.limits.line_length_preauth;
  l.line_max = cfg.limits.line_length;
  l.literal_max = cfg.limits.literal_size;
  l.discard_max = cfg.limits.literal_size * 2;  // a {n+} past this closes the connection
  if (cfg.limits.literal_minus) l.nonsync_max = kLiteralMinusMax;
  return l;
}

}  // namespace

// IDLE state. File watchers and the timer are libuv handles on the
// connection's loop; they are closed (asynchronously) when IDLE ends, and
// their contexts hold only a weak reference to the session.
struct Session::Idle {
  struct Watch {
    uv_fs_event_t handle{};
    std::weak_ptr<Session> session;
  };
  struct Tick {
    uv_timer_t handle{};
    std::weak_ptr<Session> session;
  };
  std::vector<Watch*> watches;
  Tick* tick = nullptr;
  bool syncing = false;   // a sync job is on the pool
  bool again = false;     // a change arrived during that job
  bool stopping = false;  // DONE arrived while syncing: answer when it ends
  std::string done_line;
  std::chrono::steady_clock::time_point last_output;
};

Session::Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt)
    : services_(services), rt_(std::move(rt)), parser_(parser_limits(rt_->config())) {}

Session::~Session() = default;

std::string Session::capabilities() const {
  // LITERAL+ or (limits.literal_minus) LITERAL-, never both (RFC 7888).
  const char* literal = config().limits.literal_minus ? " LITERAL-" : " LITERAL+";
  std::string caps = "IMAP4rev1 IMAP4rev2";
  if (state_ == State::kNotAuthenticated) {
    caps += " SASL-IR";
    caps += literal;
    caps += " ID ENABLE";
    if (starttls_available()) caps += " STARTTLS";
    if (plaintext_ok()) {
      caps += " AUTH=PLAIN AUTH=LOGIN";
    } else {
      caps += " LOGINDISABLED";
    }
    return caps;
  }
  // SASL-IR stays listed after login: UNAUTHENTICATE leads back to
  // AUTHENTICATE, and clients compare the lists before and after.
  caps += " SASL-IR";
  caps += literal;
  caps +=
      " ID ENABLE NAMESPACE UIDPLUS UNSELECT MOVE CHILDREN SPECIAL-USE LIST-EXTENDED"
      " LIST-STATUS BINARY STATUS=SIZE ESEARCH WITHIN IDLE CONDSTORE UNAUTHENTICATE"
      " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS"
      " QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE";
  caps += " SEARCHRES MULTIAPPEND";
  caps += " QRESYNC";  // RFC 7162 (commands/select.cpp, fetch.cpp; VANISHED in announce())
  caps += " NOTIFY";   // RFC 5465 (commands/notify.cpp)
  // RFC 5267 (searches only), RFC 5255 level 1 (i;unicode-casemap), RFC 6154 3.
  caps += " CONTEXT=SEARCH I18NLEVEL=1 CREATE-SPECIAL-USE";
  // RFC 8514, RFC 8474 (THREADID always NIL), RFC 8970.
  caps += " SAVEDATE OBJECTID PREVIEW";
  caps += " UTF8=ACCEPT";  // RFC 6855; also part of IMAP4rev2
  // RFC 4469, RFC 5550, RFC 8508 (commands/append.cpp, replace.cpp).
  caps += " CATENATE URL-PARTIAL REPLACE";
  // RFC 7889: one limit for every mailbox, the APPEND literal cap.
  caps += " APPENDLIMIT=" + std::to_string(config().limits.literal_size);
  if (!conn().compression_active()) caps += " COMPRESS=DEFLATE";
  return caps;
}

void Session::on_start() {
  conn().set_idle_timeout(config().limits.idle_timeout.preauth);
  log::info("connect", {{"proto", "imap"},
                        {"session", id()},
                        {"remote", conn().info().remote_ip},
                        {"port", conn().info().local_port}});
  std::string out;
  proto::untagged(out, Status::kOk, proto::code_capability(capabilities()),
                  "Roost IMAP server ready");
  write(out);
}

void Session::write(std::string_view raw) {
  conn().write(raw);
}

void Session::on_data(std::string_view bytes) {
  if (ended_) return;
  parser_.feed(bytes);
  pump();
}

void Session::pump() {
  if (in_pump_) return;
  in_pump_ = true;
  auto self = shared_from_this();
  while (!ended_ && !conn().closed() && (!busy_ || resumed_)) {
    if (parser_.dead()) break;
    auto ev = parser_.next();
    if (!ev) break;
    on_event(*ev);
  }
  in_pump_ = false;
}

void Session::resume() {
  resumed_ = true;
  conn().resume_reading();
  pump();
}

void Session::count_bad_command() {
  if (++bad_commands_ >= config().limits.bad_commands) {
    end("Too many bad commands; closing connection");
  }
}

void Session::on_event(proto::Event& ev) {
  if (auto* cmd = std::get_if<proto::Command>(&ev)) {
    dispatch(std::move(*cmd));
    return;
  }
  if (auto* nc = std::get_if<proto::NeedContinuation>(&ev)) {
    (void)nc;
    write("+ Ready for literal data\r\n");
    parser_.accept_literal();
    return;
  }
  if (auto* big = std::get_if<proto::LiteralTooBig>(&ev)) {
    if (append_) append_abort(*this);
    resumed_ = false;
    busy_ = true;
    tag_ = big->tag;
    current_.reset();
    if (big->fatal) {
      end("[TOOBIG] Literal too big; closing connection");
      return;
    }
    std::string text = "Literal of " + std::to_string(big->size) + " octets is over the limit";
    if (!big->synchronising && config().limits.literal_minus && big->size > kLiteralMinusMax) {
      text += "; LITERAL- allows at most " + std::to_string(kLiteralMinusMax) +
              " octets without synchronising ({n})";
    }
    finish(big->synchronising ? Status::kNo : Status::kBad, "TOOBIG", text);
    return;
  }
  if (auto* ab = std::get_if<proto::AppendBegin>(&ev)) {
    if (ab->index == 0) {
      cmd_timer_.start("imap", ab->replace ? (ab->uid ? "UID REPLACE" : "REPLACE") : "APPEND");
      resumed_ = false;
      busy_ = true;
      tag_ = ab->tag;
      current_.reset();
      synced_ = false;
      if (state_ != State::kAuthenticated && state_ != State::kSelected) {
        parser_.reject_literal();
        finish(Status::kBad, "",
               "APPEND is not valid in the not authenticated state; log in first");
        return;
      }
    }
    resumed_ = false;
    append_begin(*this, *ab);
    return;
  }
  if (auto* chunk = std::get_if<proto::LiteralChunk>(&ev)) {
    if (append_) {
      resumed_ = false;
      append_chunk(*this, std::move(chunk->bytes));
    }
    return;
  }
  if (auto* text = std::get_if<proto::CatenateText>(&ev)) {
    if (append_) {
      resumed_ = false;
      append_text(*this, *text);
    } else {
      parser_.reject_literal();
    }
    return;
  }
  if (auto* url = std::get_if<proto::CatenateUrl>(&ev)) {
    if (append_) {
      resumed_ = false;
      append_url(*this, *url);
    }
    return;
  }
  if (auto* end_ev = std::get_if<proto::AppendEnd>(&ev)) {
    if (append_) {
      resumed_ = false;
      append_end(*this, end_ev->last);
    }
    return;
  }
  if (auto* pe = std::get_if<proto::ParseError>(&ev)) {
    if (append_) append_abort(*this);
    resumed_ = false;
    line_fn_ = nullptr;
    busy_ = true;
    current_.reset();
    tag_ = pe->tag;
    if (pe->tag.empty()) {
      std::string out;
      proto::untagged(out, Status::kBad, std::nullopt, "Syntax error: " + pe->message);
      write(out);
      command_done();
    } else {
      finish(Status::kBad, "", "Syntax error: " + pe->message);
    }
    count_bad_command();
    return;
  }
  if (auto* ltl = std::get_if<proto::LineTooLong>(&ev)) {
    if (append_) append_abort(*this);
    resumed_ = false;
    line_fn_ = nullptr;
    if (++too_long_ >= 2) {
      end("[TOOBIG] Command line too long again; closing connection");
      return;
    }
    busy_ = true;
    current_.reset();
    tag_ = ltl->tag;
    finish(Status::kBad, "TOOBIG", "Command line too long");
    return;
  }
  if (auto* line = std::get_if<proto::Line>(&ev)) {
    resumed_ = false;
    if (line_fn_) {
      auto fn = std::move(line_fn_);
      line_fn_ = nullptr;
      fn(line->text);
    }
    return;
  }
}

void Session::dispatch(proto::Command cmd) {
  busy_ = true;
  resumed_ = false;
  synced_ = false;
  current_ = std::move(cmd);
  tag_ = current_->tag;
  const CommandSpec* spec = find_command(current_->verb);
  // Metrics: names from the command table only, so a client cannot create
  // series of its own.
  cmd_timer_.start("imap", spec ? (current_->uid ? "UID " + current_->name : current_->name)
                                : std::string("other"));
  if (!spec) {
    finish(Status::kBad, "", "Unknown command " + current_->name.substr(0, 20));
    count_bad_command();
    return;
  }
  bool allowed = (state_ == State::kNotAuthenticated && spec->not_authenticated) ||
                 (state_ == State::kAuthenticated && spec->authenticated) ||
                 (state_ == State::kSelected && spec->selected);
  if (!allowed) {
    std::string why = current_->name + " is not valid in the " + state_name(state_) + " state";
    if (state_ == State::kNotAuthenticated) why += "; log in first";
    if (state_ == State::kAuthenticated && spec->selected) why += "; select a mailbox first";
    // Not counted as a bad command: the syntax was fine.
    finish(Status::kBad, "", why);
    return;
  }
  spec->handler(*this, *current_);
}

void Session::complete(Status status, std::optional<std::string_view> code, std::string_view text) {
  std::string c = code ? std::string(*code) : std::string();
  std::string t(text);
  if (selected_ && !synced_ && !conn().closed()) {
    auto* mb = selected_->mailbox.get();
    auto result = std::make_shared<store::Result<store::SyncResult>>(store::SyncResult{});
    auto self = shared_from_this();
    busy_ = true;
    conn().pause_reading();
    bool queued = conn().offload(
        services_.store_pool(), self, [mb, result]() { *result = mb->sync(); },
        [this, self, result, status, c = std::move(c), t = std::move(t)]() mutable {
          synced_ = true;
          if (*result) merge_sync(**result);
          finish(status, std::move(c), std::move(t));
        });
    if (!queued) finish(status, std::move(c), std::move(t));
    return;
  }
  finish(status, std::move(c), std::move(t));
}

void Session::fail(const store::Error& e, std::string_view what) {
  Code code = Code::kServerBug;
  std::string text = std::string(what) + ": " + e.message;
  switch (e.code) {
    case store::Errc::kNotFound:
      code = Code::kNonExistent;
      break;
    case store::Errc::kAlreadyExists:
      code = Code::kAlreadyExists;
      break;
    case store::Errc::kInvalidName:
    case store::Errc::kNoPermission:
      code = Code::kCannot;
      break;
    case store::Errc::kHasChildren:
      code = Code::kHasChildren;
      break;
    case store::Errc::kOverQuota:
      code = Code::kOverQuota;
      break;
    case store::Errc::kTooBig:
      code = Code::kLimit;
      break;
    case store::Errc::kLocked:
      code = Code::kInUse;
      break;
    case store::Errc::kIo:
      code = Code::kUnavailable;
      text = std::string(what) + " failed; try again later";
      break;
    case store::Errc::kCorrupt:
      code = Code::kCorruption;
      text = std::string(what) + " failed: mailbox data is damaged; contact your provider";
      break;
  }
  if (e.code == store::Errc::kIo || e.code == store::Errc::kCorrupt) {
    log::error("error", {{"proto", "imap"},
                         {"session", id()},
                         {"user", account_ ? account_->address : std::string()},
                         {"what", std::string(what)},
                         {"reason", e.message}});
  }
  complete(Status::kNo, proto::code_name(code), text);
}

void Session::merge_sync(const store::SyncResult& r) {
  if (!selected_) return;
  auto& sel = *selected_;
  if (r.uidvalidity_changed) {
    end("Mailbox was deleted or recreated by another session; please reconnect");
    return;
  }
  for (uint32_t uid : r.expunged) {
    sel.pending_flags.erase(uid);
    sel.recent.erase(uid);
    if (sel.seq_of(uid)) {
      sel.pending_expunge.push_back(uid);
    } else {
      sel.pending_added.erase(std::remove(sel.pending_added.begin(), sel.pending_added.end(), uid),
                              sel.pending_added.end());
    }
  }
  for (uint32_t uid : r.added) {
    if (!sel.seq_of(uid) && std::find(sel.pending_added.begin(), sel.pending_added.end(), uid) ==
                                sel.pending_added.end())
      sel.pending_added.push_back(uid);
  }
  for (uint32_t uid : r.flags_changed) {
    if (sel.seq_of(uid)) sel.pending_flags.insert(uid);
  }
}

void Session::announce(bool expunge_allowed) {
  if (!selected_) return;
  auto& sel = *selected_;
  std::string out;
  // CONTEXT=SEARCH: REMOVEFROM for messages about to be expunged.
  if (search_contexts_) announce_search_contexts(*this, out, expunge_allowed, false);
  if (expunge_allowed && !sel.pending_expunge.empty()) {
    std::sort(sel.pending_expunge.begin(), sel.pending_expunge.end());
    // QRESYNC (RFC 7162 3.2.10): one "* VANISHED <uids>" instead of EXPUNGEs.
    std::vector<uint32_t> vanished;
    // Highest first: the numbers of the remaining ones do not move.
    for (auto it = sel.pending_expunge.rbegin(); it != sel.pending_expunge.rend(); ++it) {
      uint32_t seq = sel.seq_of(*it);
      if (!seq) continue;
      if (qresync_) {
        vanished.push_back(*it);
      } else {
        proto::untagged_number(out, seq, "EXPUNGE");
      }
      sel.uids.erase(sel.uids.begin() + (seq - 1));
      auto saved = std::lower_bound(saved_result_.begin(), saved_result_.end(), *it);
      if (saved != saved_result_.end() && *saved == *it) saved_result_.erase(saved);
      sel.pending_flags.erase(*it);
      sel.recent.erase(*it);
    }
    sel.pending_expunge.clear();
    if (!vanished.empty()) {
      std::reverse(vanished.begin(), vanished.end());
      out += "* VANISHED ";
      proto::write_sequence_set(out, vanished);
      out += "\r\n";
    }
  }
  sel.note_keywords(sel.pending_added);
  if (!sel.pending_added.empty()) {
    std::sort(sel.pending_added.begin(), sel.pending_added.end());
    std::vector<uint32_t> fresh;
    for (uint32_t uid : sel.pending_added) {
      if (!sel.uids.empty() && uid <= sel.uids.back()) continue;  // never out of order
      sel.uids.push_back(uid);
      fresh.push_back(uid);
    }
    if (!rev2_ && !fresh.empty()) {
      auto r = take_recent(sel.name, sel.mailbox->status().uidvalidity, fresh, sel.read_only);
      for (const auto& [lo, hi] : r.ranges())
        for (uint32_t u = lo; u <= hi && u >= lo; ++u) sel.recent.insert(u);
    }
    sel.pending_added.clear();
    proto::untagged_number(out, sel.uids.size(), "EXISTS");
    if (!rev2_) proto::untagged_number(out, sel.recent.size(), "RECENT");
  }
  sel.note_keywords(std::vector<uint32_t>(sel.pending_flags.begin(), sel.pending_flags.end()));
  write_new_keywords(out);
  if (!sel.pending_flags.empty()) {
    // RFC 5465 5.1: with NOTIFY, unsolicited FETCH carries the UID.
    bool with_uid = (current_ && current_->uid) || notify_ != nullptr;
    for (uint32_t uid : sel.pending_flags) {
      uint32_t seq = sel.seq_of(uid);
      const auto* m = sel.meta(uid);
      if (!seq || !m) continue;
      out += "* " + std::to_string(seq) + " FETCH (";
      if (with_uid) out += "UID " + std::to_string(uid) + " ";
      out += "FLAGS ";
      uint32_t flags = m->flags;
      if (!rev2_ && sel.recent.count(uid)) flags |= proto::kFlagRecent;
      proto::write_flag_list(out, flags, m->keywords);
      if (condstore_) out += " MODSEQ (" + std::to_string(m->modseq) + ")";
      out += ")\r\n";
    }
    sel.pending_flags.clear();
  }
  // CONTEXT=SEARCH: ADDTO / REMOVEFROM for new and changed messages.
  if (search_contexts_) announce_search_contexts(*this, out, expunge_allowed, true);
  if (!out.empty()) write(out);
}

void Session::write_new_keywords(std::string& out) {
  if (!selected_ || !selected_->keywords_changed) return;
  auto& sel = *selected_;
  // RFC 9051 7.3.5: a new keyword is announced with FLAGS before it is used.
  std::vector<std::string> kw(sel.keywords.begin(), sel.keywords.end());
  out += "* FLAGS ";
  proto::write_flag_list(out,
                         proto::kFlagSeen | proto::kFlagAnswered | proto::kFlagFlagged |
                             proto::kFlagDeleted | proto::kFlagDraft,
                         kw);
  out += "\r\n";
  if (!sel.read_only) {
    proto::untagged(out, Status::kOk,
                    proto::code_permanentflags(proto::kFlagSeen | proto::kFlagAnswered |
                                                   proto::kFlagFlagged | proto::kFlagDeleted |
                                                   proto::kFlagDraft | proto::kFlagWildcard,
                                               kw),
                    "Flags permitted");
  }
  sel.keywords_changed = false;
}

void Session::finish(Status status, std::string code, std::string text) {
  cmd_timer_.stop();
  if (ended_ || conn().closed()) {
    busy_ = false;
    return;
  }
  bool expunge_allowed = true;
  if (current_ && !current_->uid &&
      (current_->verb == proto::Verb::kFetch || current_->verb == proto::Verb::kStore ||
       current_->verb == proto::Verb::kSearch))
    expunge_allowed = false;
  announce(expunge_allowed);
  if (ended_) return;
  std::string out;
  proto::tagged(out, tag_, status,
                code.empty() ? std::nullopt : std::optional<std::string_view>(code), text, utf8());
  write(out);
  if (state_ == State::kLogout) {
    ended_ = true;
    conn().close();
    return;
  }
  command_done();
}

void Session::command_done() {
  if (notify_ && !ended_) Notifier::command_done(*this);  // NOTIFY (RFC 5465)
  busy_ = false;
  resumed_ = false;
  current_.reset();
  producer_.reset();
  if (ended_ || conn().closed()) return;
  if (shutting_down_) {
    end("Server shutting down");
    return;
  }
  conn().resume_reading();
  pump();
}

void Session::run_store(std::function<void()> work, std::function<void()> done, bool sync) {
  busy_ = true;
  resumed_ = false;
  conn().pause_reading();
  auto self = shared_from_this();
  store::Mailbox* mb = (sync && selected_) ? selected_->mailbox.get() : nullptr;
  auto result = std::make_shared<std::optional<store::Result<store::SyncResult>>>();
  bool queued = conn().offload(
      services_.store_pool(), self,
      [work = std::move(work), mb, result]() {
        work();
        if (mb) *result = mb->sync();
      },
      [this, self, result, mb, done = std::move(done)]() {
        if (mb && selected_ && selected_->mailbox.get() == mb && result->has_value()) {
          synced_ = true;
          if (**result) merge_sync(***result);
        }
        if (ended_) return;
        done();
      });
  if (!queued) {
    complete(Status::kNo, proto::code_name(Code::kUnavailable), "Server busy; try again");
  }
}

void Session::produce(std::function<bool(std::string& out)> step, std::function<void()> then) {
  producer_ = std::make_unique<Producer>();
  producer_->step = std::move(step);
  producer_->then = std::move(then);
  busy_ = true;
  conn().pause_reading();
  produce_step();
}

void Session::produce_step() {
  if (!producer_ || conn().closed()) return;
  auto* p = producer_.get();
  auto self = shared_from_this();
  bool queued = conn().offload(
      services_.store_pool(), self, [p]() { p->more = p->step(p->out); },
      [this, self, p]() {
        if (ended_ || producer_.get() != p) return;
        if (!p->out.empty()) {
          write(p->out);
          p->out.clear();
        }
        if (!p->more) {
          auto then = std::move(p->then);
          then();
          return;
        }
        if (!conn().write_blocked()) produce_step();
        // else on_drained() continues.
      });
  if (!queued) {
    producer_.reset();
    end("Server busy");
  }
}

void Session::on_drained() {
  if (producer_ && busy_) produce_step();
  if (notify_) Notifier::drained(*this);  // NOTIFY (RFC 5465)
}

std::optional<std::string> Session::mailbox_name(const proto::Mailbox& m, std::string* why) const {
  std::string name;
  if (utf8_) {
    if (!core::valid_utf8(m.name)) {
      if (why) *why = "Mailbox name is not valid UTF-8";
      return std::nullopt;
    }
    name = m.name;
  } else {
    auto decoded = core::mutf7_decode(m.name, core::Mutf7Mode::kLenient);
    if (!decoded) {
      if (why) *why = "Mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3)";
      return std::nullopt;
    }
    name = std::move(*decoded);
  }
  // INBOX and its children: the first component is case-insensitive.
  auto slash = name.find('/');
  if (store::is_inbox(std::string_view(name).substr(0, slash))) name.replace(0, 5, "INBOX");
  if (auto v = store::validate_mailbox_name(name); !v) {
    if (why) *why = "Invalid mailbox name: " + v.error().message;
    return std::nullopt;
  }
  return name;
}

void Session::write_mailbox(std::string& out, std::string_view name) const {
  proto::write_mailbox(out, name, utf8());
}

std::vector<uint32_t> Session::resolve(const proto::SequenceSet& set, bool uid, bool* bad) const {
  std::vector<uint32_t> out;
  if (bad) *bad = false;
  if (!selected_) return out;
  const auto& uids = selected_->uids;
  if (set.saved) {
    // "$" (RFC 5182): the saved UIDs the client still knows, whether the
    // command takes UIDs or message numbers (a UID maps to its number).
    for (uint32_t u : saved_result_)
      if (selected_->seq_of(u)) out.push_back(u);
    return out;
  }
  if (uid) {
    uint32_t max = uids.empty() ? 0 : uids.back();
    for (auto [lo, hi] : set.resolve(max)) {
      auto it = std::lower_bound(uids.begin(), uids.end(), lo);
      for (; it != uids.end() && *it <= hi; ++it) out.push_back(*it);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  uint32_t max = static_cast<uint32_t>(uids.size());
  for (const auto& r : set.ranges) {
    if ((r.lo != proto::kStar && (r.lo > max || r.lo == 0)) ||
        (r.hi != proto::kStar && (r.hi > max || r.hi == 0))) {
      if (bad) *bad = true;
    }
  }
  for (auto [lo, hi] : set.resolve(max)) {
    for (uint32_t n = lo; n <= hi && n >= 1 && n <= max; ++n) out.push_back(uids[n - 1]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Session::starttls_available() const {
  return conn().info().tls_mode == core::config::TlsMode::kStartTls && !conn().tls_active() &&
         state_ == State::kNotAuthenticated && rt_->tls != nullptr;
}

bool Session::plaintext_ok(std::string_view address) const {
  return services_.auth().plaintext_ok(address, conn().secure());
}

void Session::start_tls() {
  std::string out;
  proto::tagged(out, tag_, Status::kOk, std::nullopt, "Begin TLS negotiation now");
  write(out);
  // Anything sent after STARTTLS in plaintext is dropped: no command can be
  // injected across the upgrade.
  parser_.clear();
  line_fn_ = nullptr;
  conn().start_tls(rt_->tls);
  services_.registry().set_tls(id());
  command_done();
}

void Session::expect_line(std::function<void(std::string_view)> fn) {
  line_fn_ = std::move(fn);
  parser_.expect_line();
  resume();
}

void Session::login(std::string address, std::string password, std::string mechanism) {
  busy_ = true;
  resumed_ = false;
  conn().pause_reading();
  core::server::AuthService::Attempt a;
  a.address = std::move(address);
  a.password = std::move(password);
  a.protocol = Protocol::kImap;
  a.mechanism = std::move(mechanism);
  auto self = shared_from_this();
  services_.auth().login(self, std::move(a), [this, self](const auto& out) {
    using core::auth::LoginOutcome;
    if (out.busy) {
      return no("Server busy; try again in a minute", proto::code_name(Code::kUnavailable));
    }
    switch (out.decision.outcome) {
      case LoginOutcome::kOk:
        break;
      case LoginOutcome::kUnknownAddress:
      case LoginOutcome::kWrongPassword:
        return no("Authentication failed: wrong address or password",
                  proto::code_name(Code::kAuthenticationFailed));
      case LoginOutcome::kTlsRequired:
        return no(
            "Plaintext login is not allowed without TLS; use STARTTLS on port 143 or port 993",
            proto::code_name(Code::kPrivacyRequired));
      case LoginOutcome::kProtocolDenied:
        return no(
            "IMAP access is disabled for this account; use POP3 or ask your provider to "
            "enable IMAP",
            proto::code_name(Code::kContactAdmin));
      case LoginOutcome::kSuspended:
        return no("This account is suspended; contact your provider",
                  proto::code_name(Code::kContactAdmin));
    }
    if (out.too_many_sessions) {
      return no("Too many connections for this account from your address",
                proto::code_name(Code::kLimit));
    }
    account_ = out.decision.account;
    holds_user_slot_ = true;
    struct Opened {
      store::Result<std::shared_ptr<store::Account>> account =
          core::fail(store::make_error(store::Errc::kIo, "not opened"));
      std::string error;
    };
    auto st = std::make_shared<Opened>();
    auto view = *account_;
    auto& store = services_.store();
    run_store(
        [st, view, &store]() {
          auto at = view.address.rfind('@');
          st->account = store.open_account(view.address.substr(at + 1), view.address.substr(0, at));
          if (!st->account) {
            st->error = st->account.error().message;
            return;
          }
          if (auto r = (*st->account)->ensure_defaults(view.policy.special_use); !r)
            st->error = r.error().message;
        },
        [this, self, st]() {
          if (!st->error.empty()) {
            log::error("error", {{"proto", "imap"},
                                 {"session", id()},
                                 {"user", account_->address},
                                 {"reason", st->error}});
            services_.registry().release_user(account_->address, conn().info().remote_ip);
            holds_user_slot_ = false;
            account_.reset();
            return no("Mailbox temporarily unavailable; try again later",
                      proto::code_name(Code::kUnavailable));
          }
          store_account_ = std::move(*st->account);
          state_ = State::kAuthenticated;
          parser_.set_authenticated(true);
          conn().set_idle_timeout(config().limits.idle_timeout.imap);
          ok("Logged in", proto::code_capability(capabilities()));
        });
  });
}

UidRanges Session::take_recent(const std::string& mailbox, uint32_t uidvalidity,
                               const std::vector<uint32_t>& uids, bool read_only) {
  UidRanges out;
  if (uids.empty()) return out;
  auto& mine = claimed_[mailbox + '\0' + std::to_string(uidvalidity)];
  uint32_t first = read_only ? RecentTracker::peek(address(), mailbox, uidvalidity)
                             : RecentTracker::claim(address(), mailbox, uidvalidity, uids.back());
  for (uint32_t uid : uids) {
    bool fresh = uid >= first;
    // EXAMINE shows only what nobody has claimed; SELECT also what this
    // session claimed before.
    if (fresh || (!read_only && mine.count(uid))) out.insert(uid);
    if (fresh && !read_only) mine.insert(uid);
  }
  return out;
}

void Session::select(std::unique_ptr<store::Mailbox> mailbox, std::string name, bool read_only) {
  selected_ = std::make_unique<Selected>();
  selected_->mailbox = std::move(mailbox);
  selected_->name = std::move(name);
  selected_->read_only = read_only;
  for (const auto& m : selected_->mailbox->messages()) selected_->uids.push_back(m.uid);
  state_ = State::kSelected;
  synced_ = true;
  saved_result_.clear();
  search_contexts_.reset();
}

void Session::set_saved_result(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  saved_result_ = std::move(uids);
}

void Session::unselect() {
  selected_.reset();
  saved_result_.clear();
  search_contexts_.reset();
  if (state_ == State::kSelected) state_ = State::kAuthenticated;
}

void Session::start_idle() {
  idle_ = std::make_unique<Idle>();
  idle_->last_output = std::chrono::steady_clock::now();
  write("+ idling\r\n");
  auto self = shared_from_this();
  std::weak_ptr<Session> weak = self;
  uv_loop_t* loop = conn().worker().loop();
  if (selected_) {
    auto* worker = &conn().worker();
    // In-process changes (other sessions, POP3, delivery in roostd).
    selected_->mailbox->on_change([weak, worker]() {
      worker->post([weak]() {
        if (auto s = weak.lock()) s->idle_wake();
      });
    });
    // Changes by other programs (roost deliver, an MTA or a script writing
    // the Maildir).
    for (const auto& path : selected_->mailbox->watch_paths()) {
      auto* w = new Idle::Watch;
      w->session = weak;
      w->handle.data = w;
      if (uv_fs_event_init(loop, &w->handle) != 0) {
        delete w;
        continue;
      }
      int rc = uv_fs_event_start(
          &w->handle,
          [](uv_fs_event_t* h, const char*, int, int) {
            auto* ctx = static_cast<Idle::Watch*>(h->data);
            if (auto s = ctx->session.lock()) s->idle_wake();
          },
          path.c_str(), 0);
      if (rc != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
                 [](uv_handle_t* h) { delete static_cast<Idle::Watch*>(h->data); });
        continue;
      }
      idle_->watches.push_back(w);
    }
  }
  // One timer: the polling safety net and the keepalive.
  const auto& limits = config().limits;
  auto period = limits.idle_poll.count() > 0 ? limits.idle_poll : limits.idle_keepalive;
  if (limits.idle_keepalive.count() > 0 && limits.idle_keepalive < period)
    period = limits.idle_keepalive;
  if (period.count() > 0) {
    auto* t = new Idle::Tick;
    t->session = weak;
    t->handle.data = t;
    uv_timer_init(loop, &t->handle);
    uv_timer_start(
        &t->handle,
        [](uv_timer_t* h) {
          auto* ctx = static_cast<Idle::Tick*>(h->data);
          if (auto s = ctx->session.lock()) s->idle_tick();
        },
        static_cast<uint64_t>(period.count()), static_cast<uint64_t>(period.count()));
    idle_->tick = t;
  }
  expect_line([this](std::string_view line) { idle_done(line); });
  // Whatever changed between the previous command and now.
  idle_wake();
}

void Session::stop_idle() {
  if (!idle_) return;
  for (auto* w : idle_->watches) {
    uv_fs_event_stop(&w->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
             [](uv_handle_t* h) { delete static_cast<Idle::Watch*>(h->data); });
  }
  idle_->watches.clear();
  if (idle_->tick) {
    uv_timer_stop(&idle_->tick->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_->tick->handle),
             [](uv_handle_t* h) { delete static_cast<Idle::Tick*>(h->data); });
    idle_->tick = nullptr;
  }
  if (selected_) selected_->mailbox->on_change(nullptr);
}

void Session::idle_tick() {
  if (!idle_ || ended_ || conn().closed()) return;
  const auto& limits = config().limits;
  auto now = std::chrono::steady_clock::now();
  // A few milliseconds of slack: the loop's timer clock and steady_clock
  // differ slightly, and a tick that lands just short must not skip a whole
  // keepalive period.
  if (limits.idle_keepalive.count() > 0 &&
      now - idle_->last_output + std::chrono::milliseconds(10) >= limits.idle_keepalive) {
    write("* OK Still here\r\n");
    idle_->last_output = now;
  }
  // One check serves every session on the mailbox: a session whose mailbox
  // another one checked within half a period (and whose view is current)
  // skips its own; a change found by that check wakes it anyway.
  if (limits.idle_poll.count() > 0 && selected_ &&
      selected_->mailbox->poll_due(limits.idle_poll.count() / 2)) {
    idle_wake();
  }
}

void Session::idle_wake() {
  if (!idle_ || !selected_ || ended_ || conn().closed()) return;
  if (idle_->syncing) {
    idle_->again = true;
    return;
  }
  idle_->syncing = true;
  auto* mb = selected_->mailbox.get();
  auto result = std::make_shared<store::Result<store::SyncResult>>(store::SyncResult{});
  auto self = shared_from_this();
  bool queued = conn().offload(
      services_.store_pool(), self, [mb, result]() { *result = mb->sync(); },
      [this, self, mb, result]() {
        if (!idle_) return;
        idle_->syncing = false;
        if (ended_ || !selected_ || selected_->mailbox.get() != mb) return;
        // Only a sync that found changes says anything to the client; a
        // quiet poll must not postpone the keepalive (with the default
        // 30 s poll it would otherwise never be sent).
        bool changed = *result && (!(*result)->added.empty() || !(*result)->expunged.empty() ||
                                   !(*result)->flags_changed.empty());
        if (*result) merge_sync(**result);
        if (ended_) return;
        announce(/*expunge_allowed=*/true);
        if (changed) idle_->last_output = std::chrono::steady_clock::now();
        if (idle_->stopping) {
          auto line = std::move(idle_->done_line);
          idle_->stopping = false;
          return idle_done(line);
        }
        if (idle_->again) {
          idle_->again = false;
          idle_wake();
        }
      });
  if (!queued) idle_->syncing = false;  // the next tick tries again
}

void Session::idle_done(std::string_view line) {
  if (!idle_) return;
  if (idle_->syncing) {
    // Answer after the running sync: one store call at a time per session.
    stop_idle();
    idle_->stopping = true;
    idle_->done_line = std::string(line);
    busy_ = true;
    resumed_ = false;
    conn().pause_reading();
    return;
  }
  stop_idle();
  idle_.reset();
  resumed_ = false;
  if (proto::is_done(line)) return ok("IDLE terminated");
  bad("Expected DONE to end IDLE");
}

void Session::unauthenticate() {
  stop_idle();
  idle_.reset();
  notify_.reset();
  selected_.reset();
  saved_result_.clear();
  if (holds_user_slot_) {
    holds_user_slot_ = false;
    services_.registry().release_user(account_->address, conn().info().remote_ip);
  }
  services_.registry().set_account(id(), "", "");
  log::info("unauthenticate", {{"proto", "imap"}, {"session", id()}, {"user", address()}});
  account_.reset();
  store_account_.reset();
  claimed_.clear();
  condstore_ = false;
  qresync_ = false;
  utf8_ = false;
  rev2_ = false;
  parser_.set_utf8(false);
  state_ = State::kNotAuthenticated;
  parser_.set_authenticated(false);
  conn().set_idle_timeout(config().limits.idle_timeout.preauth);
  ok("Not authenticated any more; log in again");
}

void Session::logout() {
  write("* BYE Logging out\r\n");
  state_ = State::kLogout;
  selected_.reset();
  finish(Status::kOk, "", "Logout completed");
}

void Session::end(std::string_view farewell) {
  if (ended_) return;
  ended_ = true;
  stop_idle();
  line_fn_ = nullptr;
  std::string out;
  proto::untagged(out, Status::kBye, std::nullopt, farewell);
  write(out);
  conn().close();
}

void Session::on_idle_timeout() {
  if (busy_ && !resumed_) {
    conn().set_idle_timeout(config().limits.idle_timeout.imap);
    return;
  }
  end("Autologout; idle for too long");
}

void Session::on_shutdown() {
  shutting_down_ = true;
  // A session waiting for the client (IDLE, an AUTHENTICATE line, APPEND
  // data) has nothing to finish: it ends now. A running store call
  // finishes first (command_done ends the session).
  if (!busy_ || resumed_) end("Server shutting down");
}

void Session::on_kick(std::string_view reason) {
  // A producer step may be running on the pool: it is dropped when it returns.
  end(std::string("Session ended: ") + std::string(reason));
}

void Session::on_closed() {
  ended_ = true;
  stop_idle();
  notify_.reset();
  auto& info = conn().info();
  if (holds_user_slot_) {
    holds_user_slot_ = false;
    services_.registry().release_user(account_->address, info.remote_ip);
  }
  services_.registry().remove(info.id);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  info.started)
                .count();
  log::info("logout", {{"proto", "imap"},
                       {"session", info.id},
                       {"remote", info.remote_ip},
                       {"user", account_ ? account_->address : std::string()},
                       {"bytes_in", conn().bytes_in()},
                       {"bytes_out", conn().bytes_out()},
                       {"duration_ms", static_cast<int64_t>(ms)}});
}

void Session::start_compression() {
  std::string out;
  proto::tagged(out, tag_, Status::kOk, std::nullopt, "DEFLATE active");
  write(out);
  // A client must wait for this OK before it compresses; anything it sent
  // after the command in the meantime was neither plain nor compressed
  // reliably, so it is dropped as for STARTTLS.
  parser_.clear();
  line_fn_ = nullptr;
  if (!conn().start_compression()) {
    // The OK is out, so the client now compresses: nothing sane can follow.
    ended_ = true;
    conn().abort();
    return;
  }
  command_done();
}

}  // namespace imap
