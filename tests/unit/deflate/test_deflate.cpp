#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/net/deflate.h"

using core::net::Deflater;
using core::net::Inflater;

namespace {

const size_t kSplits[] = {0, 100, 10, 5, 2, 1};  // 0: whole

std::string sample_text(size_t n, uint32_t seed = 1) {
  // IMAP-ish lines: compressible, with some variety.
  std::mt19937 rng(seed);
  static const char* words[] = {"FETCH", "UID",   "FLAGS", "(\\Seen)", "BODY[]", "INTERNALDATE",
                                "OK",    "Hello", "world", "Subject:", "alice",  "example.test"};
  std::string s;
  while (s.size() < n) {
    s += "* ";
    s += std::to_string(rng() % 100000);
    for (int i = 0; i < 8; ++i) {
      s += ' ';
      s += words[rng() % 12];
    }
    s += "\r\n";
  }
  s.resize(n);
  return s;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Feeds `wire` in pieces of `split` bytes (0: whole), reading everything
// available after each piece with reads of at most `max` bytes.
bool inflate_all(Inflater& inf, const std::string& wire, size_t split, std::string* out,
                 size_t max = 64 * 1024) {
  size_t step = split == 0 ? wire.size() : split;
  for (size_t i = 0; i < wire.size(); i += step) {
    if (!inf.feed(std::string_view(wire).substr(i, step))) return false;
    while (true) {
      size_t before = out->size();
      if (!inf.read(out, max)) return false;
      if (out->size() == before) break;
      CHECK(out->size() - before <= max);
    }
  }
  return true;
}

// Raw deflate made with zlib directly, the way Python's
// zlib.compressobj(wbits=-15) does it: level 6, a 32 KiB window, memLevel 8.
std::string python_like_deflate(const std::string& in, int level = Z_DEFAULT_COMPRESSION,
                                int flush = Z_SYNC_FLUSH) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&s, in.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&s, flush);
  REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
  REQUIRE(s.avail_in == 0);
  out.resize(out.size() - s.avail_out);
  deflateEnd(&s);
  return out;
}

// Decodes with zlib directly (what a client does).
std::string zlib_inflate(const std::string& wire, int window_bits = 15) {
  z_stream s{};
  REQUIRE(inflateInit2(&s, -window_bits) == Z_OK);
  std::string out;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(wire.data()));
  s.avail_in = static_cast<uInt>(wire.size());
  char buf[16384];
  while (true) {
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    int rc = inflate(&s, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - s.avail_out);
    REQUIRE((rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END));
    if (rc == Z_STREAM_END || (s.avail_in == 0 && s.avail_out != 0)) break;
  }
  inflateEnd(&s);
  return out;
}

}  // namespace

TEST_CASE("deflater output decodes with plain zlib, batch by batch") {
  Deflater d;
  REQUIRE(d.ok());
  std::string all_plain, wire;
  for (size_t n : {1u, 17u, 300u, 5000u, 70000u, 250000u}) {
    std::string batch = sample_text(n, static_cast<uint32_t>(n));
    std::string z;
    REQUIRE(d.compress(batch, &z));
    // Sync flush: everything so far decodes with just the bytes so far.
    wire += z;
    all_plain += batch;
    CHECK(zlib_inflate(wire) == all_plain);
    // The 4 KiB window also suffices for the decoder.
    CHECK(zlib_inflate(wire, 12) == all_plain);
  }
  CHECK(wire.size() < all_plain.size() / 2);
  CHECK(d.total_in() == all_plain.size());
  CHECK(d.total_out() == wire.size());
}

