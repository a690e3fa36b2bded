#include "core/net/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/net/deflate.h"
#include "core/net/pool.h"
#include "core/net/proxy.h"
#include "core/net/worker.h"
#include "core/tls/tls.h"

namespace core::net {

void Session::on_idle_timeout() {
  conn().close();
}

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
  Connection* conn = nullptr;
};

uv_handle_t* H(void* p) {
  return static_cast<uv_handle_t*>(p);
}

// COMPRESS=DEFLATE output: level 6 with a 4 KiB window and memLevel 5 keeps
// the compressor near 38 KiB per connection (zlib's defaults take ~268 KiB).
constexpr int kDeflateLevel = 6;
constexpr int kDeflateWindowBits = 12;
constexpr int kDeflateMemLevel = 5;
// Inflated input goes to the session in pieces of at most this size, and only
// while reading is not paused, so a small compressed burst cannot expand into
// one huge buffer.
constexpr size_t kInflateChunk = 64 * 1024;

}  // namespace

Connection::Connection(Worker& worker, ConnectionInfo info, uint64_t output_high_water)
    : worker_(worker), info_(std::move(info)), high_water_(output_high_water) {}

Connection::~Connection() = default;

bool Connection::attach(uv_stream_t* server) {
  unix_socket_ = server->type == UV_NAMED_PIPE;
  if (unix_socket_) {
    uv_pipe_init(worker_.loop(), &pipe_, 0);
  } else {
    uv_tcp_init(worker_.loop(), &tcp_);
  }
  tcp_.data = this;
  self_ = shared_from_this();
  handles_open_ = 1;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    closed_ = true;
    uv_close(H(&tcp_), &Connection::on_close_cb);
    return false;
  }
  uv_timer_init(worker_.loop(), &idle_timer_);
  idle_timer_.data = this;
  uv_timer_init(worker_.loop(), &delay_timer_);
  delay_timer_.data = this;
  handles_open_ = 3;
  if (unix_socket_) {
    // A local peer (the MTA on this host): no address; "unix" in logs.
    info_.remote_ip = "unix";
    info_.id = worker_.next_session_id();
    return true;
  }
  uv_tcp_nodelay(&tcp_, 1);

  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
      info_.remote_port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
        inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
      } else {
        inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
      }
      info_.remote_port = ntohs(a->sin6_port);
    }
    info_.remote_ip = buf;
  }
  info_.id = worker_.next_session_id();
  return true;
}

void Connection::start(std::shared_ptr<Session> session, std::shared_ptr<tls::Context> tls_ctx) {
  session_ = std::move(session);
  session_->conn_ = shared_from_this();
  if (tls_ctx) tls_ = std::make_unique<tls::Engine>(std::move(tls_ctx), tls::Engine::Role::kServer);
  metrics::connections_total().with({config::to_string(info_.protocol)}).inc();
  metrics::connections().with({config::to_string(info_.protocol), tls_ ? "yes" : "no"}).add();
  reading_ = true;
  update_reading();
  touch();
  auto keep = session_;
  keep->on_start();
}

void Connection::expect_proxy_header(size_t max_length, std::chrono::milliseconds timeout,
                                     std::function<void(Connection&, const proxy::Header&)> done) {
  if (closed_) return;
  proxy_pending_ = true;
  proxy_max_ = max_length;
  proxy_done_ = std::move(done);
  idle_timeout_ = timeout;
  reading_ = true;
  update_reading();
  touch();
}

// True once the header is complete and a session has started; the bytes
// after the header are then in *after_header.
bool Connection::proxy_input(std::string_view bytes, std::string* after_header) {
  proxy_buf_.append(bytes);
  auto r = proxy::parse(proxy_buf_, proxy_max_);
  if (r.status == proxy::Status::kNeedMore) return false;
  if (r.status == proxy::Status::kError) {
    proxy_failed(r.error);
    return false;
  }
  proxy_pending_ = false;
  after_header->assign(proxy_buf_, r.consumed);
  proxy_buf_.clear();
  proxy_buf_.shrink_to_fit();
  auto done = std::move(proxy_done_);
  proxy_done_ = nullptr;
  if (done) done(*this, r.header);
  return !closed_ && !closing_ && session_ != nullptr;
}

