// core/net/proxy: the PROXY protocol header parser, fed at every split.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "core/net/proxy.h"

namespace proxy = core::net::proxy;
using proxy::Status;

namespace {

const size_t kSplits[] = {0, 100, 10, 5, 2, 1};  // 0: whole
constexpr size_t kMax = 4096;
const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

// Feeds `input` in pieces of `step` bytes (0: at once) the way the connection
// does: the whole buffer so far on every call, stopping at the first answer
// that is not kNeedMore.
proxy::Result feed(std::string_view input, size_t step, size_t max = kMax) {
  if (step == 0) step = input.size() ? input.size() : 1;
  std::string buf;
  proxy::Result r;
  for (size_t i = 0; i < input.size(); i += step) {
    buf.append(input.substr(i, step));
    r = proxy::parse(buf, max);
    if (r.status != Status::kNeedMore) return r;
  }
  return r;
}

std::string be16(size_t v) {
  return {static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

std::string v4_header(std::string_view tlvs = {}) {
  return proxy::build_v2("192.0.2.7", 56324, "198.51.100.1", 993, tlvs);
}

std::string tlv(uint8_t type, std::string_view value) {
  return std::string(1, static_cast<char>(type)) + be16(value.size()) + std::string(value);
}

}  // namespace

TEST_CASE("v2 IPv4 PROXY at every split, protocol bytes after it untouched") {
  std::string hdr = v4_header();
  REQUIRE(hdr.size() == 28);
  std::string input = hdr + "A1 CAPABILITY\r\n";
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto r = feed(input, step);
    REQUIRE(r.status == Status::kDone);
    CHECK(r.consumed == 28);
    CHECK(r.header.version == 2);
    CHECK(r.header.command == proxy::Command::kProxy);
    CHECK(r.header.family == proxy::Family::kInet);
    CHECK(r.header.stream);
    CHECK(r.header.has_address);
    CHECK(r.header.source_ip == "192.0.2.7");
    CHECK(r.header.source_port == 56324);
    CHECK(r.header.dest_ip == "198.51.100.1");
    CHECK(r.header.dest_port == 993);
    CHECK(r.header.tlv_count == 0);
  }
}

TEST_CASE("v2 IPv6 PROXY, and IPv4-mapped IPv6 written as IPv4") {
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto r = feed(proxy::build_v2("2001:db8::7", 40000, "2001:db8::1", 143), step);
    REQUIRE(r.status == Status::kDone);
    CHECK(r.consumed == 16 + 36);
    CHECK(r.header.family == proxy::Family::kInet6);
    CHECK(r.header.has_address);
    CHECK(r.header.source_ip == "2001:db8::7");
    CHECK(r.header.dest_ip == "2001:db8::1");
    CHECK(r.header.source_port == 40000);
    CHECK(r.header.dest_port == 143);
  }
  auto m = proxy::parse(proxy::build_v2("::ffff:192.0.2.9", 1, "::1", 2), kMax);
  REQUIRE(m.status == Status::kDone);
  CHECK(m.header.source_ip == "192.0.2.9");
}

TEST_CASE("v2 LOCAL keeps the peer: no address, whatever follows is skipped") {
  std::string local = proxy::build_v2("", 0, "", 0);
  REQUIRE(local.size() == 16);
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto r = feed(local + "+OK", step);
    REQUIRE(r.status == Status::kDone);
    CHECK(r.consumed == 16);
    CHECK(r.header.command == proxy::Command::kLocal);
    CHECK_FALSE(r.header.has_address);
  }
  // LOCAL with an address block and junk extensions: ignored, not parsed.
  std::string odd = kSig + "\x20\x11" + be16(14) + std::string(12, '\x01') + "\x05\xFF";
  auto r = proxy::parse(odd, kMax);
  REQUIRE(r.status == Status::kDone);
  CHECK(r.consumed == 30);
  CHECK_FALSE(r.header.has_address);
}