TEST_CASE("round trip at every split and read size") {
  std::vector<std::string> batches = {"a001 OK LOGIN completed\r\n",
                                      sample_text(3000, 7),
                                      random_bytes(20000, 3),
                                      sample_text(100000, 9),
                                      "x",
                                      std::string(50000, 'z')};
  Deflater d;
  std::string wire, plain;
  for (const auto& b : batches) {
    REQUIRE(d.compress(b, &wire));
    plain += b;
  }
  for (size_t split : kSplits) {
    for (size_t max : {size_t{1} << 16, size_t{4096}, size_t{7}}) {
      if (max == 7 && split != 0 && split < 10) continue;  // slow and adds nothing
      CAPTURE(split);
      CAPTURE(max);
      Inflater inf;
      REQUIRE(inf.ok());
      std::string out;
      REQUIRE(inflate_all(inf, wire, split, &out, max));
      CHECK(out == plain);
      CHECK_FALSE(inf.pending());
      CHECK(inf.total_out() == plain.size());
    }
  }
}

TEST_CASE("each flushed batch is complete on arrival") {
  Deflater d;
  Inflater inf;
  for (int i = 0; i < 50; ++i) {
    std::string line = "* " + std::to_string(i) + " EXISTS\r\n";
    std::string z;
    REQUIRE(d.compress(line, &z));
    REQUIRE(inf.feed(z));
    std::string out;
    REQUIRE(inf.read(&out));
    CHECK(out == line);
  }
}

TEST_CASE("no-flush writes are held until a flush") {
  Deflater d;
  std::string wire;
  REQUIRE(d.compress("hello ", &wire, false));
  REQUIRE(d.compress("world", &wire, false));
  REQUIRE(d.compress("", &wire, true));
  CHECK(zlib_inflate(wire) == "hello world");
}

TEST_CASE("a Python-like stream with a full 32 KiB window") {
  // A random 30 KiB block repeated: the copies refer back ~30 KiB, beyond
  // any smaller window.
  std::string block = random_bytes(30 * 1024, 42);
  std::string plain = block + block + block + sample_text(10000, 5);
  std::string wire = python_like_deflate(plain);
  CHECK(wire.size() < block.size() + 8000);  // long-distance matches were used
  for (size_t split : kSplits) {
    CAPTURE(split);
    Inflater inf;
    std::string out;
    REQUIRE(inf.feed(""));
    REQUIRE(inflate_all(inf, wire, split, &out));
    CHECK(out == plain);
  }
}

TEST_CASE("a Python-like stream in many flushed pieces, then a final block") {
  z_stream s{};
  REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string wire, plain;
  char buf[1 << 16];
  for (int i = 0; i < 40; ++i) {
    std::string cmd = "a" + std::to_string(i) + " UID FETCH 1:* (BODY.PEEK[])\r\n";
    plain += cmd;
    s.next_in = reinterpret_cast<Bytef*>(cmd.data());
    s.avail_in = static_cast<uInt>(cmd.size());
    int flush = i == 39 ? Z_FINISH : (i % 3 == 0 ? Z_FULL_FLUSH : Z_SYNC_FLUSH);
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    REQUIRE(deflate(&s, flush) != Z_STREAM_ERROR);
    wire.append(buf, sizeof buf - s.avail_out);
  }
  deflateEnd(&s);
  Inflater inf;
  std::string out;
  REQUIRE(inflate_all(inf, wire, 1, &out));
  CHECK(out == plain);
  CHECK(inf.finished());
  // Anything after the final block is an error, not a crash.
  CHECK_FALSE(inf.feed("x"));
  CHECK_FALSE(inf.ok());
  CHECK_FALSE(inf.error().empty());
}