void Connection::proxy_failed(std::string_view reason) {
  log::warn("proxy", {{"proto", config::to_string(info_.protocol)},
                      {"session", info_.id},
                      {"remote", info_.remote_ip},
                      {"result", "fail"},
                      {"reason", reason}});
  proxy_pending_ = false;
  proxy_done_ = nullptr;
  abort();
}

bool Connection::set_remote(const std::string& ip, uint16_t port) {
  if (closed_) return false;
  if (ip != info_.remote_ip && readdress_hook_ && !readdress_hook_(ip)) return false;
  info_.remote_ip = ip;
  info_.remote_port = port;
  return true;
}

std::string Connection::tls_version() const {
  return tls_ ? tls_->version() : std::string();
}

std::string Connection::tls_sni() const {
  return tls_ ? tls_->sni() : std::string();
}

void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  buf->base = c->worker_.read_buffer();
  buf->len = c->worker_.read_buffer_size();
}

void Connection::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(s->data);
  if (n == 0) return;
  if (n < 0) {
    // Peer closed or error: nothing more to send to it either.
    c->abort();
    return;
  }
  auto hold = c->shared_from_this();
  c->handle_input(buf->base, static_cast<size_t>(n));
}

void Connection::handle_input(const char* data, size_t n) {
  if (closed_) return;
  bytes_in_ += n;
  metrics::bytes_received().with({config::to_string(info_.protocol)}).inc(n);
  touch();
  std::string after_header;
  if (proxy_pending_) {
    // Nothing reaches TLS or the session before the PROXY header is done.
    if (!proxy_input(std::string_view(data, n), &after_header) || after_header.empty()) return;
    data = after_header.data();
    n = after_header.size();
  }
  auto keep = session_;
  if (!tls_) {
    if (inflater_) {
      inflate_input(std::string_view(data, n));
    } else if (!closing_ && keep) {
      keep->on_data(std::string_view(data, n));
    }
    return;
  }
  bool ok = tls_->feed(std::string_view(data, n));
  std::string plain;
  tls_->read_plain(&plain);
  flush_tls();
  if (!tls_logged_ && tls_->handshake_done()) {
    tls_logged_ = true;
    log::info("tls", {{"proto", config::to_string(info_.protocol)},
                      {"session", info_.id},
                      {"remote", info_.remote_ip},
                      {"version", tls_->version()},
                      {"cipher", tls_->cipher()},
                      {"sni", tls_->sni()}});
  }
  if (!ok) {
    log::warn("tls", {{"proto", config::to_string(info_.protocol)},
                      {"session", info_.id},
                      {"remote", info_.remote_ip},
                      {"result", "fail"},
                      {"reason", tls_->error()}});
    abort();
    return;
  }
  if (!plain.empty() && !closing_ && keep) {
    if (inflater_) {
      inflate_input(plain);
    } else {
      keep->on_data(plain);
    }
  }
  if (tls_ && tls_->peer_closed()) close();
}

void Connection::inflate_input(std::string_view compressed) {
  if (!inflater_->feed(compressed)) {
    compression_failed(inflater_->error());
    return;
  }
  deliver_inflated();
}

void Connection::deliver_inflated() {
  // Stops while the session has paused reading: the rest stays compressed in
  // the inflater until resume_reading().
  while (inflater_ && !closed_ && !closing_ && !paused_) {
    std::string plain;
    if (!inflater_->read(&plain, kInflateChunk)) {
      compression_failed(inflater_->error());
      return;
    }
    if (plain.empty()) break;
    auto keep = session_;
    if (!keep) break;
    keep->on_data(plain);
  }
}

void Connection::schedule_inflated() {
  if (inflate_posted_ || closed_) return;
  inflate_posted_ = true;
  std::weak_ptr<Connection> weak = shared_from_this();
  worker_.post([weak] {
    auto c = weak.lock();
    if (!c) return;
    c->inflate_posted_ = false;
    if (!c->closed_) c->deliver_inflated();
  });
}

void Connection::compression_failed(std::string_view reason) {
  log::warn("compress", {{"proto", config::to_string(info_.protocol)},
                         {"session", info_.id},
                         {"remote", info_.remote_ip},
                         {"result", "fail"},
                         {"reason", reason}});
  abort();
}

