// An LMTP session (RFC 2033, with RFC 1870 SIZE, 2034 ENHANCEDSTATUSCODES,
// 2920 PIPELINING, 3030 CHUNKING, 6152 8BITMIME, 6531 SMTPUTF8): the state
// machine over the pure parser in lmtp/proto, delivering through the shared
// delivery path (delivery/). No TLS and no authentication: the operator binds
// the listener where only the MTA can reach it (loopback or a unix socket).
//
// A message arrives into an anonymous spool file; nothing is stored until the
// whole message is in. Then, for each accepted recipient in RCPT order, it is
// written and fsynced before that recipient's reply is sent. A client that
// disconnects mid-message leaves nothing behind.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/net/connection.h"
#include "core/server/services.h"
#include "delivery/delivery.h"
#include "lmtp/proto/parser.h"

namespace lmtp {

class Session : public core::net::Session, public std::enable_shared_from_this<Session> {
 public:
  Session(core::server::Services& services, std::shared_ptr<const core::server::Runtime> rt);
  ~Session() override;

  // core::net::Session
  void on_start() override;
  void on_data(std::string_view bytes) override;
  void on_idle_timeout() override;
  void on_shutdown() override;
  void on_kick(std::string_view reason) override;
  void on_closed() override;

  // At most this many accepted recipients per transaction (RFC 5321 asks for
  // at least 100); more get 452 4.5.3.

 private:
  struct Rcpt {
    std::string address;  // as the client gave it
    std::vector<delivery::Target> targets;
  };

  const core::config::Config& config() const { return rt_->config(); }
  void reply(std::string_view line);
  void pump();
  void handle_line(const std::string& line);
  void count_bad_command();
  void end(std::string_view line);

  void cmd_lhlo(const proto::Command& c);
  void cmd_mail(const proto::Command& c);
  void cmd_rcpt(const proto::Command& c);
  void cmd_data(const proto::Command& c);
  void cmd_bdat(const proto::Command& c);

  bool open_spool();
  void on_content(std::string_view bytes);
  void on_chunk_end();
  void deliver_message();
  void reset_transaction();
  void run_store(std::function<void()> work, std::function<void()> done);
  void command_done();
  uint64_t max_size() const;

  core::server::Services& services_;
  std::shared_ptr<const core::server::Runtime> rt_;
  proto::Parser parser_;
  bool busy_ = false;
  bool ended_ = false;
  bool shutting_down_ = false;
  uint32_t bad_commands_ = 0;
  std::string lhlo_name_;  // empty until LHLO

  // The transaction.
  bool have_mail_ = false;
  std::string sender_;
  bool smtputf8_ = false;
  uint64_t declared_size_ = 0;  // MAIL FROM SIZE=, 0 when not given
  std::vector<Rcpt> rcpts_;
  // The message being received (DATA or BDAT).
  enum class Receiving { kNone, kData, kChunk, kDiscardChunk };
  Receiving receiving_ = Receiving::kNone;
  bool bdat_started_ = false;
  bool chunk_last_ = false;
  uint64_t chunk_size_ = 0;
  std::string chunk_error_;  // the answer to a discarded chunk
  std::unique_ptr<delivery::Spool> spool_;
  uint64_t message_bytes_ = 0;
  bool too_big_ = false;
  std::string spool_error_;
  std::chrono::steady_clock::time_point message_started_;
  uint64_t messages_ = 0;  // delivered transactions in this session
};

}  // namespace lmtp
