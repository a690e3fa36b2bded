#include "core/daemon/daemon.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "admin/api.h"
#include "autoconfig/autoconfig.h"
#include "core/config/config.h"
#include "core/config/directory.h"
#include "core/http/session.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/net/worker.h"
#include "core/server/services.h"
#include "core/tls/tls.h"
#include "imap/session.h"
#include "lmtp/session.h"
#include "pop3/session.h"
#include "quota_status/session.h"
#include "store/maildir/cache.h"
#include "store/store.h"

namespace core::daemon {

namespace fs = std::filesystem;
using config::Protocol;

namespace {

// "FILE:LINE: " of a listener entry, for start-up errors.
std::string where(const config::Listener& l) {
  return l.where.file + ":" + std::to_string(l.where.line) + ": ";
}

void print_diagnostics(const std::vector<config::Diagnostic>& ds) {
  for (const auto& d : ds) std::cerr << d.str() << "\n";
}

// Loads every domain file of the config's domains_dir; logs the broken ones.
std::shared_ptr<const config::Directory> load_directory(
    const config::Config& cfg, const config::Directory* previous,
    std::vector<config::Diagnostic>* problems_out = nullptr) {
  std::vector<config::DomainFile> files;
  for (const auto& path : config::list_domain_files(cfg.domains_dir)) {
    auto f = config::load_domain_file(path);
    for (const auto& e : f.errors) {
      log::error("domain", {{"file", e.file}, {"line", e.line}, {"reason", e.message}});
    }
    for (const auto& w : f.warnings) {
      log::warn("domain", {{"file", w.file}, {"line", w.line}, {"reason", w.message}});
    }
    files.push_back(std::move(f));
  }
  std::vector<config::Diagnostic> problems;
  auto dir = config::Directory::build(cfg, std::move(files), previous, &problems);
  for (const auto& p : problems) {
    log::error("domain", {{"file", p.file}, {"line", p.line}, {"reason", p.message}});
  }
  if (problems_out) *problems_out = problems;
  // roost_domains_broken (admin API, /metrics)
  int64_t broken_files = 0;
  for (const auto& f : dir->files()) broken_files += f.errors.empty() ? 0 : 1;
  metrics::domains_broken().set(broken_files);
  return dir;
}

std::shared_ptr<tls::Context> load_tls(const config::Config& cfg, std::string* error) {
  const auto& pair = cfg.tls.default_pair;
  if (pair.certificate.empty()) return nullptr;
  bool have_cert = fs::exists(pair.certificate), have_key = fs::exists(pair.private_key);
  if (!have_cert && !have_key) {
    // First start of a fresh installation: make a self-signed pair so that
    // TLS works at once; operators replace it with a real certificate.
    std::string err =
        tls::make_self_signed(pair.certificate, pair.private_key, cfg.server.hostname);
    if (!err.empty()) {
      *error = err;
      return nullptr;
    }
    log::warn("tls",
              {{"reason", "created a self-signed certificate"}, {"certificate", pair.certificate}});
  }
  return tls::Context::create_server(cfg.tls, error);
}

std::unique_ptr<store::Store> make_store(const config::Config& cfg) {
  const int64_t expunge_memory =
      std::chrono::duration_cast<std::chrono::seconds>(cfg.limits.expunge_memory).count();
  store::maildir::set_mailbox_cache_limit(cfg.limits.mailbox_cache);
  if (cfg.store.backend == "memory") return store::make_memory_store(expunge_memory);
  store::MaildirOptions o;
  o.expunge_memory_seconds = expunge_memory;
  o.path_template = cfg.store.path;
  o.index_dir = (fs::path(cfg.server.state_dir) / "index").string();
  o.fsync = cfg.store.fsync;
  o.exclusive = cfg.store.exclusive;
  return store::make_maildir_store(o);
}

// systemd Type=notify (libsystemd's sd_notify; a no-op without $NOTIFY_SOCKET).
void notify_systemd(const char* state) {
  sd_notify(0, state);
}

// Brackets a reload for systemd: RELOADING=1 with the monotonic time (systemd
// 253+ matches it against its own clock; 252 ignores it), then READY=1 and a
// STATUS= line on every way out of the reload.
class ReloadNotice {
 public:
  ReloadNotice() {
    // steady_clock is CLOCK_MONOTONIC on Linux, the clock systemd means.
    const auto usec =
        static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now().time_since_epoch())
                                            .count());
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading", usec);
  }
  ~ReloadNotice() { sd_notifyf(0, "READY=1\nSTATUS=%s", status_.c_str()); }
  void set_status(std::string s) { status_ = std::move(s); }

