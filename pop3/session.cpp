#include "pop3/session.h"

#include <algorithm>

#include "core/log/log.h"
#include "core/tls/tls.h"

namespace pop3 {

using core::config::Protocol;
namespace log = core::log;

const char* state_name(State s) {
  switch (s) {
    case State::kAuthorization:
      return "AUTHORIZATION";
    case State::kTransaction:
      return "TRANSACTION";
    case State::kUpdate:
      return "UPDATE";
  }
  return "?";
}

Session::Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt)
    : services_(services), rt_(std::move(rt)), reader_(rt_->config().limits.line_length_preauth) {}

Session::~Session() = default;

void Session::on_start() {
  conn().set_idle_timeout(config().limits.idle_timeout.preauth);
  log::info("connect", {{"proto", "pop3"},
                        {"session", conn().info().id},
                        {"remote", conn().info().remote_ip},
                        {"port", conn().info().local_port}});
  ok("Roost POP3 server ready");
}

void Session::write(std::string_view raw) {
  conn().write(raw);
}

void Session::ok(std::string_view text) {
  std::string line = "+OK ";
  line += text;
  line += "\r\n";
  write(line);
}

void Session::err(std::string_view text) {
  std::string line = "-ERR ";
  line += text;
  line += "\r\n";
  write(line);
}

void Session::multiline(std::string_view first, const std::vector<std::string>& lines) {
  std::string out = "+OK ";
  out += first;
  out += "\r\n";
  for (const auto& l : lines) {
    if (!l.empty() && l[0] == '.') out += '.';
    out += l;
    out += "\r\n";
  }
  out += ".\r\n";
  write(out);
}

void Session::on_data(std::string_view bytes) {
  if (ended_) return;
  reader_.feed(bytes);
  pump();
}

void Session::pump() {
  auto self = shared_from_this();
  while (!busy_ && !ended_ && !conn().closed()) {
    auto ev = reader_.next();
    if (!ev) break;
    if (ev->kind == proto::LineReader::Event::Kind::kTooLong) {
      sasl_ = nullptr;
      if (++too_long_ >= 2) {
        end("[SYS/PERM] Line too long again; closing connection");
        return;
      }
      err("Line too long");
      continue;
    }
    handle_line(std::move(ev->line));
  }
}

void Session::count_bad_command() {
  if (++bad_commands_ >= config().limits.bad_commands) {
    end("Too many bad commands; closing connection");
  }
}

void Session::handle_line(std::string line) {
  if (sasl_) {
    auto fn = std::move(sasl_);
    sasl_ = nullptr;
    fn(line);
    return;
  }
  auto cmd = proto::parse_command(line);
  if (!cmd) {
    err("Empty or malformed command");
    count_bad_command();
    return;
  }
  const CommandSpec* spec = find_command(cmd->verb);
  // Metrics: names from the command table only ("other" for the rest).
  cmd_timer_.start("pop3", spec ? cmd->keyword : std::string("other"));
  if (!spec) {
    cmd_timer_.stop();
    err("Unknown command: " + cmd->keyword.substr(0, 10));
    count_bad_command();
    return;
  }
  bool allowed = (state_ == State::kAuthorization && spec->in_authorization) ||
                 (state_ == State::kTransaction && spec->in_transaction);
  if (!allowed) {
    cmd_timer_.stop();
    err(cmd->keyword + " is not valid in the " + state_name(state_) + " state");
    count_bad_command();
    return;
  }
  spec->handler(*this, *cmd);
  if (!busy_) cmd_timer_.stop();  // answered at once; else in command_done()
}

bool Session::stls_available() const {
  return conn().info().tls_mode == core::config::TlsMode::kStartTls && !conn().tls_active() &&
         state_ == State::kAuthorization;
}

bool Session::plaintext_ok(std::string_view address) const {
  return services_.auth().plaintext_ok(address, conn().secure());
}

void Session::expect_sasl_line(std::function<void(std::string_view)> fn) {
  sasl_ = std::move(fn);
}

