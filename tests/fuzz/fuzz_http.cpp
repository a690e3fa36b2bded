// libFuzzer target for core/http's request parser (and, on the same bytes,
// the Autodiscover request reader of autoconfig/).
//
// Byte 0 picks small limits (so they are hit), byte 1 seeds the piece sizes;
// the rest is what a client sends. Checks that the events are the same
// whether the input arrives whole or in pieces, that an error carries one of
// the statuses the session answers with, that nothing comes after an error,
// and that a request respects the limits (body size, a path starting with
// '/', lower-case header names).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "autoconfig/autoconfig.h"
#include "core/http/parser.h"

namespace {

void require(bool ok) {
  if (!ok) abort();
}

using roost::http::Event;

struct Seen {
  std::vector<Event> events;
};

void drain(roost::http::RequestParser& p, Seen& s) {
  while (true) {
    Event e = p.next();
    if (e.kind == Event::Kind::kNeedMore) return;
    s.events.push_back(std::move(e));
    if (s.events.back().kind == Event::Kind::kError) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  roost::http::ParserLimits lim;
  lim.header_size = 64 + (data[0] % 16) * 32;
  lim.body_size = (data[0] >> 4) * 16;
  uint32_t seed = data[1] * 2654435761u + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  roost::http::RequestParser whole(lim);
  Seen a;
  whole.feed(in);
  drain(whole, a);

  roost::http::RequestParser pieces(lim);
  Seen b;
  size_t pos = 0;
  while (pos < in.size()) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    size_t n = 1 + seed % 17;
    pieces.feed(in.substr(pos, n));
    pos += n;
    drain(pieces, b);
  }
  require(a.events.size() == b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    const Event& x = a.events[i];
    const Event& y = b.events[i];
    require(x.kind == y.kind);
    require(x.status == y.status);
    if (x.kind == Event::Kind::kError) {
      require(i + 1 == a.events.size());
      require(x.status == 400 || x.status == 413 || x.status == 431 || x.status == 501 ||
              x.status == 505);
    }
    if (x.kind == Event::Kind::kRequest) {
      const auto& r = x.request;
      require(r.method == y.request.method && r.target == y.request.target);
      require(r.body == y.request.body && r.headers == y.request.headers);
      require(x.keep_alive == y.keep_alive);
      require(r.body.size() <= lim.body_size);
      require(!r.path.empty() && r.path.front() == '/');
      for (const auto& [k, v] : r.headers) {
        for (char c : k) require(!(c >= 'A' && c <= 'Z'));
      }
    }
  }
  // The same bytes as an Autodiscover request body: never crashes, and an
  // address it finds is trimmed and non-empty.
  if (auto addr = autoconfig::outlook_request_address(in)) {
    require(!addr->empty() && addr->front() != ' ' && addr->back() != ' ');
  }
  return 0;
}
