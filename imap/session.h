// An IMAP session (RFC 3501 / RFC 9051): the state machine over the pure
// parser in imap/proto, with one file per command in imap/commands/.
//
// One command runs at a time. A handler either answers at once with
// complete(), or runs store work on the store pool (run_store / produce) and
// calls complete() from its callback. complete() first brings the selected
// mailbox up to date (store sync) and announces what other sessions changed
// (EXISTS, EXPUNGE, FETCH FLAGS) where RFC 9051 allows it, then writes the
// tagged answer and reads the next command.
//
// Sequence numbers belong to the session: `Selected::uids` maps message
// number -> UID as the client knows it. A message expunged elsewhere keeps
// its number until the session may announce the EXPUNGE.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics/metrics.h"
#include "core/net/connection.h"
#include "core/server/services.h"
#include "imap/proto/command.h"
#include "imap/proto/parser.h"
#include "imap/proto/writer.h"
#include "imap/recent.h"
#include "store/store.h"

namespace imap {

enum class State { kNotAuthenticated, kAuthenticated, kSelected, kLogout };

// CONTEXT=SEARCH (RFC 5267) update contexts of a session (search_context.cpp).
struct SearchContexts;
const char* state_name(State s);

// NOTIFY (RFC 5465) state of a session, and its machinery (commands/notify.cpp).
struct NotifyState;
class Notifier;

// The open mailbox of a session in the selected state.
struct Selected {
  std::unique_ptr<store::Mailbox> mailbox;
  std::string name;  // UTF-8, as the store spells it
  bool read_only = false;
  // Message number - 1 -> UID, ascending: what the client has been told.
  std::vector<uint32_t> uids;
  // UIDs the store no longer has but the client has not been told about.
  std::vector<uint32_t> pending_expunge;
  // UIDs whose flags changed elsewhere, not yet announced.
  std::set<uint32_t> pending_flags;
  // UIDs that arrived while this session had the mailbox selected (\Recent
  // for this session only; see docs/IMAP.md).
  UidRanges recent;
  // UIDs that arrived elsewhere, not yet announced with EXISTS.
  std::vector<uint32_t> pending_added;
  // Keywords the client has been told about (FLAGS / PERMANENTFLAGS).
  std::set<std::string> keywords;
  bool keywords_changed = false;
  // Notes keywords of these messages that the client does not know yet.
  void note_keywords(const std::vector<uint32_t>& uids);

  // Message number of a UID (1-based), or 0 when the client does not know it.
  uint32_t seq_of(uint32_t uid) const;
  // The store's metadata of a UID, or nullptr when it is gone (expunged
  // elsewhere, not announced yet).
  const store::MessageMeta* meta(uint32_t uid) const;
  // The same for callers walking ascending UIDs: `hint` (start at 0) keeps
  // the last position, so a pass over the whole mailbox is linear.
  uint32_t seq_near(uint32_t uid, size_t& hint) const;
  const store::MessageMeta* meta_near(uint32_t uid, size_t& hint) const;
};

class Session : public core::net::Session, public std::enable_shared_from_this<Session> {
 public:
  Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt);
  ~Session() override;

  // core::net::Session
  void on_start() override;
  void on_data(std::string_view bytes) override;
  void on_drained() override;
  void on_idle_timeout() override;
  void on_shutdown() override;
  void on_kick(std::string_view reason) override;
  void on_closed() override;

  // ---- for the command handlers -------------------------------------------
  State state() const { return state_; }
  core::server::Services& services() { return services_; }
  const core::config::Config& config() const { return rt_->config(); }
  // The logged-in account's policy and address (authenticated states only).
  const core::config::Policy& policy() const { return account_->policy; }
  const std::string& address() const { return account_->address; }
  store::Account& account() { return *store_account_; }
  std::shared_ptr<store::Account> account_ptr() { return store_account_; }
  Selected& selected() { return *selected_; }
  bool has_selected() const { return selected_ != nullptr; }

  // UTF8=ACCEPT or IMAP4rev2 enabled: names and strings go out as UTF-8.
  proto::Utf8Mode utf8() const { return utf8_ ? proto::Utf8Mode::kOn : proto::Utf8Mode::kOff; }
  bool rev2() const { return rev2_; }
  // CONDSTORE (RFC 7162) is on once the client used a CONDSTORE-enabling
  // command: unsolicited FETCH responses then carry MODSEQ.
  bool condstore() const { return condstore_; }
  void enable_condstore() { condstore_ = true; }
  // QRESYNC (RFC 7162) is on after ENABLE QRESYNC (which implies CONDSTORE):
  // expunges are announced with VANISHED instead of EXPUNGE.
  bool qresync() const { return qresync_; }
  void enable_qresync() {
    qresync_ = true;
    condstore_ = true;
  }
  // ENABLE bookkeeping (ENABLE handler).
  void enable_utf8() { utf8_ = true; }
  void enable_rev2() { rev2_ = true; }
  // The CAPABILITY list for the current state, space separated.
  std::string capabilities() const;