void Session::login(std::string address, std::string password, std::string mechanism) {
  busy_ = true;
  conn().pause_reading();
  core::server::AuthService::Attempt a;
  a.address = std::move(address);
  a.password = std::move(password);
  a.protocol = Protocol::kPop3;
  a.mechanism = std::move(mechanism);
  auto self = shared_from_this();
  services_.auth().login(self, std::move(a), [this, self](const auto& out) {
    using core::auth::LoginOutcome;
    if (out.busy) {
      err("[SYS/TEMP] Server busy; try again in a minute");
      return command_done();
    }
    switch (out.decision.outcome) {
      case LoginOutcome::kOk:
        break;
      case LoginOutcome::kUnknownAddress:
      case LoginOutcome::kWrongPassword:
        err("[AUTH] Authentication failed: wrong address or password");
        return command_done();
      case LoginOutcome::kTlsRequired:
        err("[AUTH] Plaintext login is not allowed without TLS; use STLS or port 995");
        return command_done();
      case LoginOutcome::kProtocolDenied:
        err("[SYS/PERM] POP3 access is disabled for this account; use IMAP or ask your "
            "provider to enable POP3");
        return command_done();
      case LoginOutcome::kSuspended:
        err("[SYS/PERM] This account is suspended; contact your provider");
        return command_done();
    }
    if (out.too_many_sessions) {
      err("[SYS/TEMP] Too many connections for this account from your address");
      return command_done();
    }
    account_ = out.decision.account;
    holds_user_slot_ = true;
    open_maildrop();
  });
}

void Session::open_maildrop() {
  struct Opened {
    store::Result<std::shared_ptr<store::Account>> account =
        core::fail(store::make_error(store::Errc::kIo, "not opened"));
    std::unique_ptr<store::Lease> lease;
    std::unique_ptr<store::Mailbox> inbox;
    std::string error;
    bool locked = false;
  };
  auto st = std::make_shared<Opened>();
  auto view = *account_;
  auto& store = services_.store();
  auto self = shared_from_this();
  auto work = [st, view, &store]() {
    auto at = view.address.rfind('@');
    st->account = store.open_account(view.address.substr(at + 1), view.address.substr(0, at));
    if (!st->account) {
      st->error = st->account.error().message;
      return;
    }
    auto& acct = **st->account;
    if (auto r = acct.ensure_defaults(view.policy.special_use); !r) {
      st->error = r.error().message;
      return;
    }
    auto lease = acct.try_lease("pop3");
    if (!lease) {
      if (lease.error().code == store::Errc::kLocked) {
        st->locked = true;
      } else {
        st->error = lease.error().message;
      }
      return;
    }
    st->lease = std::move(*lease);
    auto mb = acct.open_mailbox("INBOX");
    if (!mb) {
      st->error = mb.error().message;
      return;
    }
    if (auto s = (*mb)->sync(); !s) {
      st->error = s.error().message;
      return;
    }
    st->inbox = std::move(*mb);
  };
  auto done = [this, self, st]() {
    if (st->locked || !st->error.empty()) {
      services_.registry().release_user(account_->address, conn().info().remote_ip);
      holds_user_slot_ = false;
      if (st->locked) {
        err("[IN-USE] Another POP3 session of this account is active; try again later");
      } else {
        log::error("error", {{"proto", "pop3"},
                             {"session", conn().info().id},
                             {"user", account_->address},
                             {"reason", st->error}});
        err("[SYS/TEMP] Mailbox temporarily unavailable; try again later");
      }
      account_.reset();
      return command_done();
    }
    store_account_ = std::move(*st->account);
    lease_ = std::move(st->lease);
    inbox_ = std::move(st->inbox);
    uint64_t total = 0;
    for (const auto& m : inbox_->messages()) {
      if (m.hidden) continue;
      messages_.push_back(Message{m.uid, m.size, m.uidl, false});
      total += m.size;
    }
    state_ = State::kTransaction;
    reader_.set_max_line(config().limits.line_length);
    conn().set_idle_timeout(config().limits.idle_timeout.pop3);
    ok("Logged in; " + std::to_string(messages_.size()) + " messages (" + std::to_string(total) +
       " octets)");
    command_done();
  };
  run_store(std::move(work), std::move(done));
}

