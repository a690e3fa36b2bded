#include "lmtp/session.h"

#include <filesystem>

#include "core/log/log.h"

namespace lmtp {

namespace log = core::log;
using proto::Verb;

namespace {

std::string_view or_dash(const std::string& s) {
  return s.empty() ? std::string_view("-") : std::string_view(s);
}

}  // namespace

Session::Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt)
    : services_(services), rt_(std::move(rt)), parser_(rt_->config().limits.line_length_preauth) {}

Session::~Session() = default;

uint64_t Session::max_size() const {
  return config().limits.literal_size;
}

void Session::on_start() {
  conn().set_idle_timeout(config().limits.idle_timeout.lmtp);
  log::info("connect", {{"proto", "lmtp"},
                        {"session", conn().info().id},
                        {"remote", conn().info().remote_ip},
                        {"port", conn().info().local_port}});
  reply("220 " + config().server.hostname + " Roost LMTP ready");
}

void Session::reply(std::string_view line) {
  std::string out(line);
  out += "\r\n";
  conn().write(out);
}

void Session::end(std::string_view line) {
  if (ended_) return;
  ended_ = true;
  spool_.reset();
  reply(line);
  conn().close();
}

void Session::count_bad_command() {
  if (++bad_commands_ >= config().limits.bad_commands) {
    end("421 4.7.0 " + config().server.hostname + " Too many errors; closing connection");
  }
}

void Session::on_data(std::string_view bytes) {
  if (ended_) return;
  parser_.feed(bytes);
  pump();
}

void Session::pump() {
  auto self = shared_from_this();
  while (!busy_ && !ended_ && !conn().closed()) {
    auto ev = parser_.next();
    if (!ev) break;
    using Kind = proto::Parser::Event::Kind;
    switch (ev->kind) {
      case Kind::kLine:
        handle_line(ev->bytes);
        break;
      case Kind::kTooLong:
        reply("500 5.5.2 Line too long");
        count_bad_command();
        break;
      case Kind::kContent:
        on_content(ev->bytes);
        break;
      case Kind::kDataEnd:
        receiving_ = Receiving::kNone;
        deliver_message();
        break;
      case Kind::kChunkEnd:
        on_chunk_end();
        break;
    }
  }
  if (!busy_ && !ended_ && shutting_down_ && receiving_ == Receiving::kNone) {
    end("421 4.3.2 " + config().server.hostname + " Server shutting down");
  }
}

