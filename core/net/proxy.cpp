#include "core/net/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace core::net::proxy {

namespace {

// The 12 bytes that open every version 2 header: chosen by the protocol so
// that they cannot start a valid line of any text protocol.
constexpr unsigned char kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";

// Sizes of the address block per family (two addresses, then for IP two ports).
constexpr size_t kInetBlock = 4 + 4 + 2 + 2;
constexpr size_t kInet6Block = 16 + 16 + 2 + 2;
constexpr size_t kUnixBlock = 108 + 108;

Result fail(std::string reason) {
  Result r;
  r.status = Status::kError;
  r.error = std::move(reason);
  return r;
}

uint8_t byte_at(std::string_view b, size_t i) {
  return static_cast<uint8_t>(b[i]);
}

uint16_t be16(std::string_view b, size_t i) {
  return static_cast<uint16_t>((byte_at(b, i) << 8) | byte_at(b, i + 1));
}

// Textual form of a raw address; an IPv4-mapped IPv6 address is written as
// IPv4, as the connection does for its own peer.
std::string ip_text(int family, const unsigned char* raw) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET6) {
    in6_addr a{};
    std::memcpy(&a, raw, sizeof a);
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a, buf, sizeof buf);
    }
  } else {
    inet_ntop(AF_INET, raw, buf, sizeof buf);
  }
  return buf;
}

Result parse_v2(std::string_view b, size_t max_length) {
  size_t have = std::min(b.size(), sizeof kSignature);
  if (std::memcmp(b.data(), kSignature, have) != 0) {
    return fail("not a PROXY protocol header");
  }
  if (b.size() > 12) {
    uint8_t vc = byte_at(b, 12);
    if ((vc >> 4) != 2)
      return fail("unsupported PROXY protocol version " + std::to_string(vc >> 4));
    if ((vc & 0x0F) > 1) return fail("unknown PROXY command " + std::to_string(vc & 0x0F));
  }
  if (b.size() > 13) {
    uint8_t ft = byte_at(b, 13);
    if ((ft >> 4) > 3) return fail("unknown address family " + std::to_string(ft >> 4));
    if ((ft & 0x0F) > 2) return fail("unknown transport " + std::to_string(ft & 0x0F));
  }
  if (b.size() < kV2FixedLength) return Result{};
  size_t len = be16(b, 14);
  size_t total = kV2FixedLength + len;
  if (total > max_length) {
    return fail("header too long (" + std::to_string(total) + " bytes, at most " +
                std::to_string(max_length) + ")");
  }
  if (b.size() < total) return Result{};

  Result r;
  r.status = Status::kDone;
  r.consumed = total;
  Header& h = r.header;
  h.version = 2;
  uint8_t vc = byte_at(b, 12);
  uint8_t ft = byte_at(b, 13);
  h.command = (vc & 0x0F) == 1 ? Command::kProxy : Command::kLocal;
  switch (ft >> 4) {
    case 1:
      h.family = Family::kInet;
      break;
    case 2:
      h.family = Family::kInet6;
      break;
    case 3:
      h.family = Family::kUnix;
      break;
    default:
      h.family = Family::kUnspec;
      break;
  }
  h.stream = (ft & 0x0F) == 1;
  // LOCAL: whatever follows is to be ignored, addresses and extensions alike.
  if (h.command == Command::kLocal) return r;

  std::string_view block = b.substr(kV2FixedLength, len);
  size_t addr_len = 0;
  switch (h.family) {
    case Family::kInet:
      addr_len = kInetBlock;
      break;
    case Family::kInet6:
      addr_len = kInet6Block;
      break;
    case Family::kUnix:
      addr_len = kUnixBlock;
      break;
    case Family::kUnspec:
      addr_len = 0;
      break;
  }
  if (block.size() < addr_len) {
    return fail("address block too short (" + std::to_string(block.size()) + " bytes, need " +
                std::to_string(addr_len) + ")");
  }
  const auto* raw = reinterpret_cast<const unsigned char*>(block.data());
  if (h.family == Family::kInet || h.family == Family::kInet6) {
    size_t alen = h.family == Family::kInet ? 4 : 16;
    int af = h.family == Family::kInet ? AF_INET : AF_INET6;
    h.source_ip = ip_text(af, raw);
    h.dest_ip = ip_text(af, raw + alen);
    h.source_port = be16(block, 2 * alen);
    h.dest_port = be16(block, 2 * alen + 2);
    h.has_address = h.stream;
  }
  // Extensions: type (1 byte), length (2 bytes), value. None is needed here;
  // each must still lie wholly inside the header.
  size_t pos = addr_len;
  while (pos < block.size()) {
    if (block.size() - pos < 3) return fail("truncated TLV at offset " + std::to_string(pos));
    size_t vlen = be16(block, pos + 1);
    if (block.size() - pos - 3 < vlen) {
      return fail("TLV at offset " + std::to_string(pos) + " overruns the header");
    }
    pos += 3 + vlen;
    ++h.tlv_count;
  }
  return r;
}

