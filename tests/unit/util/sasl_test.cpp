// base64 (RFC 4648) and SASL PLAIN (RFC 4616).
#include <doctest/doctest.h>

#include <string>

#include "core/util/sasl.h"

using namespace std::string_literals;
using core::base64_decode;
using core::base64_encode;
using core::parse_sasl_plain;

TEST_CASE("base64: RFC 4648 section 10 vectors") {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CAPTURE(plain);
    CHECK(base64_encode(plain) == encoded);
    const auto d = base64_decode(encoded);
    REQUIRE(d.has_value());
    CHECK(*d == plain);
  }
}

TEST_CASE("base64: binary round trip, every byte value and length") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    const std::string in = all.substr(all.size() - len);
    const std::string enc = base64_encode(in);
    CHECK(enc.size() == (len + 2) / 3 * 4);
    const auto dec = base64_decode(enc);
    REQUIRE(dec.has_value());
    CHECK(*dec == in);
  }
  CHECK(base64_encode("\xff\xfe\xfd"s) == "//79");
  CHECK(base64_encode("\0\0\0"s) == "AAAA");
  CHECK(*base64_decode("AAAA") == "\0\0\0"s);
}

TEST_CASE("base64: strict rejections") {
  const char* bad[] = {
      "Zg",        // missing padding
      "Zg=",       // short padding
      "Zm9",       // length not a multiple of 4
      "Z",         //
      "Zg==Zg==",  // padding in the middle
      "Zm9v====",  // a group of padding only
      "Z===",      // three padding characters
      "=Zm9",      // padding first
      "Zm=v",      // data after padding
      "Zh==",      // non-zero trailing bits (one byte)
      "Zm9=",      // non-zero trailing bits (two bytes)
      "Zm9v\n",    // whitespace
      "Zm 9v",     // inner space
      " Zm9v",     //
      "Zm9v\r\n",  //
      "Zm9-",      // URL-safe alphabet
      "Zm9_",      //
      "Zm9*",      // outside the alphabet
      "Zm9\x80",   // high bit
  };
  for (const char* b : bad) {
    CAPTURE(b);
    CHECK_FALSE(base64_decode(b).has_value());
  }
  CHECK_FALSE(base64_decode("Zm9\0"s).has_value());
  // The canonical forms of the same bytes are accepted.
  CHECK(base64_decode("Zg==").value() == "f");
  CHECK(base64_decode("Zm8=").value() == "fo");
}

TEST_CASE("SASL PLAIN: well-formed messages") {
  SUBCASE("no authzid") {
    const auto c = parse_sasl_plain("\0tim\0tanstaaftanstaaf"s);
    REQUIRE(c.has_value());
    CHECK(c->authzid.empty());
    CHECK(c->authcid == "tim");
    CHECK(c->password == "tanstaaftanstaaf");
  }
  SUBCASE("with authzid") {
    const auto c = parse_sasl_plain("Ursel\0Kurt\0xipj3plmq"s);
    REQUIRE(c.has_value());
    CHECK(c->authzid == "Ursel");
    CHECK(c->authcid == "Kurt");
    CHECK(c->password == "xipj3plmq");
  }
  SUBCASE("UTF-8 and spaces are kept as is") {
    const auto c = parse_sasl_plain("\0j\xc3\xb6rg@example.org\0 pass word "s);
    REQUIRE(c.has_value());
    CHECK(c->authcid == "j\xc3\xb6rg@example.org");
    CHECK(c->password == " pass word ");
  }
  SUBCASE("through base64, as IMAP and POP3 carry it") {
    const auto dec = base64_decode(base64_encode("\0alice@example.org\0secret"s));
    REQUIRE(dec.has_value());
    const auto c = parse_sasl_plain(*dec);
    REQUIRE(c.has_value());
    CHECK(c->authcid == "alice@example.org");
    CHECK(c->password == "secret");
  }
  SUBCASE("255-byte parts are accepted") {
    const std::string p(255, 'x');
    const auto c = parse_sasl_plain(p + '\0' + p + '\0' + p);
    REQUIRE(c.has_value());
    CHECK(c->authzid.size() == 255);
    CHECK(c->authcid.size() == 255);
    CHECK(c->password.size() == 255);
  }
}

TEST_CASE("SASL PLAIN: bad forms") {
  const std::string too_long(256, 'x');
  const std::string bad[] = {
      ""s,
      "tim"s,
      "\0tim"s,                        // one NUL only
      "tim\0secret"s,                  //
      "\0\0secret"s,                   // empty authcid
      "\0tim\0"s,                      // empty password
      "\0\0"s,                         //
      "\0tim\0sec\0ret"s,              // NUL inside the password
      "a\0b\0c\0"s,                    // trailing NUL
      "\0"s + too_long + "\0secret"s,  // authcid too long
      "\0tim\0"s + too_long,           // password too long
      too_long + "\0tim\0secret"s,     // authzid too long
  };
  for (const auto& b : bad) {
    CAPTURE(base64_encode(b));
    CHECK_FALSE(parse_sasl_plain(b).has_value());
  }
}