bool Connection::start_compression() {
  if (closed_ || deflater_) return false;
  auto d = std::make_unique<Deflater>(kDeflateLevel, kDeflateWindowBits, kDeflateMemLevel);
  auto i = std::make_unique<Inflater>();
  if (!d->ok() || !i->ok()) {
    log::warn("compress", {{"proto", config::to_string(info_.protocol)},
                           {"session", info_.id},
                           {"result", "fail"},
                           {"reason", !d->ok() ? d->error() : i->error()}});
    return false;
  }
  deflater_ = std::move(d);
  inflater_ = std::move(i);
  log::debug("compress",
             {{"proto", config::to_string(info_.protocol)},
              {"session", info_.id},
              {"mechanism", "DEFLATE"},
              {"memory", static_cast<uint64_t>(deflater_->memory() + inflater_->memory())}});
  return true;
}

void Connection::write(std::string_view bytes) {
  if (closed_ || bytes.empty()) return;
  if (deflater_) {
    // One write is one batch: it ends with a sync flush so the client can
    // decode the whole of it at once.
    std::string z;
    if (!deflater_->compress(bytes, &z)) {
      compression_failed(deflater_->error());
      return;
    }
    send_wire(std::move(z));
    return;
  }
  send_wire(std::string(bytes));
}

void Connection::send_wire(std::string bytes) {
  if (closed_ || bytes.empty()) return;
  if (tls_) {
    if (!tls_->write_plain(bytes)) {
      abort();
      return;
    }
    flush_tls();
  } else {
    send_raw(std::move(bytes));
  }
}

void Connection::flush_tls() {
  std::string out;
  tls_->take_ciphertext(&out);
  if (!out.empty()) send_raw(std::move(out));
}

void Connection::send_raw(std::string bytes) {
  if (closed_) return;
  auto* r = new WriteReq;
  r->data = std::move(bytes);
  r->conn = this;
  r->req.data = r;
  uv_buf_t b = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
  queued_out_ += r->data.size();
  bytes_out_ += r->data.size();
  metrics::bytes_sent().with({config::to_string(info_.protocol)}).inc(r->data.size());
  self_ = shared_from_this();  // pending writes keep us alive
  int rc = uv_write(&r->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, &Connection::on_write);
  if (rc != 0) {
    queued_out_ -= r->data.size();
    delete r;
    abort();
    return;
  }
  update_reading();
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* r = static_cast<WriteReq*>(req->data);
  Connection* c = r->conn;
  c->queued_out_ -= r->data.size();
  delete r;
  if (c->closed_) return;
  if (status < 0) {
    c->abort();
    return;
  }
  auto hold = c->shared_from_this();
  if (c->closing_ && c->queued_out_ == 0) {
    c->finish_close();
    return;
  }
  c->update_reading();
  if (c->queued_out_ == 0 && c->tls_) c->tls_->release_buffers();
  if (c->blocked_notified_ && c->queued_out_ <= c->high_water_ / 2) {
    c->blocked_notified_ = false;
    if (auto s = c->session_) s->on_drained();
  }
}

bool Connection::write_blocked() const {
  bool b = queued_out_ > high_water_;
  if (b) const_cast<Connection*>(this)->blocked_notified_ = true;
  return b;
}

void Connection::pause_reading() {
  paused_ = true;
  update_reading();
}

void Connection::resume_reading() {
  paused_ = false;
  update_reading();
  // Input inflated but held back while paused: hand it over from the loop,
  // not from inside the caller (usually the session itself).
  if (inflater_ && inflater_->pending()) schedule_inflated();
}

void Connection::update_reading() {
  if (closed_) return;
  // Back-pressure: a client that does not read its output is not read from.
  bool want = !paused_ && !closing_ && queued_out_ <= high_water_;
  auto* s = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (want && !reading_) {
    reading_ = true;
    uv_read_start(s, &Connection::on_alloc, &Connection::on_read);
  } else if (!want && reading_) {
    reading_ = false;
    uv_read_stop(s);
  } else if (want && reading_ && !uv_is_active(H(&tcp_))) {
    uv_read_start(s, &Connection::on_alloc, &Connection::on_read);
  }
}