bool parse_port(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

bool parse_ip(std::string_view s, int af, std::string* out) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, s.data(), s.size());
  unsigned char raw[16] = {};
  if (inet_pton(af, buf, raw) != 1) return false;
  *out = ip_text(af, raw);
  return true;
}

// "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", "PROXY TCP6 ...", or
// "PROXY UNKNOWN ...\r\n" (keep the peer address).
Result parse_v1(std::string_view b) {
  size_t have = std::min(b.size(), kV1Prefix.size());
  if (b.substr(0, have) != kV1Prefix.substr(0, have)) return fail("not a PROXY protocol header");
  size_t scan = std::min(b.size(), kV1MaxLength);
  size_t end = std::string_view::npos;
  for (size_t i = 0; i < scan; ++i) {
    char c = b[i];
    if (c == '\r') {
      if (i + 1 >= b.size()) return Result{};  // the LF may still come
      if (b[i + 1] != '\n') return fail("CR without LF in a version 1 header");
      end = i;
      break;
    }
    if (c < 0x20 || c > 0x7E) return fail("control character in a version 1 header");
  }
  if (end == std::string_view::npos) {
    if (b.size() >= kV1MaxLength) return fail("version 1 header longer than 107 bytes");
    return Result{};
  }
  std::string_view line = b.substr(kV1Prefix.size(), end - kV1Prefix.size());
  std::string_view parts[5];
  size_t n = 0;
  while (!line.empty() && n < 5) {
    size_t sp = line.find(' ');
    parts[n++] = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  }
  Result r;
  r.header.version = 1;
  r.header.command = Command::kProxy;
  if (n >= 1 && parts[0] == "UNKNOWN") {
    r.status = Status::kDone;
    r.consumed = end + 2;
    return r;
  }
  if (n < 1 || (parts[0] != "TCP4" && parts[0] != "TCP6")) {
    return fail("unknown protocol in a version 1 header");
  }
  if (n != 5 || !line.empty()) return fail("version 1 header needs 4 address fields");
  int af = parts[0] == "TCP4" ? AF_INET : AF_INET6;
  Header& h = r.header;
  h.family = af == AF_INET ? Family::kInet : Family::kInet6;
  h.stream = true;
  if (!parse_ip(parts[1], af, &h.source_ip) || !parse_ip(parts[2], af, &h.dest_ip)) {
    return fail("bad address in a version 1 header");
  }
  if (!parse_port(parts[3], &h.source_port) || !parse_port(parts[4], &h.dest_port)) {
    return fail("bad port in a version 1 header");
  }
  h.has_address = true;
  r.status = Status::kDone;
  r.consumed = end + 2;
  return r;
}

}  // namespace

Result parse(std::string_view bytes, size_t max_length) {
  max_length = std::max(max_length, kMinMaxLength);
  if (bytes.empty()) return Result{};
  if (bytes[0] == 'P') return parse_v1(bytes);
  return parse_v2(bytes, max_length);
}

bool canonical_ip(std::string_view text, std::string* out) {
  int af = text.find(':') == std::string_view::npos ? AF_INET : AF_INET6;
  return parse_ip(text, af, out);
}

std::string build_v2(std::string_view source, uint16_t source_port, std::string_view dest,
                     uint16_t dest_port, std::string_view tlvs) {
  std::string out(reinterpret_cast<const char*>(kSignature), sizeof kSignature);
  std::string block;
  if (source.empty()) {
    out += static_cast<char>(0x20);  // version 2, LOCAL
    out += static_cast<char>(0x00);  // UNSPEC
  } else {
    bool v6 = source.find(':') != std::string_view::npos;
    int af = v6 ? AF_INET6 : AF_INET;
    unsigned char s[16] = {}, d[16] = {};
    std::string src(source), dst(dest);
    if (inet_pton(af, src.c_str(), s) != 1 || inet_pton(af, dst.c_str(), d) != 1) return {};
    size_t alen = v6 ? 16 : 4;
    out += static_cast<char>(0x21);              // version 2, PROXY
    out += static_cast<char>(v6 ? 0x21 : 0x11);  // INET6 or INET, STREAM
    block.append(reinterpret_cast<const char*>(s), alen);
    block.append(reinterpret_cast<const char*>(d), alen);
    block += static_cast<char>(source_port >> 8);
    block += static_cast<char>(source_port & 0xFF);
    block += static_cast<char>(dest_port >> 8);
    block += static_cast<char>(dest_port & 0xFF);
  }
  block += tlvs;
  out += static_cast<char>((block.size() >> 8) & 0xFF);
  out += static_cast<char>(block.size() & 0xFF);
  return out + block;
}

}  // namespace core::net::proxy