  // Appends "* FLAGS" and PERMANENTFLAGS when messages gained keywords the
  // client has not been told about (Selected::note_keywords).
  void write_new_keywords(std::string& out);

  // Raw output (untagged data the handler formats itself).
  void write(std::string_view raw);
  bool write_blocked() const { return conn().write_blocked(); }

  // Ends the current command: sync and announce (selected state), then the
  // tagged line, then the next command. `code` without brackets.
  void complete(proto::Status status, std::optional<std::string_view> code, std::string_view text);
  void ok(std::string_view text, std::optional<std::string_view> code = std::nullopt) {
    complete(proto::Status::kOk, code, text);
  }
  void no(std::string_view text, std::optional<std::string_view> code = std::nullopt) {
    complete(proto::Status::kNo, code, text);
  }
  void bad(std::string_view text, std::optional<std::string_view> code = std::nullopt) {
    complete(proto::Status::kBad, code, text);
  }
  // Answers a store error with the right response code (NONEXISTENT,
  // ALREADYEXISTS, CANNOT, OVERQUOTA, INUSE, SERVERBUG...), logging I/O errors.
  void fail(const store::Error& e, std::string_view what);
  // The command being answered (valid until complete()).
  const proto::Command& command() const { return *current_; }
  const std::string& tag() const { return tag_; }

  // Runs `work` on the store pool (input paused); in the selected state the
  // mailbox is synced in the same job unless `sync` is false. `done` runs on
  // the loop afterwards.
  void run_store(std::function<void()> work, std::function<void()> done, bool sync = true);
  // Lets the parser deliver the next event while the current command is still
  // in progress (APPEND literal data, AUTHENTICATE lines).
  void resume();
  // Streams a long answer: `step` runs on the store pool, appends output and
  // returns true while there is more; output is written between steps with
  // back-pressure. `then` runs on the loop after the last step.
  void produce(std::function<bool(std::string& out)> step, std::function<void()> then);

  // A client-sent mailbox name as the store spells it: modified UTF-7 (or
  // UTF-8 after ENABLE) decoded, any case of INBOX made "INBOX", validated.
  // On failure returns nullopt and sets *why (for NO [CANNOT]).
  std::optional<std::string> mailbox_name(const proto::Mailbox& m, std::string* why) const;
  // Writes a store name for the client (modified UTF-7 or UTF-8).
  void write_mailbox(std::string& out, std::string_view name) const;

  // Message set arguments: the UIDs the set names that the client knows, in
  // ascending order. `uid`: the set holds UIDs (UID commands), else message
  // numbers. Numbers beyond the mailbox are dropped; for message numbers
  // *bad is set when any number is 0 or above the message count.
  std::vector<uint32_t> resolve(const proto::SequenceSet& set, bool uid, bool* bad = nullptr) const;

  // SEARCHRES (RFC 5182): the result saved by SEARCH RETURN (SAVE), as
  // ascending UIDs, that "$" stands for. Empty after SELECT / EXAMINE /
  // CLOSE / UNSELECT; expunged messages leave it when the EXPUNGE is sent.
  // resolve() substitutes it for "$" in UID and message-number sets alike.
  const std::vector<uint32_t>& saved_result() const { return saved_result_; }
  void set_saved_result(std::vector<uint32_t> uids);

  // Login flow shared by LOGIN and AUTHENTICATE.
  void login(std::string address, std::string password, std::string mechanism);
  // Whether plaintext credentials may be sent now.
  bool plaintext_ok(std::string_view address = {}) const;
  bool starttls_available() const;
  void start_tls();
  // COMPRESS DEFLATE: the tagged OK goes out uncompressed, then the
  // connection compresses both ways (RFC 4978), then the next command.
  void start_compression();
  // AUTHENTICATE continuation: the next line goes to `fn`.
  void expect_line(std::function<void(std::string_view)> fn);

  // \Recent (IMAP4rev1): of these UIDs of a mailbox, the ones recent for
  // this session; read-write sessions claim the ones no session has seen.
  UidRanges take_recent(const std::string& mailbox, uint32_t uidvalidity,
                        const std::vector<uint32_t>& uids, bool read_only);