TEST_CASE("v2 UNSPEC, UNIX and DGRAM under PROXY keep the peer address") {
  std::string unspec = kSig + std::string("\x21\x00", 2) + be16(0);
  auto r = proxy::parse(unspec, kMax);
  REQUIRE(r.status == Status::kDone);
  CHECK(r.header.command == proxy::Command::kProxy);
  CHECK(r.header.family == proxy::Family::kUnspec);
  CHECK_FALSE(r.header.has_address);

  std::string unix_block(216, '\0');
  unix_block.replace(0, 9, "/run/sock");
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto u = feed(kSig + "\x21\x31" + be16(216) + unix_block, step);
    REQUIRE(u.status == Status::kDone);
    CHECK(u.consumed == 16 + 216);
    CHECK(u.header.family == proxy::Family::kUnix);
    CHECK_FALSE(u.header.has_address);
  }

  std::string dgram = v4_header();
  dgram[13] = '\x12';  // INET over DGRAM
  auto d = proxy::parse(dgram, kMax);
  REQUIRE(d.status == Status::kDone);
  CHECK_FALSE(d.header.stream);
  CHECK_FALSE(d.header.has_address);
}

TEST_CASE("v2 TLVs are counted and skipped") {
  std::string tlvs = tlv(0x01, "h2") + tlv(0x04, std::string(40, '\0')) + tlv(0x05, "") +
                     tlv(0x20, std::string(300, 'x'));
  std::string hdr = v4_header(tlvs);
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto r = feed(hdr + "rest", step);
    REQUIRE(r.status == Status::kDone);
    CHECK(r.consumed == hdr.size());
    CHECK(r.header.tlv_count == 4);
    CHECK(r.header.source_ip == "192.0.2.7");
  }
}

TEST_CASE("v2 malformed TLVs are errors") {
  // Two bytes left after the address: too short for a TLV head.
  auto r = proxy::parse(v4_header(std::string_view("\x01\x00", 2)), kMax);
  CHECK(r.status == Status::kError);
  CHECK(r.error.find("truncated TLV") != std::string::npos);
  // A TLV claiming more than the header holds.
  auto o = proxy::parse(v4_header(std::string("\x02") + be16(10) + "abc"), kMax);
  CHECK(o.status == Status::kError);
  CHECK(o.error.find("overruns") != std::string::npos);
}

TEST_CASE("truncated headers ask for more, at every length") {
  for (const std::string& full :
       {v4_header(), proxy::build_v2("2001:db8::7", 1, "2001:db8::1", 2),
        v4_header(tlv(0x01, "imap")), std::string("PROXY TCP4 192.0.2.7 198.51.100.1 5 6\r\n")}) {
    for (size_t n = 0; n < full.size(); ++n) {
      CAPTURE(n);
      auto r = proxy::parse(std::string_view(full).substr(0, n), kMax);
      CHECK(r.status == Status::kNeedMore);
      CHECK(r.consumed == 0);
    }
    CHECK(proxy::parse(full, kMax).status == Status::kDone);
  }
}

TEST_CASE("a bad signature fails at the first wrong byte") {
  // Plain protocol traffic from a client that was not proxied.
  for (std::string_view s : {"A1 LOGIN a b\r\n", "USER alice\r\n", "\x16\x03\x01\x02\x00"}) {
    CAPTURE(s);
    auto r = proxy::parse(s.substr(0, 1), kMax);
    CHECK(r.status == Status::kError);
    CHECK(r.error == "not a PROXY protocol header");
  }
  for (size_t i = 0; i < 12; ++i) {
    CAPTURE(i);
    std::string bad = v4_header();
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    auto r = feed(bad, 1);
    CHECK(r.status == Status::kError);
  }
  // Garbage after the first byte of a signature.
  CHECK(proxy::parse("\r\nX", kMax).status == Status::kError);
  CHECK(proxy::parse(std::string_view(), kMax).status == Status::kNeedMore);
}

TEST_CASE("bad version, command, family, transport fail early") {
  auto with = [](uint8_t b12, uint8_t b13) {
    return kSig + std::string(1, static_cast<char>(b12)) + std::string(1, static_cast<char>(b13));
  };
  auto v = proxy::parse(with(0x11, 0x11), kMax);
  CHECK(v.status == Status::kError);
  CHECK(v.error.find("version 1") != std::string::npos);
  CHECK(proxy::parse(with(0x22, 0x11), kMax).status == Status::kError);
  CHECK(proxy::parse(with(0x21, 0x41), kMax).status == Status::kError);
  CHECK(proxy::parse(with(0x21, 0x13), kMax).status == Status::kError);
  // The version byte alone is enough to fail.
  CHECK(proxy::parse(kSig + "\x31", kMax).status == Status::kError);
}

TEST_CASE("address block shorter than the family needs") {
  std::string h = kSig + "\x21\x11" + be16(8) + std::string(8, '\x01');
  auto r = proxy::parse(h, kMax);
  CHECK(r.status == Status::kError);
  CHECK(r.error.find("too short") != std::string::npos);
  std::string h6 = kSig + "\x21\x21" + be16(12) + std::string(12, '\x01');
  CHECK(proxy::parse(h6, kMax).status == Status::kError);
}

