// libFuzzer target for core/net/proxy (the PROXY protocol header parser).
//
// Byte 0 picks the header bound, byte 1 seeds the piece sizes; the rest is
// what the peer sends. Checks that feeding the input in growing prefixes
// (as the connection does) gives the same answer as the whole input, that a
// finished header never claims more bytes than it saw or than the bound, and
// that an error always carries a reason.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/net/proxy.h"

namespace {

void require(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace proxy = core::net::proxy;
  if (size < 2) return 0;
  size_t max = 64 + static_cast<size_t>(data[0]) * 16;
  uint32_t seed = data[1] * 2654435761u + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  proxy::Result whole = proxy::parse(in, max);
  size_t bound = std::max(max, proxy::kMinMaxLength);
  if (whole.status == proxy::Status::kDone) {
    require(whole.consumed > 0 && whole.consumed <= in.size() && whole.consumed <= bound);
    if (whole.header.has_address) require(!whole.header.source_ip.empty());
  }
  if (whole.status == proxy::Status::kError) require(!whole.error.empty());

  // Growing prefixes: the first answer that is not kNeedMore must match.
  size_t pos = 0;
  proxy::Result step;
  while (pos < in.size()) {
    seed = seed * 1103515245u + 12345u;
    pos = std::min(in.size(), pos + 1 + (seed >> 16) % 24);
    step = proxy::parse(in.substr(0, pos), max);
    if (step.status != proxy::Status::kNeedMore) break;
  }
  require(step.status == whole.status);
  if (step.status == proxy::Status::kDone) {
    require(step.consumed == whole.consumed);
    require(step.header.source_ip == whole.header.source_ip);
    require(step.header.source_port == whole.header.source_port);
    require(step.header.tlv_count == whole.header.tlv_count);
  }
  return 0;
}