 private:
  std::string status_ = "Reload failed: old configuration kept";
};

bool drop_privileges(const config::Config& cfg) {
  if (geteuid() != 0) return true;
  if (!cfg.server.user) {
    log::warn("privileges", {{"reason", "running as root: set server.user to drop privileges"}});
    return true;
  }
  passwd* pw = getpwnam(cfg.server.user->c_str());
  if (!pw) {
    std::cerr << cfg.file << ": server.user: no such user: " << *cfg.server.user << "\n";
    return false;
  }
  // The state directory must belong to the service user (indexes, locks).
  std::error_code ec;
  fs::create_directories(cfg.server.state_dir, ec);
  if (chown(cfg.server.state_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    log::warn("privileges", {{"reason", "could not chown state_dir"}});
  }
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0) {
    std::cerr << "roostd: could not drop privileges to " << pw->pw_name << "\n";
    return false;
  }
  log::info("privileges", {{"user", pw->pw_name}});
  return true;
}

class Daemon {
 public:
  explicit Daemon(Options o) : opts_(std::move(o)) {}
  int run();

 private:
  bool bind_listeners();
  server::ReloadReport reload();
  // Admin listeners: (re)reads each one's token_file into its Api. At start a
  // missing or empty file is an error (FILE:LINE on stderr); on reload the
  // old token stays and the problem is logged.
  bool load_admin_tokens(bool at_start);
  void save_last_logins();
  void begin_shutdown();
  void kick_changed_sessions(const config::Directory& now);
  std::shared_ptr<const net::ListenerSpec> make_spec(const config::Listener& l);

  Options opts_;
  std::unique_ptr<server::Services> services_;
  std::vector<std::unique_ptr<net::Worker>> workers_;
  uv_loop_t loop_{};
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_timer_t shutdown_timer_{};
  std::atomic<bool> stopping_{false};
  uint64_t generation_ = 1;
  std::vector<std::string> unix_sockets_;  // removed at exit
  std::mutex reload_mu_;                   // SIGHUP and POST /api/v1/reload never overlap
  struct AdminListener {
    config::Listener listener;
    std::shared_ptr<roost::admin::Api> api;
  };
  std::vector<AdminListener> admin_;
  uv_timer_t last_login_timer_{};  // saves state_dir/last-login.json every 30 s
  std::string last_login_path_;
};