TEST_CASE("oversize length is refused before the bytes arrive") {
  std::string h = kSig + "\x21\x11" + be16(60000);
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto r = feed(h, step);
    CHECK(r.status == Status::kError);
    CHECK(r.error.find("too long") != std::string::npos);
  }
  // Exactly at the bound is fine; one byte over is not.
  std::string at = v4_header(tlv(0x04, std::string(1000 - 28 - 3, '\0')));
  REQUIRE(at.size() == 1000);
  CHECK(proxy::parse(at, 1000).status == Status::kDone);
  CHECK(proxy::parse(at, 999).status == Status::kError);
  // A tiny configured bound still admits a UNIX address block.
  std::string unix_hdr = kSig + "\x21\x31" + be16(216) + std::string(216, '\0');
  CHECK(proxy::parse(unix_hdr, 10).status == Status::kDone);
  // The largest length the field can say, with the largest bound.
  std::string big = kSig + "\x21\x11" + be16(65535);
  CHECK(proxy::parse(big, 65535 + 16).status == Status::kNeedMore);
}

TEST_CASE("v1 text form") {
  std::string l4 = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n";
  for (size_t step : kSplits) {
    CAPTURE(step);
    auto r = feed(l4 + "USER x\r\n", step);
    REQUIRE(r.status == Status::kDone);
    CHECK(r.consumed == l4.size());
    CHECK(r.header.version == 1);
    CHECK(r.header.has_address);
    CHECK(r.header.source_ip == "192.0.2.7");
    CHECK(r.header.source_port == 56324);
    CHECK(r.header.dest_port == 110);
  }
  auto r6 = proxy::parse("PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n", kMax);
  REQUIRE(r6.status == Status::kDone);
  CHECK(r6.header.source_ip == "2001:db8::7");
  CHECK(r6.header.dest_port == 65535);
  auto u = proxy::parse("PROXY UNKNOWN whatever\r\nX", kMax);
  REQUIRE(u.status == Status::kDone);
  CHECK_FALSE(u.header.has_address);
  CHECK(u.consumed == 24);

  for (std::string_view bad : {
           "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",    // missing port
           "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",    // extra field
           "PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n",    // wrong family
           "PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n",       // wrong family
           "PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n",  // port range
           "PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n",     // port syntax
           "PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",      // protocol
           "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX",       // CR without LF
           "PROXY TCP4 192.0.2.7\n",                         // bare LF
           "PROXX TCP4",                                     // prefix
       }) {
    CAPTURE(bad);
    CHECK(feed(bad, 1).status == Status::kError);
  }
  // No CRLF within 107 bytes.
  std::string longline = "PROXY UNKNOWN " + std::string(200, 'a');
  for (size_t step : kSplits) {
    CAPTURE(step);
    CHECK(feed(longline, step).status == Status::kError);
  }
  // Exactly 107 bytes with the CRLF is accepted.
  std::string maxline = "PROXY UNKNOWN " + std::string(107 - 14 - 2, 'a') + "\r\n";
  REQUIRE(maxline.size() == 107);
  CHECK(proxy::parse(maxline, kMax).status == Status::kDone);
}

TEST_CASE("build_v2 refuses addresses it cannot encode") {
  CHECK(proxy::build_v2("not-an-ip", 1, "192.0.2.1", 2).empty());
  CHECK(proxy::build_v2("2001:db8::1", 1, "192.0.2.1", 2).empty());
}

TEST_CASE("canonical_ip") {
  std::string out;
  CHECK(proxy::canonical_ip("192.0.2.7", &out));
  CHECK(out == "192.0.2.7");
  CHECK(proxy::canonical_ip("2001:DB8:0:0::7", &out));
  CHECK(out == "2001:db8::7");
  CHECK(proxy::canonical_ip("::ffff:192.0.2.9", &out));
  CHECK(out == "192.0.2.9");
  for (std::string_view bad :
       {"", "example.test", "192.0.2.7 ", " 192.0.2.7", "192.0.2.0/24", "192.0.2.7:143",
        "[2001:db8::7]", "1.2.3.256", "12345", "2001:db8::7%eth0"}) {
    CAPTURE(bad);
    CHECK_FALSE(proxy::canonical_ip(bad, &out));
  }
  CHECK_FALSE(proxy::canonical_ip(std::string(100, '1'), &out));
}
