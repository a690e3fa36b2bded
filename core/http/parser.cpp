// The HTTP/1.1 request parser over Boost.Beast's sans-I/O parser. This is the
// only file that includes Beast (it is heavy to compile).
//
// Beast's internal assertions are off here: Boost 1.74 asserts in its chunk
// parser when the final chunk's bytes are handed over again with only one
// more byte after a need_more ("0\r\n", then "0\r\nX"), which is valid
// use. The parse itself is right (the fuzz target checks it with
// sanitizers); only the debug check is wrong, and it would let a client
// abort roostd in builds that keep assertions. This file is the only one
// that includes Beast, so the setting cannot leak.
#define BOOST_DISABLE_ASSERTS 1

#include "core/http/parser.h"

#include <algorithm>
#include <optional>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/util/ascii.h"

namespace roost::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct RequestParser::Impl {
  bhttp::request_parser<bhttp::string_body> parser;
  bool header_checked = false;
};

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view to_view(beast::string_view s) {
  return std::string_view(s.data(), s.size());
}

// Whether the request line at the start of `buf` ends in a well-formed
// version other than 1.x ("HTTP/2.0", "HTTP/0.9"): Beast rejects those as
// malformed, but the right answer is 505.
bool names_other_version(std::string_view buf) {
  auto eol = buf.find_first_of("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string_view line = buf.substr(0, eol);
  auto sp = line.rfind(' ');
  if (sp == std::string_view::npos) return false;
  std::string_view v = line.substr(sp + 1);
  if (!v.starts_with("HTTP/")) return false;
  v.remove_prefix(5);
  auto dot = v.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot + 1 == v.size()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != dot && (v[i] < '0' || v[i] > '9')) return false;
  }
  return true;
}

}  // namespace

void split_target(std::string_view target, std::string* path,
                  std::vector<std::pair<std::string, std::string>>* query) {
  // absolute-form (RFC 9112 3.2.2): drop "scheme://authority".
  auto scheme = target.find("://");
  if (!target.empty() && target.front() != '/' && scheme != std::string_view::npos) {
    auto slash = target.find('/', scheme + 3);
    auto qmark = target.find('?', scheme + 3);
    if (slash == std::string_view::npos || (qmark != std::string_view::npos && qmark < slash)) {
      target = qmark == std::string_view::npos ? std::string_view("/")
                                               : target.substr(qmark);  // "?x" -> path ""
    } else {
      target = target.substr(slash);
    }
  }
  auto q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  auto hash = raw_path.find('#');
  if (hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  *path = percent_decode(raw_path, false);
  if (path->empty()) *path = "/";
  query->clear();
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  auto frag = rest.find('#');
  if (frag != std::string_view::npos) rest = rest.substr(0, frag);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string_view k = item.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    query->emplace_back(percent_decode(k, true), percent_decode(v, true));
  }
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}
RequestParser::~RequestParser() = default;

void RequestParser::feed(std::string_view bytes) {
  if (failed_) return;
  buf_.append(bytes);
}

Event RequestParser::fail(int status, std::string reason) {
  failed_ = true;
  impl_.reset();
  buf_.clear();
  Event e;
  e.kind = Event::Kind::kError;
  e.status = status;
  e.reason = std::move(reason);
  return e;
}