void Session::run_store(std::function<void()> work, std::function<void()> done) {
  busy_ = true;
  conn().pause_reading();
  auto self = shared_from_this();
  bool queued = conn().offload(services_.store_pool(), self, std::move(work), std::move(done));
  if (!queued) {
    err("[SYS/TEMP] Server busy; try again");
    command_done();
  }
}

void Session::command_done() {
  cmd_timer_.stop();
  busy_ = false;
  if (ended_ || conn().closed()) return;
  if (shutting_down_ && state_ != State::kUpdate) {
    end("[SYS/TEMP] Server shutting down; nothing was deleted");
    return;
  }
  conn().resume_reading();
  pump();
}

Session::Message* Session::message_arg(std::string_view arg, bool allow_deleted) {
  auto n = proto::parse_number(arg);
  if (!n || *n == 0 || *n > messages_.size()) {
    err("No such message");
    return nullptr;
  }
  Message& m = messages_[*n - 1];
  if (m.deleted && !allow_deleted) {
    err("Message " + std::to_string(*n) + " is deleted");
    return nullptr;
  }
  return &m;
}

// On the store pool: reads until the chunk is full or the message ends, so a
// message smaller than a chunk is opened, read and known to be complete in
// one trip to the pool rather than three.
void Session::fill_chunk(Stream* st) {
  constexpr size_t kChunk = 128 * 1024;
  st->chunk.resize(kChunk);
  size_t got = 0;
  while (got < kChunk) {
    auto r = st->source->read(st->chunk.data() + got, kChunk - got);
    if (!r) {
      st->failed = true;
      st->chunk.clear();
      return;
    }
    if (*r == 0) {
      st->eof = true;
      break;
    }
    got += *r;
  }
  st->chunk.resize(got);
}

void Session::send_message(const Message& m, int64_t body_lines, bool mark_seen) {
  stream_ = std::make_unique<Stream>();
  if (body_lines >= 0) stream_->stuffer = proto::DotStuffer(static_cast<uint64_t>(body_lines));
  auto st = stream_.get();
  uint32_t uid = m.uid;
  uint64_t size = m.size;
  auto self = shared_from_this();
  auto* inbox = inbox_.get();
  auto work = [st, uid, inbox, mark_seen]() {
    auto r = inbox->open_message(uid);
    if (!r) {
      st->failed = true;
      return;
    }
    st->source = std::move(*r);
    if (mark_seen) {
      store::FlagChange ch;
      ch.op = store::FlagOp::kAdd;
      ch.flags = store::kSeen;
      uint32_t u = uid;
      (void)inbox->store_flags(std::span<const uint32_t>(&u, 1), ch);
    }
    fill_chunk(st);
  };
  auto done = [this, self, st, size, body_lines]() {
    if (st->failed) {
      stream_.reset();
      err("[SYS/TEMP] Message could not be read; try again later");
      return command_done();
    }
    if (body_lines >= 0) {
      ok("Top of message follows");
    } else {
      ok(std::to_string(size) + " octets");
    }
    busy_ = true;
    send_chunk();
  };
  run_store(std::move(work), std::move(done));
}

void Session::stream_next_chunk() {
  if (!stream_ || conn().closed()) return;
  auto st = stream_.get();
  auto self = shared_from_this();
  auto work = [st]() { fill_chunk(st); };
  auto done = [this, self]() { send_chunk(); };
  busy_ = true;
  if (!conn().offload(services_.store_pool(), self, std::move(work), std::move(done))) {
    stream_.reset();
    end("[SYS/TEMP] Server busy");
  }
}