void Session::handle_line(const std::string& line) {
  auto cmd = proto::parse_command(line);
  if (!cmd) {
    reply("500 5.5.2 Syntax error");
    count_bad_command();
    return;
  }
  switch (cmd->verb) {
    case Verb::kLhlo:
      return cmd_lhlo(*cmd);
    case Verb::kHelo:
    case Verb::kEhlo:
      reply("500 5.5.1 This is an LMTP server: use LHLO");
      return count_bad_command();
    case Verb::kMail:
      return cmd_mail(*cmd);
    case Verb::kRcpt:
      return cmd_rcpt(*cmd);
    case Verb::kData:
      return cmd_data(*cmd);
    case Verb::kBdat:
      return cmd_bdat(*cmd);
    case Verb::kRset:
      reset_transaction();
      return reply("250 2.0.0 OK");
    case Verb::kNoop:
      return reply("250 2.0.0 OK");
    case Verb::kQuit:
      ended_ = true;
      spool_.reset();
      reply("221 2.0.0 " + config().server.hostname + " closing connection");
      conn().close();
      return;
    case Verb::kVrfy:
      if (cmd->arg.empty()) return reply("501 5.5.4 Syntax: VRFY <address>");
      return reply("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
    case Verb::kExpn:
      return reply("502 5.5.1 EXPN is not available");
    case Verb::kHelp:
      return reply("214 2.0.0 Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY");
    case Verb::kStartTls:
      return reply("502 5.5.1 TLS is not offered on LMTP");
    case Verb::kUnknown:
      reply("500 5.5.1 Unknown command");
      return count_bad_command();
  }
}

void Session::reset_transaction() {
  have_mail_ = false;
  sender_.clear();
  smtputf8_ = false;
  declared_size_ = 0;
  rcpts_.clear();
  receiving_ = Receiving::kNone;
  bdat_started_ = false;
  chunk_last_ = false;
  spool_.reset();
  message_bytes_ = 0;
  too_big_ = false;
  spool_error_.clear();
  parser_.reset_message();
}

void Session::cmd_lhlo(const proto::Command& c) {
  if (c.arg.empty()) {
    reply("501 5.5.4 Syntax: LHLO hostname");
    return count_bad_command();
  }
  reset_transaction();
  lhlo_name_ = c.arg;
  const std::string& host = config().server.hostname;
  std::string out = "250-" + host + "\r\n";
  out += "250-PIPELINING\r\n";
  out += "250-ENHANCEDSTATUSCODES\r\n";
  out += "250-8BITMIME\r\n";
  out += "250-SIZE " + std::to_string(max_size()) + "\r\n";
  out += "250-CHUNKING\r\n";
  out += "250 SMTPUTF8\r\n";
  conn().write(out);
}

void Session::cmd_mail(const proto::Command& c) {
  if (lhlo_name_.empty()) return reply("503 5.5.1 Send LHLO first");
  if (have_mail_) return reply("503 5.5.1 Nested MAIL command");
  auto r = proto::parse_path_arg(c.arg, "FROM:", /*allow_null=*/true);
  if (!r.value) {
    switch (r.error) {
      case proto::PathError::kSyntax:
        reply("501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
        break;
      case proto::PathError::kBadAddress:
        reply("501 5.1.7 Bad sender address syntax");
        break;
      case proto::PathError::kBadParameter:
        reply("501 5.5.4 Malformed parameter");
        break;
    }
    return count_bad_command();
  }
  bool utf8 = false;
  uint64_t size = 0;
  for (const auto& p : r.value->params) {
    if (p.key == "SIZE") {
      auto n = p.has_value ? proto::parse_size(p.value) : std::nullopt;
      if (!n) return reply("501 5.5.4 Syntax: SIZE=<octets>");
      if (*n > max_size()) {
        return reply("552 5.3.4 Message size exceeds the fixed maximum of " +
                     std::to_string(max_size()) + " octets");
      }
      size = *n;
    } else if (p.key == "BODY") {
      std::string v = p.value;
      for (auto& ch : v)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
      if (v != "7BIT" && v != "8BITMIME") {
        return reply("555 5.5.4 Unsupported BODY type (7BIT and 8BITMIME are accepted)");
      }
    } else if (p.key == "SMTPUTF8") {
      if (p.has_value) return reply("501 5.5.4 SMTPUTF8 takes no value");
      utf8 = true;
    } else {
      return reply("555 5.5.4 Unsupported parameter " + p.key);
    }
  }
  if (!utf8 && proto::has_non_ascii(r.value->address)) {
    return reply("553 5.6.7 A UTF-8 sender address needs the SMTPUTF8 parameter");
  }
  reset_transaction();
  have_mail_ = true;
  sender_ = r.value->address;
  smtputf8_ = utf8;
  declared_size_ = size;
  reply("250 2.1.0 Sender OK");
}

void Session::cmd_rcpt(const proto::Command& c) {
  if (!have_mail_) return reply("503 5.5.1 Need MAIL before RCPT");
  if (bdat_started_) return reply("503 5.5.1 RCPT after BDAT: send RSET first");
  auto r = proto::parse_path_arg(c.arg, "TO:", /*allow_null=*/false);
  if (!r.value) {
    switch (r.error) {
      case proto::PathError::kSyntax:
        reply("501 5.5.4 Syntax: RCPT TO:<address>");
        break;
      case proto::PathError::kBadAddress:
        reply("501 5.1.3 Bad recipient address syntax");
        break;
      case proto::PathError::kBadParameter:
        reply("501 5.5.4 Malformed parameter");
        break;
    }
    return count_bad_command();
  }
  if (!r.value->params.empty()) {
    return reply("555 5.5.4 Unsupported parameter " + r.value->params.front().key);
  }
  const std::string address = r.value->address;
  if (!smtputf8_ && proto::has_non_ascii(address)) {
    return reply("553 5.6.7 A UTF-8 recipient address needs SMTPUTF8 at MAIL FROM");
  }
  if (rcpts_.size() >= config().limits.lmtp_recipients) {
    return reply("452 4.5.3 Too many recipients");
  }

  // The current directory: a reload between two transactions applies at once.
  auto rt = services_.runtime();
  auto res = delivery::resolve(*rt->directory, address);
  auto log_refusal = [&](std::string_view result, std::string_view code, const std::string& why) {
    log::info("delivery", {{"proto", "lmtp"},
                           {"session", conn().info().id},
                           {"recipient", address},
                           {"result", result},
                           {"code", code},
                           {"reason", why}});
  };
  switch (res.status) {
    case delivery::Lookup::kFound:
      break;
    case delivery::Lookup::kUnknownUser:
    case delivery::Lookup::kNoLocal:
      log_refusal("unknown", "550 5.1.1", res.reason);
      return reply("550 5.1.1 <" + address + ">: No such user here");
    case delivery::Lookup::kUnknownDomain:
      log_refusal("unknown", "550 5.1.2", res.reason);
      return reply("550 5.1.2 <" + address + ">: Domain not served here");
    case delivery::Lookup::kDomainBroken:
    case delivery::Lookup::kBadTarget:
      log::error("delivery", {{"proto", "lmtp"},
                              {"session", conn().info().id},
                              {"recipient", address},
                              {"result", "temp_fail"},
                              {"code", "451 4.3.0"},
                              {"reason", res.reason}});
      return reply("451 4.3.0 <" + address + ">: Temporary configuration problem; try again later");
  }

  bool limited = false;
  for (const auto& t : res.targets) {
    limited |= t.view.policy.quota != core::config::kUnlimited ||
               t.view.policy.quota_messages != core::config::kUnlimited;
  }
  Rcpt rcpt{address, std::move(res.targets)};
  if (!limited) {
    rcpts_.push_back(std::move(rcpt));
    return reply("250 2.1.5 <" + address + "> OK");
  }
  // Check each account's quota now: against the SIZE given at MAIL FROM, or
  // whether it is already full.
  struct Check {
    Rcpt rcpt;
    delivery::Outcome worst;
  };
  auto check = std::make_shared<Check>();
  check->rcpt = std::move(rcpt);
  check->worst.status = delivery::Status::kStored;
  uint64_t size = declared_size_;
  auto* st = &services_.store();
  auto work = [check, size, st] {
    for (const auto& t : check->rcpt.targets) {
      delivery::Prepared p;
      auto o = delivery::prepare(*st, t, size, "", &p);
      if (o.status == delivery::Status::kStored) continue;
      // A temporary failure wins over a deferral, a deferral over a rejection.
      bool worse = check->worst.status == delivery::Status::kStored ||
                   o.status == delivery::Status::kTempFail ||
                   (o.status == delivery::Status::kOverQuota && o.defer &&
                    check->worst.status == delivery::Status::kOverQuota && !check->worst.defer);
      if (worse) check->worst = o;
    }
  };
  auto done = [this, check] {
    const auto& o = check->worst;
    const std::string a = check->rcpt.address;
    if (o.status == delivery::Status::kStored) {
      rcpts_.push_back(std::move(check->rcpt));
      reply("250 2.1.5 <" + a + "> OK");
    } else if (o.status == delivery::Status::kOverQuota) {
      std::string code = o.defer ? "452 4.2.2" : "552 5.2.2";
      log::info("delivery", {{"proto", "lmtp"},
                             {"session", conn().info().id},
                             {"recipient", a},
                             {"result", "over_quota"},
                             {"code", code},
                             {"size", declared_size_},
                             {"reason", o.reason}});
      reply(code + " <" + a + ">: Mailbox full" +
            (declared_size_ ? " for a message of this size" : ""));
    } else {
      log::error("delivery", {{"proto", "lmtp"},
                              {"session", conn().info().id},
                              {"recipient", a},
                              {"result", "temp_fail"},
                              {"code", "451 4.3.0"},
                              {"reason", o.reason}});
      reply("451 4.3.0 <" + a + ">: Mailbox temporarily unavailable; try again later");
    }
    command_done();
  };
  run_store(std::move(work), std::move(done));
}

bool Session::open_spool() {
  spool_ = std::make_unique<delivery::Spool>();
  std::string dir = (std::filesystem::path(config().server.state_dir) / "spool").string();
  std::string e = spool_->open(dir);
  if (!e.empty()) {
    log::error("error", {{"proto", "lmtp"}, {"session", conn().info().id}, {"reason", e}});
    spool_.reset();
    return false;
  }
  message_bytes_ = 0;
  too_big_ = false;
  spool_error_.clear();
  message_started_ = std::chrono::steady_clock::now();
  return true;
}

void Session::cmd_data(const proto::Command& c) {
  if (!c.arg.empty()) return reply("501 5.5.4 Syntax: DATA");
  if (!have_mail_) return reply("503 5.5.1 Need MAIL command");
  if (bdat_started_) return reply("503 5.5.1 DATA after BDAT: send RSET first");
  if (rcpts_.empty()) return reply("503 5.5.1 No valid recipients");
  if (!open_spool()) return reply("451 4.3.0 Temporary failure; try again later");
  receiving_ = Receiving::kData;
  parser_.begin_data();
  reply("354 2.0.0 Start mail input; end with <CRLF>.<CRLF>");
}

void Session::cmd_bdat(const proto::Command& c) {
  auto b = proto::parse_bdat(c.arg);
  if (!b) {
    // The chunk's length is unknown, so its octets cannot be skipped: they
    // will read as (bad) commands. Nothing of them is stored.
    reply("501 5.5.4 Syntax: BDAT <size> [LAST]");
    return count_bad_command();
  }
  chunk_size_ = b->size;
  chunk_last_ = b->last;
  std::string error;
  if (!have_mail_) {
    error = "503 5.5.1 Need MAIL command";
  } else if (rcpts_.empty()) {
    error = "503 5.5.1 No valid recipients";
  } else if (!bdat_started_) {
    if (!open_spool()) error = "451 4.3.0 Temporary failure; try again later";
  }
  if (!error.empty()) {
    // RFC 3030: the chunk is read and dropped, then answered.
    chunk_error_ = error;
    receiving_ = Receiving::kDiscardChunk;
    parser_.begin_chunk(b->size);
    return;
  }
  if (!bdat_started_) {
    bdat_started_ = true;
    parser_.reset_message();
  }
  receiving_ = Receiving::kChunk;
  parser_.begin_chunk(b->size);
}

void Session::on_content(std::string_view bytes) {
  if (receiving_ == Receiving::kDiscardChunk || !spool_) return;
  message_bytes_ += bytes.size();
  if (too_big_ || message_bytes_ > max_size()) {
    too_big_ = true;  // read to the end, store nothing
    return;
  }
  if (!spool_error_.empty()) return;
  spool_error_ = spool_->append(bytes);
}

void Session::on_chunk_end() {
  if (receiving_ == Receiving::kDiscardChunk) {
    receiving_ = Receiving::kNone;
    reply(chunk_error_);
    chunk_error_.clear();
    return;
  }
  receiving_ = Receiving::kNone;
  if (chunk_last_) return deliver_message();
  reply("250 2.0.0 " + std::to_string(chunk_size_) + " octets received");
}

void Session::deliver_message() {
  struct Job {
    std::vector<Rcpt> rcpts;
    std::unique_ptr<delivery::Spool> spool;
    std::string sender;
    std::string received;
    bool too_big = false;
    std::string spool_error;
    delivery::Options options;
    std::vector<std::string> replies;
  };
  auto job = std::make_shared<Job>();
  job->rcpts = std::move(rcpts_);
  job->spool = std::move(spool_);
  job->sender = sender_;
  job->too_big = too_big_;
  job->spool_error = spool_error_;
  job->options.state_dir = config().server.state_dir;
  job->options.hostname = config().server.hostname;
  const auto& info = conn().info();
  std::string remote = info.remote_ip.empty() ? std::string("unknown") : info.remote_ip;
  job->received = delivery::received_header(lhlo_name_, remote, config().server.hostname,
                                            smtputf8_ ? "UTF8LMTP" : "LMTP", info.id,
                                            std::chrono::system_clock::now());
  uint64_t received_bytes = message_bytes_;
  auto started = message_started_;
  std::string session_id = info.id;
  reset_transaction();
  ++messages_;

  auto* st = &services_.store();
  auto work = [job, st, session_id, received_bytes, started] {
    for (const auto& rc : job->rcpts) {
      auto t0 = std::chrono::steady_clock::now();
      std::string code, text, result, reason, mailbox, users;
      uint64_t size = 0;
      if (job->too_big) {
        code = "552 5.3.4";
        text = "Message too big";
        result = "too_big";
      } else if (!job->spool || !job->spool_error.empty()) {
        code = "451 4.3.0";
        text = "Temporary failure; try again later";
        result = "temp_fail";
        reason = job->spool_error;
      } else {
        delivery::Envelope env;
        env.sender = job->sender;
        env.recipient = rc.address;
        env.add_headers = true;
        env.received = job->received;
        std::string headers = delivery::trace_headers(env);
        size = headers.size() + job->spool->size();
        // Every account of the recipient is checked before anything is
        // stored: an alias's message reaches all its accounts or none.
        std::vector<delivery::Prepared> prepared(rc.targets.size());
        delivery::Outcome bad;
        bad.status = delivery::Status::kStored;
        for (size_t i = 0; i < rc.targets.size(); ++i) {
          auto o = delivery::prepare(*st, rc.targets[i], size, "", &prepared[i]);
          if (o.status == delivery::Status::kStored) continue;
          if (bad.status == delivery::Status::kStored || o.status == delivery::Status::kTempFail ||
              (o.status == delivery::Status::kOverQuota && o.defer)) {
            bad = o;
          }
        }
        for (size_t i = 0; i < rc.targets.size() && bad.status == delivery::Status::kStored; ++i) {
          auto o = delivery::store_message(prepared[i], headers, *job->spool, job->options);
          if (o.status != delivery::Status::kStored) {
            bad = o;
            if (i > 0) bad.reason += " (already stored for some accounts of this alias)";
            break;
          }
          if (!mailbox.empty()) mailbox += ",";
          mailbox += o.mailbox;
        }
        for (const auto& t : rc.targets) users += (users.empty() ? "" : ",") + t.view.address;
        switch (bad.status) {
          case delivery::Status::kStored:
            code = "250 2.0.0";
            text = "Delivered";
            result = "stored";
            break;
          case delivery::Status::kOverQuota:
            code = bad.defer ? "452 4.2.2" : "552 5.2.2";
            text = "Mailbox full";
            result = "over_quota";
            break;
          case delivery::Status::kTooBig:
            code = "552 5.3.4";
            text = "Message too big for this mailbox";
            result = "too_big";
            break;
          case delivery::Status::kTempFail:
            code = "451 4.3.0";
            text = "Mailbox temporarily unavailable; try again later";
            result = "temp_fail";
            break;
        }
        reason = bad.reason;
      }
      auto now = std::chrono::steady_clock::now();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - t0).count();
      auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count();
      log::event(result == "temp_fail" ? log::Level::kError : log::Level::kInfo, "delivery",
                 {{"proto", "lmtp"},
                  {"session", session_id},
                  {"recipient", rc.address},
                  {"user", users},
                  {"mailbox", or_dash(mailbox)},
                  {"size", result == "too_big" ? received_bytes : size},
                  {"result", result},
                  {"code", code},
                  {"duration_ms", static_cast<int64_t>(ms)},
                  {"message_ms", static_cast<int64_t>(total_ms)},
                  {"reason", reason}});
      job->replies.push_back(code + " <" + rc.address + "> " + text +
                             (result == "stored" ? " (" + session_id + ")" : ""));
    }
    job->spool.reset();  // the spool file is gone with its descriptor
  };
  auto done = [this, job] {
    std::string out;
    for (const auto& r : job->replies) out += r + "\r\n";
    conn().write(out);
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
    busy_ = false;
    end("421 4.3.2 " + config().server.hostname + " Server busy; try again later");
  }
}

void Session::command_done() {
  busy_ = false;
  if (ended_ || conn().closed()) return;
  conn().resume_reading();
  pump();
}

void Session::on_idle_timeout() {
  if (busy_) {
    conn().set_idle_timeout(config().limits.idle_timeout.lmtp);
    return;
  }
  log::info("timeout", {{"proto", "lmtp"},
                        {"session", conn().info().id},
                        {"mid_message", receiving_ != Receiving::kNone}});
  end("421 4.4.2 " + config().server.hostname + " Idle timeout; closing connection");
}

void Session::on_shutdown() {
  shutting_down_ = true;
  // A message being received is finished first; an idle session ends now.
  if (!busy_ && receiving_ == Receiving::kNone) {
    end("421 4.3.2 " + config().server.hostname + " Server shutting down");
  }
}

void Session::on_kick(std::string_view) {
  // LMTP sessions belong to no account: reloads do not end them.
}

void Session::on_closed() {
  bool mid_message = receiving_ != Receiving::kNone || (bdat_started_ && spool_);
  ended_ = true;
  spool_.reset();  // a half-received message is dropped with its spool file
  auto& info = conn().info();
  services_.registry().remove(info.id);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  info.started)
                .count();
  log::info("logout", {{"proto", "lmtp"},
                       {"session", info.id},
                       {"remote", info.remote_ip},
                       {"messages", messages_},
                       {"aborted_message", mid_message},
                       {"bytes_in", conn().bytes_in()},
                       {"bytes_out", conn().bytes_out()},
                       {"duration_ms", static_cast<int64_t>(ms)}});
}

}  // namespace lmtp
