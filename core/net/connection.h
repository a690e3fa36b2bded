// One client connection on a worker's event loop: the socket, the optional
// TLS engine beneath, bounded output with back-pressure, timers, and the
// bridge to the blocking pools. A protocol Session sits on top and sees only
// plaintext; it cannot tell whether TLS is on.
//
// Lifetime: the Connection and its Session hold each other by shared_ptr
// while open; close() breaks the cycle once libuv has released the handle.
// Offloaded work keeps the Session alive (it captures a shared_ptr), so a
// client hanging up never frees a mailbox under a running store call. Every
// callback into the Session runs on the loop thread and checks `closed()`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <uv.h>

#include "core/config/config.h"

namespace core::tls {
class Context;
class Engine;
}  // namespace core::tls

namespace core::net::proxy {
struct Header;
}  // namespace core::net::proxy

namespace core::net {

class Deflater;
class Inflater;
class Worker;
class Pool;
class Connection;

class Session {
 public:
  virtual ~Session() = default;
  // The connection is up (for implicit TLS: the handshake may still be running;
  // output is queued until it is done). Send the greeting.
  virtual void on_start() = 0;
  // Plaintext from the client.
  virtual void on_data(std::string_view bytes) = 0;
  // Output fell below the low-water mark after write_blocked() was true.
  virtual void on_drained() {}
  // The idle timer fired. Default: close.
  virtual void on_idle_timeout();
  // The server is stopping: finish the current command, say goodbye, close.
  virtual void on_shutdown() = 0;
  // The account was removed, suspended or re-passworded by a reload.
  virtual void on_kick(std::string_view reason) = 0;
  // The connection is gone (peer closed, error, close()). No output possible.
  virtual void on_closed() {}

  Connection& conn() { return *conn_; }
  const Connection& conn() const { return *conn_; }
  std::shared_ptr<Connection> conn_ptr() { return conn_; }

 private:
  friend class Connection;
  std::shared_ptr<Connection> conn_;
};

struct ConnectionInfo {
  std::string id;  // session id in logs
  std::string remote_ip;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  config::Protocol protocol = config::Protocol::kPop3;
  config::TlsMode tls_mode = config::TlsMode::kNone;
  bool trusted = false;  // remote_ip is in trusted_networks
  std::chrono::steady_clock::time_point started;
  int64_t started_unix = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& worker, ConnectionInfo info, uint64_t output_high_water);
  ~Connection();

  // Called by the worker after accept: takes the accepted handle's socket.
  bool attach(uv_stream_t* server);
  void start(std::shared_ptr<Session> session, std::shared_ptr<tls::Context> implicit_tls);

  // PROXY protocol (listeners with proxy_protocol): called by the worker
  // instead of start(). Reads the header (at most `max_length` bytes, within
  // `timeout`) before anything else, TLS included; a malformed, oversized or
  // late header closes the connection (event `proxy`). Once it is complete,
  // `done` runs and must call start() or close(); the bytes that followed the
  // header are then handed on as the first input.
  void expect_proxy_header(size_t max_length, std::chrono::milliseconds timeout,
                           std::function<void(Connection&, const proxy::Header&)> done);

  // Replaces the client address (the PROXY header's source, or IMAP ID
  // x-originating-ip from a trusted webmail): the per-IP admission moves to
  // the new address through the hook the worker set. False, with nothing
  // changed, when the new address is at its connection cap.
  bool set_remote(const std::string& ip, uint16_t port);
  void set_readdress_hook(std::function<bool(const std::string& ip)> fn) {
    readdress_hook_ = std::move(fn);
  }
  bool awaiting_proxy_header() const { return proxy_pending_; }

  const ConnectionInfo& info() const { return info_; }
  Worker& worker() { return worker_; }
  bool closed() const { return closed_; }
  bool tls_active() const { return tls_ != nullptr; }
  // TLS on, or the client is in trusted_networks.
  bool secure() const { return tls_ != nullptr || info_.trusted; }
  std::string tls_version() const;
  // The server name the client asked for in its TLS handshake ("" without TLS).
  std::string tls_sni() const;