  // Enters the selected state with an opened, synced mailbox (SELECT /
  // EXAMINE), or leaves it (CLOSE / UNSELECT / failed SELECT).
  void select(std::unique_ptr<store::Mailbox> mailbox, std::string name, bool read_only);
  void unselect();

  // IDLE (RFC 2177): "+ idling", then changes are pushed as they happen
  // (store change callbacks, file watchers on the mailbox's directories, a
  // slow poll as a safety net) with a keepalive, until the client sends DONE.
  void start_idle();

  // UNAUTHENTICATE (RFC 8437): back to the not authenticated state on the
  // same connection (TLS and compression stay on).
  void unauthenticate();

  // LOGOUT: "* BYE", then the tagged OK, then close.
  void logout();
  void count_bad_command();

  // The command parser (APPEND and AUTHENTICATE answer its literal and line
  // requests).
  proto::Parser& parser() { return parser_; }

  // The session id used in logs.
  const std::string& id() const { return conn().info().id; }

  // APPEND streaming (imap/commands/append.cpp drives these events).
  struct AppendState;

 private:
  void pump();
  void dispatch(proto::Command cmd);
  void on_event(proto::Event& ev);
  void finish(proto::Status status, std::string code, std::string text);
  void announce(bool expunge_allowed);
  void merge_sync(const store::SyncResult& r);
  void command_done();
  void produce_step();
  void end(std::string_view farewell);
  void idle_wake();
  void idle_tick();
  void stop_idle();
  void idle_done(std::string_view line);

  core::server::Services& services_;
  std::shared_ptr<const core::server::Runtime> rt_;
  proto::Parser parser_;
  State state_ = State::kNotAuthenticated;
  bool busy_ = false;
  bool resumed_ = false;  // busy, but the parser may deliver the command's next event
  bool in_pump_ = false;
  bool ended_ = false;
  bool shutting_down_ = false;
  bool holds_user_slot_ = false;
  bool utf8_ = false;
  bool rev2_ = false;
  bool condstore_ = false;
  bool qresync_ = false;
  bool synced_ = false;  // the selected mailbox was synced during this command
  uint32_t bad_commands_ = 0;
  core::metrics::CommandTimer cmd_timer_;  // roost_command_duration_seconds
  uint32_t too_long_ = 0;
  std::optional<proto::Command> current_;
  std::string tag_;
  std::function<void(std::string_view)> line_fn_;

  std::optional<core::config::AccountView> account_;
  std::shared_ptr<store::Account> store_account_;
  std::unique_ptr<Selected> selected_;
  std::vector<uint32_t> saved_result_;  // SEARCHRES "$", ascending UIDs
  std::shared_ptr<store::SyncResult> last_sync_;
  // UIDs this session claimed as \Recent, per mailbox and UIDVALIDITY: a
  // message stays recent for the session that first saw it, also when it
  // selects the mailbox again.
  std::map<std::string, UidRanges> claimed_;

  struct Producer {
    std::function<bool(std::string&)> step;
    std::function<void()> then;
    std::string out;
    bool more = true;
  };
  std::unique_ptr<Producer> producer_;

  struct Idle;
  std::unique_ptr<Idle> idle_;

 public:
  std::shared_ptr<AppendState> append_;  // APPEND in progress (append.cpp)
  // NOTIFY SET in force (commands/notify.cpp); null without NOTIFY or after
  // NOTIFY NONE. Notifier reaches the session's internals.
  std::shared_ptr<NotifyState> notify_;
  friend class Notifier;
  // SEARCH RETURN (UPDATE) contexts of the selected mailbox (search_context.cpp);
  // null when there are none. Dropped by select() / unselect().
  std::shared_ptr<SearchContexts> search_contexts_;
};

// The command table: verb, handler, the states it is valid in.
using Handler = void (*)(Session&, const proto::Command&);
struct CommandSpec {
  proto::Verb verb;
  Handler handler;
  bool not_authenticated;
  bool authenticated;
  bool selected;
};
const CommandSpec* find_command(proto::Verb verb);

// APPEND is streamed by the parser rather than delivered as a Command.
void append_begin(Session& s, const proto::AppendBegin& b);
void append_chunk(Session& s, std::string bytes);
void append_end(Session& s, bool last);
void append_abort(Session& s);
// CATENATE parts (RFC 4469) of the message begun by append_begin.
void append_text(Session& s, const proto::CatenateText& t);
void append_url(Session& s, const proto::CatenateUrl& u);

}  // namespace imap
