#include "core/net/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "core/log/log.h"
#include "core/net/connection.h"
#include "core/net/proxy.h"

namespace core::net {

Worker::Worker(int index) : index_(index), read_buf_(64 * 1024) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, &Worker::on_async);
  async_.data = this;
}

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
  uv_loop_close(&loop_);
}

int open_tcp_listener(const std::string& address, uint16_t port, std::string* error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (address.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr) != 1) {
      *error = "not an IPv6 address: " + address;
      return -1;
    }
    family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &a4->sin_addr) != 1) {
      *error = "not an IPv4 address: " + address;
      return -1;
    }
    len = sizeof(sockaddr_in);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    *error = "bind " + address + ":" + std::to_string(port) + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (listen(fd, 1024) != 0) {
    *error = std::string("listen: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

int open_unix_listener(const std::string& path, unsigned mode, const std::string& group,
                       std::string* error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    *error = "socket path too long (at most " + std::to_string(sizeof(addr.sun_path) - 1) +
             " bytes): " + path;
    return -1;
  }
  gid_t gid = static_cast<gid_t>(-1);
  if (!group.empty()) {
    struct group* g = getgrnam(group.c_str());
    if (!g) {
      *error = "no such group: " + group;
      return -1;
    }
    gid = g->gr_gid;
  }
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = path + " exists and is not a socket";
      return -1;
    }
    unlink(path.c_str());  // left by an earlier run
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  // Created with no access at all; the mode is set once the group is right.
  mode_t old = umask(0777);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  umask(old);
  if (rc != 0) {
    *error = "bind " + path + ": " + std::strerror(bind_errno);
    close(fd);
    return -1;
  }
  if ((gid != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
      chmod(path.c_str(), mode & 07777) != 0) {
    *error = "setting group/mode of " + path + ": " + std::strerror(errno);
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  if (listen(fd, 1024) != 0) {
    *error = std::string("listen: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

bool Worker::add_unix_listener(int fd, std::shared_ptr<const ListenerSpec> spec,
                               std::string* error) {
  auto l = std::make_unique<Listener>();
  l->spec = std::move(spec);
  l->worker = this;
  uv_pipe_init(&loop_, &l->pipe, 0);
  l->pipe.data = l.get();
  int rc = uv_pipe_open(&l->pipe, fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->pipe), 1024, &on_connection);
  if (rc != 0) {
    *error = uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(&l->pipe), nullptr);
    listeners_.push_back(std::move(l));
    return false;
  }
  listeners_.push_back(std::move(l));
  return true;
}

bool Worker::add_tcp_listener(int fd, std::shared_ptr<const ListenerSpec> spec,
                              std::string* error) {
  auto l = std::make_unique<Listener>();
  l->spec = std::move(spec);
  l->worker = this;
  uv_tcp_init(&loop_, &l->tcp);
  l->tcp.data = l.get();
  int rc = uv_tcp_open(&l->tcp, fd);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->tcp), 1024, &on_connection);
  if (rc != 0) {
    *error = uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), nullptr);
    listeners_.push_back(std::move(l));  // freed after the loop closes it
    return false;
  }
  listeners_.push_back(std::move(l));
  return true;
}

namespace {

// The per-IP slot a connection holds: released when it closes, moved when
// its client address changes (PROXY header, IMAP ID from a trusted webmail).
void track_admission(const std::shared_ptr<const ListenerSpec>& spec, Connection& conn) {
  auto admitted = std::make_shared<std::string>(conn.info().remote_ip);
  if (spec->release) conn.set_close_hook([spec, admitted] { spec->release(*admitted); });
  conn.set_readdress_hook([spec, admitted](const std::string& ip) {
    if (ip == *admitted) return true;
    if (spec->admit && !spec->admit(ip)) return false;
    if (spec->release) spec->release(*admitted);
    *admitted = ip;
    return true;
  });
}

void start_session(const std::shared_ptr<const ListenerSpec>& spec,
                   const std::shared_ptr<Connection>& conn) {
  if (spec->is_trusted) conn->set_trusted(spec->is_trusted(conn->info().remote_ip));
  auto session = spec->make_session(*conn);
  if (!session) {
    conn->close();
    return;
  }
  std::shared_ptr<tls::Context> tls;
  if (spec->config.tls == config::TlsMode::kImplicit && spec->tls_context)
    tls = spec->tls_context();
  conn->start(std::move(session), std::move(tls));
}

// The PROXY header is complete: the client it names becomes the connection's
// remote (admission, trust, registry and logs follow), unless it is LOCAL or
// names no IP client, in which case the proxy itself is the client.
void on_proxy_header(const std::shared_ptr<const ListenerSpec>& spec, Connection& c,
                     const proxy::Header& h) {
  auto conn = c.shared_from_this();
  std::string proxy_ip = c.info().remote_ip;
  const char* proto = config::to_string(c.info().protocol);
  if (h.has_address && !c.set_remote(h.source_ip, h.source_port)) {
    log::warn("connect", {{"proto", proto},
                          {"session", c.info().id},
                          {"remote", h.source_ip},
                          {"proxy", proxy_ip},
                          {"result", "refused"},
                          {"reason", "too many connections from this address"}});
    c.write(spec->refusal);
    c.close();
    return;
  }
  log::debug("proxy", {{"proto", proto},
                       {"session", c.info().id},
                       {"remote", c.info().remote_ip},
                       {"proxy", proxy_ip},
                       {"version", h.version},
                       {"command", h.command == proxy::Command::kLocal ? "local" : "proxy"},
                       {"result", "ok"}});
  start_session(spec, conn);
}

}  // namespace

