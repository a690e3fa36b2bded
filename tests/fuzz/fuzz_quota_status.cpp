// libFuzzer target for quota_status/parser.
//
// Byte 0 picks small limits (so they are hit), byte 1 seeds the piece sizes;
// the rest is what a client sends. Checks that the requests are the same
// whether the input arrives whole or in pieces, that a bad request carries a
// reason and no attributes, and that a good one has at most max_attributes
// attributes with non-empty names and values within the line limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "quota_status/parser.h"

namespace {

void require(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  quota_status::ParserLimits lim;
  lim.max_line = 8 + data[0] % 64;
  lim.max_request = 32 + (data[0] >> 2) * 8;
  lim.max_attributes = 1 + data[0] % 9;
  uint32_t seed = data[1] * 2654435761u + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  quota_status::Parser whole(lim);
  std::vector<quota_status::Request> a;
  whole.feed(in, &a);

  quota_status::Parser pieces(lim);
  std::vector<quota_status::Request> b;
  size_t pos = 0;
  while (pos < in.size()) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    size_t n = 1 + seed % 17;
    pieces.feed(in.substr(pos, n), &b);
    pos += n;
  }
  require(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    require(a[i].attributes == b[i].attributes);
    require(a[i].bad == b[i].bad && a[i].reason == b[i].reason);
    if (a[i].bad) {
      require(!a[i].reason.empty() && a[i].attributes.empty());
      continue;
    }
    require(!a[i].attributes.empty() && a[i].attributes.size() <= lim.max_attributes);
    for (const auto& [k, v] : a[i].attributes) {
      require(!k.empty() && k.find('=') == std::string::npos);
      require(k.find('\n') == std::string::npos && v.find('\n') == std::string::npos);
      require(v.size() <= lim.max_line);
    }
  }
  return 0;
}