std::shared_ptr<const net::ListenerSpec> Daemon::make_spec(const config::Listener& l) {
  auto spec = std::make_shared<net::ListenerSpec>();
  spec->config = l;
  auto* svc = services_.get();
  spec->admit = [svc](const std::string& ip) {
    return svc->registry().admit_ip(ip, svc->runtime()->config().limits.connections_per_ip);
  };
  spec->release = [svc](const std::string& ip) { svc->registry().release_ip(ip); };
  spec->is_trusted = [svc](const std::string& ip) {
    const auto& nets = svc->runtime()->config().trusted_networks;
    return std::any_of(nets.begin(), nets.end(), [&](const auto& n) { return n.contains(ip); });
  };
  spec->tls_context = [svc] { return svc->runtime()->tls; };
  spec->proxy_header_max = [svc] { return svc->runtime()->config().limits.proxy_header_max; };
  spec->proxy_timeout = [svc] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        svc->runtime()->config().limits.idle_timeout.preauth);
  };
  spec->output_high_water = services_->runtime()->config().limits.output_buffer;
  auto add_entry = [svc](net::Connection& c, Protocol p, std::shared_ptr<net::Session> s) {
    server::SessionEntry e;
    e.id = c.info().id;
    e.protocol = p;
    e.remote = c.info().remote_ip;
    e.since = c.info().started_unix;
    e.tls = c.info().tls_mode == config::TlsMode::kImplicit;
    e.session = s;
    e.worker = &c.worker();
    svc->registry().add(std::move(e));
  };
  if (l.protocol == Protocol::kImap) {
    spec->refusal = "* BYE [UNAVAILABLE] Too many connections from your address\r\n";
    spec->make_session = [svc, add_entry](net::Connection& c) -> std::shared_ptr<net::Session> {
      auto s = std::make_shared<imap::Session>(*svc, svc->runtime());
      add_entry(c, Protocol::kImap, s);
      return s;
    };
  }
  if (l.protocol == Protocol::kPop3) {
    spec->refusal = "-ERR [SYS/TEMP] Too many connections from your address\r\n";
    spec->make_session = [svc, add_entry](net::Connection& c) -> std::shared_ptr<net::Session> {
      auto s = std::make_shared<pop3::Session>(*svc, svc->runtime());
      add_entry(c, Protocol::kPop3, s);
      return s;
    };
  }
  if (l.protocol == Protocol::kLmtp) {
    spec->refusal = "421 4.3.2 Too many connections from your address\r\n";
    spec->make_session = [svc, add_entry](net::Connection& c) -> std::shared_ptr<net::Session> {
      auto s = std::make_shared<lmtp::Session>(*svc, svc->runtime());
      add_entry(c, Protocol::kLmtp, s);
      return s;
    };
  }
  if (l.protocol == Protocol::kQuotaStatus) {
    // Postfix policy protocol (docs/QUOTA.md): a refused connection makes
    // Postfix answer its own default (a temporary error) for the recipient.
    spec->refusal = "action=DEFER_IF_PERMIT Service temporarily unavailable\n\n";
    spec->make_session = [svc, add_entry](net::Connection& c) -> std::shared_ptr<net::Session> {
      auto s = std::make_shared<quota_status::Session>(*svc, svc->runtime());
      add_entry(c, Protocol::kQuotaStatus, s);
      return s;
    };
  }
  // HTTP listeners (core/http): a refused connection gets a complete answer.
  const char* http_refusal =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (l.protocol == Protocol::kAutoconfig) {
    // Client autoconfig (docs/AUTOCONFIG.md), answered from the current
    // directory: a reload applies to the next request.
    spec->refusal = http_refusal;
    spec->make_session = [svc, add_entry](net::Connection& c) -> std::shared_ptr<net::Session> {
      auto s = roost::http::make_http_session(
          *svc,
          [svc](const roost::http::Request& r) {
            return autoconfig::handle(*svc->runtime()->directory, r);
          },
          "autoconfig");
      add_entry(c, Protocol::kAutoconfig, s);
      return s;
    };
  }
  if (l.protocol == Protocol::kAdmin) {
    // The admin API and /metrics (admin/, docs/ADMIN.md); the token is set
    // by load_admin_tokens().
    auto api = std::make_shared<roost::admin::Api>(*svc);
    admin_.push_back({l, api});
    spec->refusal = http_refusal;
    spec->make_session = [svc, api,
                          add_entry](net::Connection& c) -> std::shared_ptr<net::Session> {
      auto s = roost::http::make_http_session(
          *svc, [api](const roost::http::Request& r) { return api->handle(r); }, "admin");
      add_entry(c, Protocol::kAdmin, s);
      return s;
    };
  }
  return spec;
}