void Worker::on_connection(uv_stream_t* server, int status) {
  auto* l = static_cast<Listener*>(server->data);
  Worker& w = *l->worker;
  if (status < 0 || w.stopping_) return;
  ConnectionInfo info;
  info.protocol = l->spec->config.protocol;
  info.tls_mode = l->spec->config.tls;
  info.local_port = l->spec->config.port;
  info.started = std::chrono::steady_clock::now();
  info.started_unix = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto conn = std::make_shared<Connection>(w, std::move(info), l->spec->output_high_water);
  if (!conn->attach(server)) return;
  const auto& ci = conn->info();
  const bool proxied = l->spec->config.proxy_protocol;
  if (proxied && !(l->spec->is_trusted && l->spec->is_trusted(ci.remote_ip))) {
    // Only a listed proxy may name another client: close without a word.
    log::warn("proxy", {{"proto", config::to_string(ci.protocol)},
                        {"session", ci.id},
                        {"remote", ci.remote_ip},
                        {"result", "refused"},
                        {"reason", "peer not in trusted_networks"}});
    conn->close();
    return;
  }
  if (l->spec->admit && !l->spec->admit(ci.remote_ip)) {
    log::warn("connect", {{"proto", config::to_string(ci.protocol)},
                          {"remote", ci.remote_ip},
                          {"result", "refused"},
                          {"reason", "too many connections from this address"}});
    conn->write(l->spec->refusal);
    conn->close();
    return;
  }
  w.add_connection(conn);
  auto spec = l->spec;
  track_admission(spec, *conn);
  if (proxied) {
    // Until the header names the client, the proxy's own address holds the slot.
    size_t max = spec->proxy_header_max ? spec->proxy_header_max() : 4096;
    auto timeout = spec->proxy_timeout ? spec->proxy_timeout() : std::chrono::milliseconds(60000);
    conn->expect_proxy_header(max, timeout, [spec](Connection& c, const proxy::Header& h) {
      on_proxy_header(spec, c, h);
    });
    return;
  }
  start_session(spec, conn);
}

void Worker::start() {
  thread_ = std::thread([this] {
    std::string n = "roost-w" + std::to_string(index_);
    pthread_setname_np(pthread_self(), n.c_str());
    run();
  });
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::post(std::function<void()> fn) {
  std::unique_lock lock(mu_);
  if (async_closed_) {
    // The loop has ended (shutdown): drop the work, outside the lock.
    lock.unlock();
    fn = nullptr;
    return;
  }
  posted_.push_back(std::move(fn));
  uv_async_send(&async_);
}

void Worker::on_async(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard lock(w->mu_);
    todo.swap(w->posted_);
  }
  for (auto& fn : todo) fn();
  todo.clear();
  if (w->stopping_ && w->connections_.empty()) {
    std::lock_guard lock(w->mu_);
    if (!w->async_closed_) {
      w->async_closed_ = true;
      w->posted_.clear();
      uv_close(reinterpret_cast<uv_handle_t*>(&w->async_), nullptr);
    }
  }
}

void Worker::stop_listening() {
  post([this] {
    for (auto& l : listeners_) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&l->tcp)))
        uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), nullptr);
    }
    // No session yet (PROXY header still awaited): nothing to finish.
    for_each_connection([](Connection& c) {
      if (c.awaiting_proxy_header()) c.abort();
    });
  });
}

void Worker::for_each_connection(const std::function<void(Connection&)>& fn) {
  std::vector<std::shared_ptr<Connection>> live;
  for (auto& [p, weak] : connections_)
    if (auto c = weak.lock()) live.push_back(std::move(c));
  for (auto& c : live) fn(*c);
}

void Worker::add_connection(const std::shared_ptr<Connection>& c) {
  connections_[c.get()] = c;
  live_.store(connections_.size());
}

void Worker::remove_connection(Connection* c) {
  connections_.erase(c);
  live_.store(connections_.size());
  if (stopping_ && connections_.empty()) post([] {});  // let on_async close the loop
}

void Worker::stop_and_join() {
  post([this] {
    stopping_ = true;
    for (auto& l : listeners_) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&l->tcp)))
        uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), nullptr);
    }
    for_each_connection([](Connection& c) { c.abort(); });
  });
  if (thread_.joinable()) thread_.join();
}

std::string Worker::next_session_id() {
  ++session_counter_;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%x%02x%06llx", static_cast<unsigned>(getpid() & 0xffff),
                index_ & 0xff, static_cast<unsigned long long>(session_counter_));
  return buf;
}

}  // namespace core::net
