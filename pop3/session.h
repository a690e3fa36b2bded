// A POP3 session (RFC 1939, 2449, 2595, 3206, 5034): the state machine over
// the pure parser in pop3/proto, with one file per command in pop3/commands/.
// It owns the maildrop while logged in: a snapshot of INBOX taken at login
// (mail delivered later shows up in the next session), the deletion marks,
// and the POP3 lease that makes a second session get [IN-USE].
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics/metrics.h"
#include "core/net/connection.h"
#include "core/server/services.h"
#include "pop3/proto/parser.h"
#include "store/store.h"

namespace pop3 {

enum class State { kAuthorization, kTransaction, kUpdate };
const char* state_name(State s);

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
  struct Message {
    uint32_t uid = 0;
    uint64_t size = 0;
    std::string uidl;
    bool deleted = false;
  };

  State state() const { return state_; }
  core::server::Services& services() { return services_; }
  const core::server::Runtime& runtime() const { return *rt_; }
  const core::config::Config& config() const { return rt_->config(); }

  void ok(std::string_view text);
  void err(std::string_view text);
  // A multi-line response: "+OK first\r\n", lines, ".\r\n" (dot-stuffed).
  void multiline(std::string_view first, const std::vector<std::string>& lines);
  void write(std::string_view raw);

  // Whether plaintext credentials may be sent now (TLS, trusted network, or
  // policy for this address allows it).
  bool plaintext_ok(std::string_view address) const;
  bool stls_available() const;

  // Authentication flow shared by PASS and AUTH.
  std::string& pending_user() { return pending_user_; }
  void login(std::string address, std::string password, std::string mechanism);
  // SASL continuation: the next line goes to `fn` instead of the command parser.
  void expect_sasl_line(std::function<void(std::string_view)> fn);

  // The maildrop (TRANSACTION state).
  std::vector<Message>& messages() { return messages_; }
  // Resolves a message-number argument; writes the -ERR itself on failure.
  Message* message_arg(std::string_view arg, bool allow_deleted = false);
  store::Mailbox& inbox() { return *inbox_; }
  const core::config::Policy& policy() const { return account_->policy; }

  // Runs `work` on the store pool with input paused; `done` back on the loop.
  void run_store(std::function<void()> work, std::function<void()> done);
  // Streams a message (RETR, TOP): body_lines < 0 = whole message.
  void send_message(const Message& m, int64_t body_lines, bool mark_seen);

  void start_tls();
  void quit();
  // Ends the session without entering UPDATE (nothing is deleted).
  void end(std::string_view farewell);
  void count_bad_command();

 private:
  void pump();
  void handle_line(std::string line);
  void open_maildrop();
  void stream_next_chunk();
  void send_chunk();
  void command_done();

  core::server::Services& services_;
  std::shared_ptr<const core::server::Runtime> rt_;
  proto::LineReader reader_;
  State state_ = State::kAuthorization;
  bool busy_ = false;  // a command is still running (store call, stream, auth)
  bool shutting_down_ = false;
  bool ended_ = false;
  bool holds_user_slot_ = false;  // one of connections_per_user_ip
  uint32_t bad_commands_ = 0;
  core::metrics::CommandTimer cmd_timer_;  // roost_command_duration_seconds
  uint32_t too_long_ = 0;
  std::string pending_user_;
  std::function<void(std::string_view)> sasl_;

  std::optional<core::config::AccountView> account_;
  std::shared_ptr<store::Account> store_account_;
  std::unique_ptr<store::Lease> lease_;
  std::unique_ptr<store::Mailbox> inbox_;
  std::vector<Message> messages_;

  // The message being streamed.
  struct Stream {
    std::unique_ptr<store::MessageStream> source;
    proto::DotStuffer stuffer;
    std::string chunk;
    bool eof = false;
    bool failed = false;
  };
  std::unique_ptr<Stream> stream_;
  static void fill_chunk(Stream* st);
};

// The command table: verb, handler, the states it is valid in.
using Handler = void (*)(Session&, const proto::Command&);
struct CommandSpec {
  proto::Verb verb;
  Handler handler;
  bool in_authorization;
  bool in_transaction;
};
const CommandSpec* find_command(proto::Verb verb);

}  // namespace pop3