bool Daemon::bind_listeners() {
  const auto& cfg = services_->runtime()->config();
  bool any = false;
  for (const auto& l : cfg.listeners) {
    if (l.protocol != Protocol::kPop3 && l.protocol != Protocol::kImap &&
        l.protocol != Protocol::kLmtp && l.protocol != Protocol::kQuotaStatus &&
        l.protocol != Protocol::kAutoconfig && l.protocol != Protocol::kAdmin) {
      log::warn("listener", {{"proto", config::to_string(l.protocol)},
                             {"address", l.address},
                             {"port", l.port},
                             {"reason", "protocol not served by this version; ignored"}});
      continue;
    }
    if ((l.tls != config::TlsMode::kNone) && !services_->runtime()->tls) {
      std::cerr << where(l) << "listener needs tls: certificate and private_key\n";
      return false;
    }
    auto spec = make_spec(l);
    if (!spec->make_session) {  // a protocol make_spec does not wire (yet)
      log::warn("listener", {{"proto", config::to_string(l.protocol)},
                             {"address", l.address},
                             {"port", l.port},
                             {"reason", "protocol not served by this version; ignored"}});
      continue;
    }
    if (!l.path.empty()) {
      // A unix socket (LMTP): one socket file, accepted on by every worker.
      std::string err;
      std::error_code ec;
      fs::create_directories(fs::path(l.path).parent_path(), ec);
      int fd = net::open_unix_listener(l.path, l.mode, l.group, &err);
      if (fd < 0) {
        std::cerr << where(l) << err << "\n";
        log::error("listener", {{"path", l.path}, {"reason", err}});
        return false;
      }
      for (size_t i = 0; i < workers_.size(); ++i) {
        int wfd = i + 1 == workers_.size() ? fd : dup(fd);
        if (wfd < 0 || !workers_[i]->add_unix_listener(wfd, spec, &err)) {
          if (wfd < 0) err = std::string("dup: ") + std::strerror(errno);
          std::cerr << where(l) << err << "\n";
          log::error("listener", {{"path", l.path}, {"reason", err}});
          return false;
        }
      }
      unix_sockets_.push_back(l.path);
      any = true;
      continue;
    }
    for (auto& w : workers_) {
      std::string err;
      int fd = net::open_tcp_listener(l.address, l.port, &err);
      if (fd < 0 || !w->add_tcp_listener(fd, spec, &err)) {
        std::cerr << where(l) << err << "\n";
        log::error("listener", {{"address", l.address}, {"port", l.port}, {"reason", err}});
        return false;
      }
    }
    any = true;
  }
  if (!any) log::warn("listener", {{"reason", "no listener configured"}});
  return true;
}

void Daemon::kick_changed_sessions(const config::Directory& now) {
  for (const auto& e : services_->registry().snapshot()) {
    if (e.account.empty() || !e.worker) continue;
    const char* reason = nullptr;
    auto acct = now.find_account(e.account);
    if (!acct) {
      reason = "the account was removed";
    } else if (acct->account->status == config::AccountStatus::kSuspended) {
      reason = "the account was suspended";
    } else if (acct->account->password != e.password_hash) {
      reason = "the password was changed";
    } else if (!acct->policy.allows(e.protocol)) {
      reason = "this protocol was disabled for the account";
    }
    if (!reason) continue;
    auto weak = e.session;
    e.worker->post([weak, reason] {
      if (auto s = weak.lock()) s->on_kick(reason);
    });
  }
}

