// A worker: one thread running one libuv loop. roostd starts one per core;
// each worker has its own listening socket for every configured TCP listener
// (SO_REUSEPORT: the kernel spreads new connections across workers), so no
// connection ever moves between threads.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <uv.h>

#include "core/config/config.h"

namespace core::tls {
class Context;
}

namespace core::net {

class Connection;
class Session;
class Worker;

// What a listener needs to create sessions. Set up by the daemon.
struct ListenerSpec {
  config::Listener config;
  // Creates the protocol session for a new connection, or nullptr to refuse
  // it (the factory writes its own refusal line first).
  std::function<std::shared_ptr<Session>(Connection&)> make_session;
  // Decides whether a new connection is accepted (per-IP limits) and
  // fills the connection's identity. False: refused with `refusal`.
  std::function<bool(const std::string& ip)> admit;
  std::string refusal;  // line sent to refused connections
  // Called once when an admitted connection closes.
  std::function<void(const std::string& ip)> release;
  // Whether the client address is in trusted_networks.
  std::function<bool(const std::string& ip)> is_trusted;
  uint64_t output_high_water = 256 * 1024;
  // For `tls: implicit` listeners: the current server context.
  std::function<std::shared_ptr<tls::Context>()> tls_context;
  // For `proxy_protocol` listeners: the longest PROXY header accepted and how
  // long it may take to arrive (the daemon reads limits.proxy_header_max and
  // idle_timeout.preauth of the current configuration).
  std::function<uint64_t()> proxy_header_max;
  std::function<std::chrono::milliseconds()> proxy_timeout;
};

class Worker {
 public:
  explicit Worker(int index);
  ~Worker();

  int index() const { return index_; }
  uv_loop_t* loop() { return &loop_; }

  // Before start(): listen on an already bound socket fd (owned by the worker after).
  bool add_tcp_listener(int fd, std::shared_ptr<const ListenerSpec> spec, std::string* error);
  // The same for a listening unix socket (LMTP). The fd is owned by the worker after.
  bool add_unix_listener(int fd, std::shared_ptr<const ListenerSpec> spec, std::string* error);

  void start();
  // Thread-safe: runs fn on the worker's loop thread.
  void post(std::function<void()> fn);
  // Stops accepting; existing connections go on.
  void stop_listening();
  // Calls fn for every live connection, on the loop thread.
  void for_each_connection(const std::function<void(Connection&)>& fn);
  // Ends the loop once every connection has closed (after shutdown).
  void stop_and_join();

  // Connection bookkeeping (loop thread only).
  void add_connection(const std::shared_ptr<Connection>& c);
  void remove_connection(Connection* c);
  size_t connection_count() const { return live_.load(); }

  // Shared read buffer: the loop is single-threaded and reads complete
  // before the next one starts.
  char* read_buffer() { return read_buf_.data(); }
  size_t read_buffer_size() const { return read_buf_.size(); }

  // Provided by the daemon: the id of the next session on this worker.
  std::string next_session_id();

 private:
  struct Listener {
    union {  // used through uv_stream_t / uv_handle_t only
      uv_tcp_t tcp{};
      uv_pipe_t pipe;
    };
    std::shared_ptr<const ListenerSpec> spec;
    Worker* worker = nullptr;
  };
  static void on_connection(uv_stream_t* server, int status);
  static void on_async(uv_async_t* a);
  void run();

  int index_;
  uv_loop_t loop_{};
  uv_async_t async_{};
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::map<Connection*, std::weak_ptr<Connection>> connections_;
  std::atomic<size_t> live_{0};
  std::vector<char> read_buf_;
  std::thread thread_;
  uint64_t session_counter_ = 0;
  bool stopping_ = false;
  bool async_closed_ = false;  // guarded by mu_
};

// Opens a listening TCP socket with SO_REUSEPORT (and IPV6_V6ONLY for v6).
// Returns the fd or -1 with *error set.
int open_tcp_listener(const std::string& address, uint16_t port, std::string* error);

// Opens a listening unix stream socket at `path`: a stale socket file left by
// an earlier run is replaced (any other kind of file is an error), then the
// file gets `mode` and, when given, `group`. Returns the fd or -1 with *error.
int open_unix_listener(const std::string& path, unsigned mode, const std::string& group,
                       std::string* error);

}  // namespace core::net