Event RequestParser::next() {
  if (failed_) return Event{};
  if (!impl_) {
    // Before a request line, empty lines are ignored (RFC 9112 2.2): some
    // clients send a CRLF after a POST body.
    size_t skip = 0;
    while (skip < buf_.size() && (buf_[skip] == '\r' || buf_[skip] == '\n')) ++skip;
    buf_.erase(0, skip);
    if (buf_.empty()) return Event{};
    impl_ = std::make_unique<Impl>();
    auto& p = impl_->parser;
    // The limit is checked in next() before Beast sees the header: Beast's
    // own only has to stay out of the way.
    uint64_t header_limit = limits_.header_size + 64;
    p.header_limit(static_cast<std::uint32_t>(std::min<uint64_t>(header_limit, UINT32_MAX)));
    p.body_limit(limits_.body_size);
    p.eager(false);  // stop after the header to check it before the body
    continue_sent_ = false;
    scanned_ = 0;
  }
  auto& p = impl_->parser;
  while (true) {
    if (p.is_header_done() && !impl_->header_checked) {
      impl_->header_checked = true;
      const auto& m = p.get();
      if (m.version() != 10 && m.version() != 11) {
        return fail(505, "HTTP version " + std::to_string(m.version() / 10) + "." +
                             std::to_string(m.version() % 10));
      }
      std::string_view target = to_view(m.target());
      std::string scheme = core::ascii_lower(target.substr(0, 8));
      if (!target.starts_with("/") && !scheme.starts_with("http://") &&
          !scheme.starts_with("https://")) {
        return fail(400, "request target is neither a path nor an absolute URL");
      }
      auto te = m.find(bhttp::field::transfer_encoding);
      if (te != m.end()) {
        if (core::ascii_lower(trim(to_view(te->value()))) != "chunked") {
          return fail(501, "unsupported Transfer-Encoding");
        }
        if (m.find(bhttp::field::content_length) != m.end()) {
          return fail(400, "both Transfer-Encoding and Content-Length");
        }
      }
      if (m.count(bhttp::field::content_length) > 1) {
        return fail(400, "several Content-Length fields");
      }
      if (m.count(bhttp::field::host) > 1) return fail(400, "several Host fields");
      if (m.version() == 11 && m.find(bhttp::field::host) == m.end()) {
        return fail(400, "HTTP/1.1 request without Host");
      }
      p.eager(true);
      auto expect = m.find(bhttp::field::expect);
      if (expect != m.end() && !p.is_done() && !continue_sent_ && m.version() == 11 &&
          core::ascii_lower(trim(to_view(expect->value()))) == "100-continue") {
        continue_sent_ = true;
        Event e;
        e.kind = Event::Kind::kContinue;
        return e;
      }
    }
    if (p.is_done()) break;
    if (buf_.empty()) return Event{};
    size_t avail = buf_.size();
    if (!p.is_header_done()) {
      // Beast judges a start line as soon as its CRLF is in, but only when
      // it arrives in the first piece, and counts its header limit from
      // where a piece starts: it gets exactly the complete header, and the
      // limit is checked here, so that the outcome never depends on how the
      // bytes were split.
      size_t from = scanned_ > 3 ? scanned_ - 3 : 0;
      size_t end = buf_.find("\r\n\r\n", from);
      if (end == std::string::npos) {
        if (buf_.size() >= limits_.header_size) return fail(431, "request header too large");
        scanned_ = buf_.size();
        return Event{};
      }
      if (end + 4 > limits_.header_size) return fail(431, "request header too large");
      avail = end + 4;
    } else {
      // In the body, Beast sees at most one header's worth at a time: a
      // chunk line or trailer it cannot judge within that window is too
      // large (431) whether the bytes came at once or in pieces, and one it
      // can judge gets the same verdict either way.
      avail = std::min(avail, static_cast<size_t>(limits_.header_size) + 1);
    }
    bool header_phase = !p.is_header_done();
    beast::error_code ec;
    size_t used = p.put(boost::asio::const_buffer(buf_.data(), avail), ec);
    buf_.erase(0, used);
    scanned_ = 0;
    if (ec == bhttp::error::need_more) {
      // The whole header was there: Beast wanting more means it is malformed.
      if (header_phase) return fail(400, "malformed request head");
      // Bytes held back from the window: go on with them.
      if (used > 0 && avail < buf_.size() + used) continue;
      // What Beast keeps back in a body is a chunk-size line or trailer
      // fields: those are bounded like the header.
      if (buf_.size() > limits_.header_size) return fail(431, "chunk line or trailer too large");
      return Event{};
    }
    if (ec) {
      if (ec == bhttp::error::header_limit) return fail(431, "request header too large");
      if (ec == bhttp::error::body_limit) return fail(413, "request body too large");
      if (ec == bhttp::error::bad_version && names_other_version(buf_)) {
        return fail(505, "HTTP version not supported");
      }
      if (ec == bhttp::error::bad_transfer_encoding) {
        return fail(501, "unsupported Transfer-Encoding");
      }
      return fail(400, "malformed request: " + ec.message());
    }
    if (header_phase && !p.is_header_done()) return fail(400, "malformed request head");
    if (!header_phase && used == 0 && !p.is_done()) return Event{};
  }
  // A complete request.
  auto msg = p.release();
  impl_.reset();
  Event e;
  e.kind = Event::Kind::kRequest;
  e.keep_alive = msg.keep_alive();
  Request& r = e.request;
  r.method = std::string(to_view(msg.method_string()));
  r.target = std::string(to_view(msg.target()));
  split_target(r.target, &r.path, &r.query);
  for (const auto& f : msg) {
    std::string name = core::ascii_lower(to_view(f.name_string()));
    std::string value(trim(to_view(f.value())));
    auto [it, fresh] = r.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
  }
  r.body = std::move(msg.body());
  return e;
}

}  // namespace roost::http