void Connection::start_tls(std::shared_ptr<tls::Context> ctx) {
  if (closed_ || tls_) return;
  tls_ = std::make_unique<tls::Engine>(std::move(ctx), tls::Engine::Role::kServer);
  if (session_) {
    const char* p = config::to_string(info_.protocol);
    metrics::connections().with({p, "no"}).sub();
    metrics::connections().with({p, "yes"}).add();
  }
}

void Connection::close() {
  if (closed_ || closing_) return;
  closing_ = true;
  if (tls_) {
    tls_->shutdown();
    flush_tls();
  }
  update_reading();
  if (queued_out_ == 0) finish_close();
}

void Connection::abort() {
  if (closed_) return;
  closing_ = true;
  finish_close();
}

void Connection::finish_close() {
  if (closed_) return;
  closed_ = true;
  self_ = shared_from_this();
  delayed_ = nullptr;
  uv_close(H(&tcp_), &Connection::on_close_cb);
  uv_close(H(&idle_timer_), &Connection::on_close_cb);
  uv_close(H(&delay_timer_), &Connection::on_close_cb);
  worker_.remove_connection(this);
  if (session_) {  // counted in start()
    metrics::connections().with({config::to_string(info_.protocol), tls_ ? "yes" : "no"}).sub();
  }
  if (deflater_) {
    log::debug("compress", {{"proto", config::to_string(info_.protocol)},
                            {"session", info_.id},
                            {"in_plain", inflater_->total_out()},
                            {"in_wire", inflater_->total_in()},
                            {"out_plain", deflater_->total_in()},
                            {"out_wire", deflater_->total_out()}});
  }
  if (auto hook = std::move(close_hook_)) hook();
  if (auto s = std::move(session_)) {
    s->on_closed();
    // The session may outlive us while offloaded work finishes; it keeps a
    // pointer to this (closed) connection, whose calls are then no-ops.
  }
}

void Connection::on_close_cb(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->handles_open_ == 0) {
    auto self = std::move(c->self_);  // may destroy *c when this returns
  }
}

void Connection::touch() {
  if (closed_ || handles_open_ < 3) return;
  // The PROXY header has one deadline in all, not one per read.
  if (proxy_pending_ && uv_is_active(H(&idle_timer_))) return;
  uv_timer_start(
      &idle_timer_,
      [](uv_timer_t* t) {
        auto* c = static_cast<Connection*>(t->data);
        if (c->closed_) return;
        auto hold = c->shared_from_this();
        if (c->proxy_pending_) {
          c->proxy_failed("no complete PROXY header within " +
                          std::to_string(c->idle_timeout_.count()) + " ms");
        } else if (auto s = c->session_) {
          s->on_idle_timeout();
        } else {
          c->close();
        }
      },
      static_cast<uint64_t>(idle_timeout_.count()), 0);
}

void Connection::set_idle_timeout(std::chrono::milliseconds t) {
  idle_timeout_ = t;
  touch();
}

void Connection::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  if (closed_) return;
  delayed_ = std::move(fn);
  uv_timer_start(
      &delay_timer_,
      [](uv_timer_t* t) {
        auto* c = static_cast<Connection*>(t->data);
        if (c->closed_) return;
        auto hold = c->shared_from_this();
        auto fn = std::move(c->delayed_);
        c->delayed_ = nullptr;
        if (fn) fn();
      },
      static_cast<uint64_t>(delay.count()), 0);
}

bool Connection::offload(Pool& pool, std::shared_ptr<void> keep, std::function<void()> work,
                         std::function<void()> done) {
  std::weak_ptr<Connection> weak = shared_from_this();
  Worker* w = &worker_;
  return pool.submit(
      [w, weak, keep = std::move(keep), work = std::move(work), done = std::move(done)]() mutable {
        work();
        // Everything moves into the posted closure so the last reference to the
        // session is dropped on its loop thread.
        w->post([weak, keep = std::move(keep), done = std::move(done)]() mutable {
          auto c = weak.lock();
          if (c && !c->closed_ && done) done();
          done = nullptr;
          keep.reset();
        });
      });
}

}  // namespace core::net