TEST_CASE("corrupt input is an error value") {
  SUBCASE("reserved block type") {
    Inflater inf;
    REQUIRE(inf.feed(std::string("\x07\x00\x00", 3)));  // BFINAL=1, BTYPE=11
    std::string out;
    CHECK_FALSE(inf.read(&out));
    CHECK_FALSE(inf.ok());
    CHECK(inf.error().find("inflate") == 0);
    CHECK_FALSE(inf.feed("more"));
    CHECK_FALSE(inf.read(&out));
    CHECK_FALSE(inf.pending());
  }
  SUBCASE("stored block with a bad length check") {
    Inflater inf;
    REQUIRE(inf.feed(std::string("\x00\x05\x00\x00\x00hello", 10)));
    std::string out;
    CHECK_FALSE(inf.read(&out));
    CHECK_FALSE(inf.error().empty());
  }
  SUBCASE("plain text that is not deflate") {
    Inflater inf;
    REQUIRE(inf.feed("a002 NOOP\r\n"));
    std::string out;
    bool ok = true;
    for (int i = 0; i < 10 && ok; ++i) ok = inf.read(&out);
    CHECK_FALSE(ok);
  }
  SUBCASE("a zlib header is not raw deflate") {
    std::string wrapped(64, '\0');
    uLongf n = wrapped.size();
    REQUIRE(compress2(reinterpret_cast<Bytef*>(wrapped.data()), &n,
                      reinterpret_cast<const Bytef*>("hello hello hello"), 17, 6) == Z_OK);
    wrapped.resize(n);
    Inflater inf;
    std::string out;
    CHECK_FALSE(inflate_all(inf, wrapped, 0, &out));
  }
  SUBCASE("a truncated stream is only incomplete") {
    Deflater d;
    std::string wire;
    REQUIRE(d.compress(sample_text(5000), &wire));
    Inflater inf;
    std::string out;
    REQUIRE(inflate_all(inf, wire.substr(0, wire.size() / 2), 3, &out));
    CHECK(inf.ok());
    CHECK(out.size() < 5000);
  }
}

TEST_CASE("mutated streams never crash") {
  Deflater d;
  std::string wire;
  REQUIRE(d.compress(sample_text(20000, 11), &wire));
  REQUIRE(d.compress(random_bytes(3000, 12), &wire));
  std::mt19937 rng(99);
  int failures = 0;
  for (int round = 0; round < 500; ++round) {
    std::string bad = wire;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) bad[rng() % bad.size()] = static_cast<char>(rng() & 0xff);
    Inflater inf;
    std::string out;
    if (!inflate_all(inf, bad, 1 + rng() % 300, &out)) {
      ++failures;
      CHECK_FALSE(inf.error().empty());
    }
    CHECK(out.size() < 10 * 1000 * 1000);
  }
  CHECK(failures > 0);
}

TEST_CASE("a compression bomb comes out in bounded pieces") {
  std::string zeros(20 * 1024 * 1024, '\0');
  std::string wire = python_like_deflate(zeros, 9);
  CHECK(wire.size() < 64 * 1024);
  Inflater inf;
  REQUIRE(inf.feed(wire));
  size_t total = 0, reads = 0;
  std::string out;
  while (inf.pending()) {
    out.clear();
    REQUIRE(inf.read(&out, 64 * 1024));
    CHECK(out.size() <= 64 * 1024);
    total += out.size();
    ++reads;
    if (reads > 100000) break;
  }
  CHECK(total == zeros.size());
  CHECK(reads >= zeros.size() / (64 * 1024));
}

TEST_CASE("memory per connection") {
  Deflater d;
  Inflater inf;
  std::string wire;
  std::string text = sample_text(200000, 3);
  REQUIRE(d.compress(text, &wire));
  REQUIRE(inf.feed(python_like_deflate(text)));
  std::string out;
  while (inf.pending()) REQUIRE(inf.read(&out));
  CHECK(out == text);
  MESSAGE("deflater bytes: " << d.memory() << ", inflater bytes: " << inf.memory());
  CHECK(d.memory() > 0);
  CHECK(d.memory() < 48 * 1024);
  CHECK(inf.memory() >= 32 * 1024);  // the full window
  CHECK(inf.memory() < 48 * 1024);
  Deflater big(6, 15, 8);  // zlib's defaults, for comparison
  CHECK(big.memory() > 200 * 1024);
}

TEST_CASE("parameters are clamped to what zlib accepts") {
  Deflater d(42, 30, 0);
  REQUIRE(d.ok());
  std::string wire;
  REQUIRE(d.compress("clamped", &wire));
  CHECK(zlib_inflate(wire) == "clamped");
}