server::ReloadReport Daemon::reload() {
  // Runs on the main loop (SIGHUP) or a store-pool thread (admin API).
  std::lock_guard reload_lock(reload_mu_);
  server::ReloadReport report;
  ReloadNotice notice;
  auto old = services_->runtime();
  auto loaded = config::load_config(opts_.config_path);
  if (!loaded.config) {
    for (const auto& d : loaded.errors)
      log::error("reload", {{"file", d.file}, {"line", d.line}, {"reason", d.message}});
    log::error("reload", {{"result", "fail"}, {"reason", "main config broken; old one kept"}});
    report.main_errors = loaded.errors;
    report.generation = old->generation;
    return report;
  }
  auto dir = load_directory(*loaded.config, old->directory.get(), &report.problems);
  std::string tls_error;
  auto tls = load_tls(*loaded.config, &tls_error);
  if (!tls && !tls_error.empty()) {
    log::error("reload", {{"reason", "certificates: " + tls_error + "; old ones kept"}});
    tls = old->tls;
    report.tls_error = tls_error;
  }
  auto rt = std::make_shared<server::Runtime>();
  rt->directory = dir;
  rt->tls = tls;
  rt->generation = ++generation_;
  services_->set_runtime(rt);
  log::configure(loaded.config->log.json,
                 log::parse_level(loaded.config->log.level).value_or(log::Level::kInfo));
  store::maildir::set_mailbox_cache_limit(loaded.config->limits.mailbox_cache);
  size_t broken = 0;
  for (const auto& f : dir->files()) broken += f.domain ? 0 : 1;
  log::info("reload", {{"result", "ok"},
                       {"domains", static_cast<int64_t>(dir->files().size())},
                       {"broken", static_cast<int64_t>(broken)},
                       {"generation", static_cast<int64_t>(rt->generation)}});
  notice.set_status("Reloaded: " + std::to_string(dir->files().size()) + " domain files, " +
                    std::to_string(broken) + " broken");
  kick_changed_sessions(*dir);
  load_admin_tokens(false);
  report.ok = true;
  report.generation = rt->generation;
  for (const auto& f : dir->files()) {
    report.files.push_back({f.file, f.errors.empty(), f.errors, f.warnings});
  }
  return report;
}

bool Daemon::load_admin_tokens(bool at_start) {
  for (auto& a : admin_) {
    auto t = roost::admin::read_token_file(a.listener.token_file);
    if (!t.token) {
      if (at_start) {
        std::cerr << where(a.listener) << "token_file: " << t.error << "\n";
        return false;
      }
      log::error("reload", {{"file", a.listener.token_file},
                            {"reason", "admin token_file: " + t.error + "; old token kept"}});
      continue;
    }
    if (t.world_readable) {
      log::warn("listener", {{"proto", "admin"},
                             {"file", a.listener.token_file},
                             {"reason", "token_file is readable by every user; chmod 0600"}});
    }
    a.api->set_token(std::move(*t.token));
  }
  return true;
}

void Daemon::save_last_logins() {
  if (last_login_path_.empty() || !services_->last_logins().take_dirty()) return;
  auto err = roost::admin::save_last_logins(last_login_path_, services_->last_logins().snapshot());
  if (!err.empty()) log::warn("last_login", {{"reason", err}});
}

void Daemon::begin_shutdown() {
  if (stopping_) return;
  stopping_ = true;
  log::info("shutdown", {{"reason", "signal"}});
  notify_systemd("STOPPING=1\nSTATUS=Stopping: sessions finishing");
  for (auto& w : workers_) {
    w->stop_listening();
  }
  for (const auto& e : services_->registry().snapshot()) {
    if (!e.worker) continue;
    auto weak = e.session;
    e.worker->post([weak] {
      if (auto s = weak.lock()) s->on_shutdown();
    });
  }
  auto grace = services_->runtime()->config().server.shutdown_grace;
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;
  // Check every 100 ms whether every session is gone; force at the deadline.
  static std::chrono::steady_clock::time_point deadline;
  deadline = std::chrono::steady_clock::now() + grace;
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* d = static_cast<Daemon*>(t->data);
        size_t live = 0;
        for (auto& w : d->workers_) live += w->connection_count();
        if (live == 0 || std::chrono::steady_clock::now() >= deadline) {
          uv_timer_stop(t);
          uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
          uv_close(reinterpret_cast<uv_handle_t*>(&d->sigterm_), nullptr);
          uv_close(reinterpret_cast<uv_handle_t*>(&d->sigint_), nullptr);
          uv_close(reinterpret_cast<uv_handle_t*>(&d->sighup_), nullptr);
          uv_close(reinterpret_cast<uv_handle_t*>(&d->last_login_timer_), nullptr);
        }
      },
      0, 100);
}