  // Queues plaintext for the client.
  void write(std::string_view bytes);
  // True while queued output is above the high-water mark: a session that
  // streams a body stops producing and waits for on_drained().
  bool write_blocked() const;

  // Input flow control (e.g. while a store call runs, the next pipelined
  // command waits in the kernel buffer).
  void pause_reading();
  void resume_reading();

  // Switches to TLS (STARTTLS/STLS): everything written before goes out in
  // plaintext; every byte read after is TLS. The session must discard any
  // plaintext it buffered beyond the command.
  void start_tls(std::shared_ptr<tls::Context> ctx);

  // Turns on raw DEFLATE compression (IMAP COMPRESS=DEFLATE, RFC 4978) above
  // TLS: everything written before goes out as it was; every later write is
  // compressed and sync-flushed, and every byte read after is inflated before
  // the session sees it. A corrupt stream from the client closes the
  // connection. Returns false when already on or when zlib could not start.
  bool start_compression();
  bool compression_active() const { return deflater_ != nullptr; }

  // Flushes queued output, then closes. Idempotent.
  void close();

  void set_idle_timeout(std::chrono::milliseconds t);
  // One pending delayed call per connection (e.g. the answer after an
  // authentication failure); a new one replaces it. Not called once closed.
  void after(std::chrono::milliseconds delay, std::function<void()> fn);

  // Runs `work` on a pool thread, then `done` on this loop if the
  // connection is still open. `keep` (usually the session) lives until both
  // have run. Returns false when the pool is saturated.
  bool offload(Pool& pool, std::shared_ptr<void> keep, std::function<void()> work,
               std::function<void()> done);

  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

  // Closes at once, dropping queued output (fatal errors, shutdown deadline).
  void abort();

  void set_trusted(bool t) { info_.trusted = t; }

  // Runs once when the connection closes (per-IP accounting).
  void set_close_hook(std::function<void()> fn) { close_hook_ = std::move(fn); }

 private:
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_close_cb(uv_handle_t* h);
  void handle_input(const char* data, size_t n);
  bool proxy_input(std::string_view bytes, std::string* after_header);
  void proxy_failed(std::string_view reason);
  void send_raw(std::string bytes);
  void flush_tls();
  void send_wire(std::string bytes);
  void inflate_input(std::string_view compressed);
  void deliver_inflated();
  void schedule_inflated();
  void compression_failed(std::string_view reason);
  void update_reading();
  void touch();
  void finish_close();

  Worker& worker_;
  ConnectionInfo info_;
  // The client's stream: TCP, or a unix socket (LMTP); both are used through
  // their common uv_stream_t part only, except in attach().
  union {
    uv_tcp_t tcp_{};
    uv_pipe_t pipe_;
  };
  bool unix_socket_ = false;
  uv_timer_t idle_timer_{};
  uv_timer_t delay_timer_{};
  int handles_open_ = 0;
  std::shared_ptr<Session> session_;
  std::shared_ptr<Connection> self_;  // alive until every handle is closed
  std::unique_ptr<tls::Engine> tls_;
  std::unique_ptr<Deflater> deflater_;  // COMPRESS=DEFLATE: output
  std::unique_ptr<Inflater> inflater_;  // and input
  bool inflate_posted_ = false;         // a deliver_inflated() is queued on the loop
  bool tls_logged_ = false;
  std::function<void()> delayed_;
  std::function<void()> close_hook_;
  std::function<bool(const std::string&)> readdress_hook_;
  // PROXY header not complete yet: input goes to proxy_buf_.
  bool proxy_pending_ = false;
  size_t proxy_max_ = 0;
  std::string proxy_buf_;
  std::function<void(Connection&, const proxy::Header&)> proxy_done_;
  std::chrono::milliseconds idle_timeout_{60000};
  uint64_t high_water_;
  uint64_t queued_out_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  bool reading_ = false;
  bool paused_ = false;
  bool blocked_notified_ = false;
  bool closing_ = false;  // close() requested: flush then close
  bool closed_ = false;   // handle closed or closing; no more I/O
  bool in_input_ = false;
};

}  // namespace core::net