// On the loop: sends the chunk just read (dot-stuffed) and asks for the next
// one, or ends the response.
void Session::send_chunk() {
  if (!stream_ || conn().closed()) return;
  auto st = stream_.get();
  if (st->failed) {
    // Half a message was sent: the only honest thing left is to hang up.
    log::error("error", {{"proto", "pop3"},
                         {"session", conn().info().id},
                         {"reason", "message read failed mid-stream"}});
    stream_.reset();
    end("[SYS/TEMP] Message could not be read");
    return;
  }
  std::string out;
  bool more = st->stuffer.feed(st->chunk, &out) && !st->eof;
  if (!more) {
    st->stuffer.finish(&out);
    write(out);
    stream_.reset();
    return command_done();
  }
  write(out);
  if (!conn().write_blocked()) stream_next_chunk();
  // else on_drained() continues.
}

void Session::on_drained() {
  if (stream_ && busy_) stream_next_chunk();
}

void Session::start_tls() {
  ok("Begin TLS negotiation now");
  // Anything the client sent after STLS was sent in plaintext: drop it, so
  // no command can be injected across the upgrade.
  reader_.clear();
  sasl_ = nullptr;
  conn().start_tls(rt_->tls);
  services_.registry().set_tls(conn().info().id);
}

void Session::quit() {
  if (state_ == State::kAuthorization) {
    ended_ = true;
    ok("Bye");
    conn().close();
    return;
  }
  state_ = State::kUpdate;
  std::vector<uint32_t> uids;
  for (const auto& m : messages_)
    if (m.deleted) uids.push_back(m.uid);
  auto on_delete = policy().pop3.on_delete;
  std::string archive = policy().special_use.archive;
  auto* inbox = inbox_.get();
  auto failure = std::make_shared<std::string>();
  auto self = shared_from_this();
  auto work = [inbox, uids, on_delete, archive, failure]() {
    if (uids.empty()) return;
    using core::config::OnDelete;
    store::Result<void> r;
    switch (on_delete) {
      case OnDelete::kExpunge:
        r = inbox->expunge(uids);
        break;
      case OnDelete::kHide:
        r = inbox->set_hidden(uids, true);
        break;
      case OnDelete::kArchive: {
        uint32_t uv = 0;
        auto c = inbox->copy_to(uids, archive, /*move=*/true, &uv);
        if (!c) r = core::fail(c.error());
        break;
      }
    }
    if (!r) *failure = r.error().message;
  };
  auto done = [this, self, uids, failure]() {
    cmd_timer_.stop();
    ended_ = true;
    if (!failure->empty()) {
      log::error("error", {{"proto", "pop3"},
                           {"session", conn().info().id},
                           {"user", account_->address},
                           {"reason", *failure}});
      err("[SYS/TEMP] Some deleted messages could not be removed");
    } else {
      ok("Bye; " + std::to_string(uids.size()) + " messages deleted");
    }
    busy_ = false;
    conn().close();
  };
  run_store(std::move(work), std::move(done));
}

void Session::end(std::string_view farewell) {
  if (ended_) return;
  ended_ = true;
  sasl_ = nullptr;
  err(farewell);
  conn().close();
}

void Session::on_idle_timeout() {
  if (busy_) {
    conn().set_idle_timeout(config().limits.idle_timeout.pop3);
    return;
  }
  // RFC 1939: an autologout never enters the UPDATE state.
  end("Autologout: idle for too long; nothing was deleted");
}

void Session::on_shutdown() {
  shutting_down_ = true;
  if (!busy_) end("[SYS/TEMP] Server shutting down; nothing was deleted");
}

void Session::on_kick(std::string_view reason) {
  if (state_ == State::kUpdate) return;  // let the QUIT finish
  stream_.reset();
  end(std::string("[SYS/PERM] Session ended: ") + std::string(reason));
}

void Session::on_closed() {
  ended_ = true;
  auto& info = conn().info();
  if (holds_user_slot_) {
    holds_user_slot_ = false;
    services_.registry().release_user(account_->address, info.remote_ip);
  }
  services_.registry().remove(info.id);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  info.started)
                .count();
  log::info("logout", {{"proto", "pop3"},
                       {"session", info.id},
                       {"remote", info.remote_ip},
                       {"user", account_ ? account_->address : std::string()},
                       {"bytes_in", conn().bytes_in()},
                       {"bytes_out", conn().bytes_out()},
                       {"duration_ms", static_cast<int64_t>(ms)}});
}

}  // namespace pop3