int Daemon::run() {
  metrics::mark_start();
  auto loaded = config::load_config(opts_.config_path);
  print_diagnostics(loaded.warnings);
  if (!loaded.config) {
    print_diagnostics(loaded.errors);
    return 1;
  }
  const auto& cfg = *loaded.config;
  log::configure(cfg.log.json, log::parse_level(cfg.log.level).value_or(log::Level::kInfo));

  std::error_code ec;
  fs::create_directories(cfg.server.state_dir, ec);
  auto dir = load_directory(cfg, nullptr);
  std::string tls_error;
  auto tls = load_tls(cfg, &tls_error);
  if (!tls && !tls_error.empty()) {
    std::cerr << "roostd: TLS: " << tls_error << "\n";
    return 1;
  }
  auto rt = std::make_shared<server::Runtime>();
  rt->directory = dir;
  rt->tls = tls;
  rt->generation = generation_;
  services_ = std::make_unique<server::Services>(rt, make_store(cfg));
  services_->set_reload_hook([this] {
    if (stopping_) {
      server::ReloadReport r;
      r.main_errors.push_back({"", 0, "the server is stopping"});
      return r;
    }
    return reload();
  });
  // Last logins survive restarts (admin API; docs/ADMIN.md).
  last_login_path_ = (fs::path(cfg.server.state_dir) / "last-login.json").string();
  {
    std::string err;
    services_->last_logins().load(roost::admin::load_last_logins(last_login_path_, &err));
    if (!err.empty()) log::warn("last_login", {{"reason", err}});
  }

  unsigned n = cfg.server.workers ? cfg.server.workers : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<net::Worker>(i));
  if (!bind_listeners()) return 1;
  if (!load_admin_tokens(true)) return 1;
  if (!drop_privileges(cfg)) return 1;

  uv_loop_init(&loop_);
  for (auto* sig : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(&loop_, sig);
    sig->data = this;
  }
  uv_signal_start(
      &sigterm_, [](uv_signal_t* s, int) { static_cast<Daemon*>(s->data)->begin_shutdown(); },
      SIGTERM);
  uv_signal_start(
      &sigint_, [](uv_signal_t* s, int) { static_cast<Daemon*>(s->data)->begin_shutdown(); },
      SIGINT);
  uv_signal_start(
      &sighup_,
      [](uv_signal_t* s, int) {
        auto* d = static_cast<Daemon*>(s->data);
        if (!d->stopping_) d->reload();
      },
      SIGHUP);
  signal(SIGPIPE, SIG_IGN);
  uv_timer_init(&loop_, &last_login_timer_);
  last_login_timer_.data = this;
  uv_timer_start(
      &last_login_timer_, [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->save_last_logins(); },
      30000, 30000);

  for (auto& w : workers_) w->start();
  size_t domains = 0, accounts = 0;
  for (const auto& f : dir->files()) {
    if (!f.domain) continue;
    ++domains;
    accounts += f.domain->accounts.size();
  }
  log::info("ready", {{"workers", static_cast<int64_t>(n)},
                      {"listeners", static_cast<int64_t>(cfg.listeners.size())},
                      {"domains", static_cast<int64_t>(domains)},
                      {"accounts", static_cast<int64_t>(accounts)},
                      {"pid", static_cast<int64_t>(getpid())}});
  sd_notifyf(0, "READY=1\nSTATUS=Serving %zu domains, %zu accounts", domains, accounts);

  uv_run(&loop_, UV_RUN_DEFAULT);

  notify_systemd("STOPPING=1");
  for (auto& w : workers_) w->stop_and_join();
  save_last_logins();
  services_.reset();  // finishes store work in flight; its results are dropped
  workers_.clear();
  for (const auto& path : unix_sockets_) unlink(path.c_str());
  uv_loop_close(&loop_);
  log::info("stopped", {});
  return 0;
}

}  // namespace

int run(const Options& options) {
  Daemon d(options);
  return d.run();
}

}  // namespace core::daemon
