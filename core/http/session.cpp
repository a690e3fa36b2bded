// The HTTP session: see session.h.
#include "core/http/session.h"

#include <chrono>
#include <ctime>
#include <exception>

#include "core/http/parser.h"
#include "core/log/log.h"
#include "core/util/ascii.h"

namespace roost::http {

namespace log = core::log;

namespace {

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

std::string http_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

class HttpSession : public core::net::Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(core::server::Services& services, Handler handler, std::string listener)
      : services_(services),
        handler_(std::move(handler)),
        listener_(std::move(listener)),
        rt_(services.runtime()),
        parser_(limits(rt_->config())) {}

  void on_start() override { conn().set_idle_timeout(rt_->config().limits.idle_timeout.http); }

  void on_data(std::string_view bytes) override {
    if (ending_) return;
    parser_.feed(bytes);
    pump();
  }

  void on_idle_timeout() override {
    if (busy_) {
      conn().set_idle_timeout(rt_->config().limits.idle_timeout.http);
      return;
    }
    log::info("timeout", {{"proto", listener_},
                          {"session", conn().info().id},
                          {"remote", conn().info().remote_ip},
                          {"mid_request", parser_.buffered() > 0}});
    conn().close();
  }

  void on_shutdown() override {
    ending_ = true;
    if (!busy_) conn().close();
  }

  void on_kick(std::string_view) override {}

  void on_closed() override { services_.registry().remove(conn().info().id); }

 private:
  static ParserLimits limits(const core::config::Config& c) {
    ParserLimits l;
    l.header_size = c.limits.http_header_size;
    l.body_size = c.limits.http_body_size;
    return l;
  }

  void pump() {
    while (!busy_ && !ending_ && !conn().closed()) {
      Event ev = parser_.next();
      switch (ev.kind) {
        case Event::Kind::kNeedMore:
          return;
        case Event::Kind::kContinue:
          conn().write("HTTP/1.1 100 Continue\r\n\r\n");
          continue;
        case Event::Kind::kError: {
          Response r = text(ev.status, reason_phrase(ev.status) + "\n");
          conn().write(serialize(r, true, false));
          log::info("http", {{"proto", listener_},
                             {"session", conn().info().id},
                             {"remote", conn().info().remote_ip},
                             {"status", ev.status},
                             {"reason", ev.reason}});
          ending_ = true;
          conn().close();
          return;
        }
        case Event::Kind::kRequest:
          dispatch(std::move(ev));
          continue;
      }
    }
  }

  void dispatch(Event ev) {
    auto req = std::make_shared<Request>(std::move(ev.request));
    req->remote = conn().info().remote_ip;
    req->tls = conn().tls_active();
    req->sni = conn().tls_sni();
    for (auto& c : req->sni) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    bool head = req->method == "HEAD";
    if (head) req->method = "GET";
    bool keep_alive = ev.keep_alive;
    auto started = std::chrono::steady_clock::now();
    auto result = std::make_shared<Response>();
    auto failure = std::make_shared<std::string>();
    busy_ = true;
    conn().pause_reading();
    auto self = shared_from_this();
    Handler handler = handler_;
    bool queued = conn().offload(
        services_.store_pool(), self,
        [handler, req, result, failure] {
          try {
            *result = handler(*req);
          } catch (const std::exception& e) {
            *failure = e.what();
          } catch (...) {
            *failure = "unknown exception";
          }
        },
        [this, req, result, failure, head, keep_alive, started] {
          busy_ = false;
          if (!failure->empty()) {
            log::error("error", {{"proto", listener_},
                                 {"session", conn().info().id},
                                 {"path", req->path},
                                 {"reason", "handler failed: " + *failure}});
            *result = text(500, "Internal Server Error\n");
          }
          finish(*req, *result, head, keep_alive, started);
        });
    if (!queued) {
      busy_ = false;
      Response busy = text(503, "Service Unavailable\n");
      busy.headers.emplace_back("Retry-After", "5");
      finish(*req, busy, head, false, started);
    }
  }

  void finish(const Request& req, const Response& r, bool head, bool keep_alive,
              std::chrono::steady_clock::time_point started) {
    bool close = !keep_alive || ending_;
    conn().write(serialize(r, close, head));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    log::info("http", {{"proto", listener_},
                       {"session", conn().info().id},
                       {"method", head ? std::string_view("HEAD") : std::string_view(req.method)},
                       {"path", req.path},
                       {"status", r.status},
                       {"remote", req.remote},
                       {"duration_ms", static_cast<int64_t>(ms)}});
    if (close) {
      ending_ = true;
      conn().close();
      return;
    }
    conn().set_idle_timeout(rt_->config().limits.idle_timeout.http);
    conn().resume_reading();
    pump();
  }

  core::server::Services& services_;
  Handler handler_;
  std::string listener_;
  std::shared_ptr<const core::server::Runtime> rt_;
  RequestParser parser_;
  bool busy_ = false;
  bool ending_ = false;
};

}  // namespace

std::string serialize(const Response& r, bool close, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  out += "Date: " + http_date() + "\r\n";
  bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
  if (!no_body && !r.content_type.empty() && !has_line_break(r.content_type)) {
    out += "Content-Type: " + r.content_type + "\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    // Framing is the session's: a handler cannot set it or split headers.
    if (name.empty() || has_line_break(name) || has_line_break(value) ||
        name.find(':') != std::string::npos || core::ascii_iequals(name, "content-length") ||
        core::ascii_iequals(name, "transfer-encoding") || core::ascii_iequals(name, "connection")) {
      continue;
    }
    out += name + ": " + value + "\r\n";
  }
  if (!no_body) out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head_only && !no_body) out += r.body;
  return out;
}

std::shared_ptr<core::net::Session> make_http_session(core::server::Services& services,
                                                      Handler handler,
                                                      std::string_view listener_name) {
  return std::make_shared<HttpSession>(services, std::move(handler), std::string(listener_name));
}

}  // namespace roost::http
