// Modified UTF-7 (RFC 3501 5.1.3) and UTF-8 validation.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "core/util/utf7.h"

using core::mutf7_decode;
using core::mutf7_encode;
using core::Mutf7Mode;
using core::valid_utf8;

namespace {

using namespace std::string_literals;

std::optional<std::string> lenient(std::string_view s) {
  return mutf7_decode(s, Mutf7Mode::kLenient);
}

}  // namespace

TEST_CASE("utf7: valid_utf8") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\0x"s));                    // NUL is valid UTF-8
  CHECK(valid_utf8("caf\xC3\xA9"));             // é
  CHECK(valid_utf8("\xE6\x97\xA5"));            // 日
  CHECK(valid_utf8("\xF0\x9F\x93\xAC"));        // U+1F4EC
  CHECK(valid_utf8("\xED\x9F\xBF"));            // U+D7FF, just below the surrogates
  CHECK(valid_utf8("\xEE\x80\x80"));            // U+E000, just above
  CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF
  CHECK(valid_utf8("\xEF\xBB\xBF"));            // BOM is a character like any other
  CHECK_FALSE(valid_utf8("\x80"));              // lone continuation
  CHECK_FALSE(valid_utf8("\xC3"));              // truncated
  CHECK_FALSE(valid_utf8("\xC3x"));             // bad continuation
  CHECK_FALSE(valid_utf8("\xE6\x97"));          // truncated 3-byte
  CHECK_FALSE(valid_utf8("\xF0\x9F\x93"));      // truncated 4-byte
  CHECK_FALSE(valid_utf8("\xC0\xAE"));          // overlong '.'
  CHECK_FALSE(valid_utf8("\xC1\xBF"));          // overlong
  CHECK_FALSE(valid_utf8("\xE0\x80\xAE"));      // overlong 3-byte
  CHECK_FALSE(valid_utf8("\xF0\x80\x80\xAE"));  // overlong 4-byte
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));      // U+D800
  CHECK_FALSE(valid_utf8("\xED\xBF\xBF"));      // U+DFFF
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(valid_utf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xFE"));
  CHECK_FALSE(valid_utf8("\xFF"));
  CHECK_FALSE(valid_utf8("ok\xC3\xA9\xA9"));  // one continuation too many
}

TEST_CASE("utf7: the RFC 3501 examples") {
  const std::string utf8 =
      "~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  CHECK(mutf7_encode(utf8) == "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  CHECK(mutf7_decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == utf8);
  // "&Jjo!" lacks the shift back to ASCII; "&Jjo-!" is right.
  CHECK_FALSE(mutf7_decode("&Jjo!"));
  CHECK(mutf7_decode("&Jjo-!") == "\xE2\x98\xBA!");
  CHECK(mutf7_encode("\xE2\x98\xBA!") == "&Jjo-!");
  // A superfluous shift: one run must hold both parts.
  const std::string both = "\xE5\x8F\xB0\xE5\x8C\x97\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  CHECK_FALSE(mutf7_decode("&U,BTFw-&ZeVnLIqe-"));
  CHECK(mutf7_decode("&U,BTF2XlZyyKng-") == both);
  CHECK(mutf7_encode(both) == "&U,BTF2XlZyyKng-");
}

TEST_CASE("utf7: encoding") {
  CHECK(mutf7_encode("") == "");
  CHECK(mutf7_encode("INBOX") == "INBOX");
  CHECK(mutf7_encode("&") == "&-");
  CHECK(mutf7_encode("a&b&&") == "a&-b&-&-");
  CHECK(mutf7_encode(" ~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}") == " ~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}");
  CHECK(mutf7_encode("Entw\xC3\xBCrfe") == "Entw&APw-rfe");
  CHECK(mutf7_encode("Gel\xC3\xB6schte Elemente") == "Gel&APY-schte Elemente");
  CHECK(mutf7_encode("\xC3\xA9") == "&AOk-");
  CHECK(mutf7_encode("\xC3\xA9\xC3\xA9") == "&AOkA6Q-");
  CHECK(mutf7_encode("\xC3\xA9&") == "&AOk-&-");
  CHECK(mutf7_encode("\xF0\x9F\x93\xAC") == "&2D3c7A-");  // surrogate pair
  CHECK(mutf7_encode("\xF4\x8F\xBF\xBF") == "&2,,f,w-");  // U+10FFFF
  CHECK(mutf7_encode("\xED\x9F\xBF\xEE\x80\x80") == "&1,,gAA-");
  CHECK(mutf7_encode("a\0b"s) == "a&AAA-b");  // control characters are encoded
  CHECK(mutf7_encode("\t") == "&AAk-");
  CHECK(mutf7_encode("\x7F") == "&AH8-");
  // Invalid UTF-8 is refused.
  CHECK_FALSE(mutf7_encode("\xC3"));
  CHECK_FALSE(mutf7_encode("caf\xE9"));  // Latin-1
  CHECK_FALSE(mutf7_encode("\xED\xA0\x80"));
  CHECK_FALSE(mutf7_encode("\xC0\xAE"));
  CHECK_FALSE(mutf7_encode("ok\xFF"));
}

TEST_CASE("utf7: round trips") {
  for (std::string s : {""s,
                        "INBOX"s,
                        "Sent"s,
                        "&"s,
                        "&-"s,
                        "&&-&"s,
                        "a-b"s,
                        "-&-"s,
                        "\xC3\xA9"s,
                        "\xC3\xA9&"s,
                        "&\xC3\xA9"s,
                        "Entw\xC3\xBCrfe"s,
                        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"s,
                        "mix \xE6\x97\xA5 and \xF0\x9F\x93\xAC emoji"s,
                        "\xF0\x9F\x93\xAC\xF0\x9F\x93\xAC"s,
                        "a\0b"s,
                        "\t\r\n"s,
                        "\x7F"s,
                        "\xF4\x8F\xBF\xBF"s,
                        "\xC2\x80"s,
                        "\xEF\xBF\xBF"s,
                        "Ελληνικά & co"s,
                        "[Gmail]/Messages envoy\xC3\xA9s"s}) {
    INFO(s);
    const auto e = mutf7_encode(s);
    REQUIRE(e);
    for (char c : *e) {
      CHECK(static_cast<unsigned char>(c) >= 0x20);
      CHECK(static_cast<unsigned char>(c) <= 0x7E);
    }
    CHECK(mutf7_decode(*e) == s);
    CHECK(lenient(*e) == s);
  }
}

TEST_CASE("utf7: decoding") {
  CHECK(mutf7_decode("") == "");
  CHECK(mutf7_decode("INBOX") == "INBOX");
  CHECK(mutf7_decode("&-") == "&");
  CHECK(mutf7_decode("&--") == "&-");
  CHECK(mutf7_decode("&-&-") == "&&");
  CHECK(mutf7_decode("-") == "-");
  CHECK(mutf7_decode("&AOk-&-") == "\xC3\xA9&");
  CHECK(mutf7_decode("&AOk-x&AOk-") == "\xC3\xA9x\xC3\xA9");
  CHECK(mutf7_decode("&2D3c7A-") == "\xF0\x9F\x93\xAC");
  CHECK(mutf7_decode("a&AAA-b") == "a\0b"s);
}

TEST_CASE("utf7: strict decoding rejects") {
  const char* bad[] = {
      // printable ASCII that could stand for itself
      "&AGE-",     // 'a'
      "&ACY-",     // '&' (must be "&-")
      "&AC4-",     // '.'
      "a&AC4-b",   // '.'
      "&ACA-",     // ' '
      "&AH4-",     // '~'
      "&AOkAYQ-",  // 'a' inside a run
      // superfluous shift
      "&AOk-&AOk-",
      "&U,BTFw-&ZeVnLIqe-",
      // unterminated
      "&",
      "a&",
      "&AOk",
      "&Jjo!",
      "&2D3c7A",
      // not base64 (modified alphabet: ',' not '/', no '=')
      "&AO!-",
      "&AO k-",
      "&Jj/-",
      "&Jjo=-",
      "&AOk=-",
      "&AO\x80-",
      // odd lengths
      "&A-",
      "&AO-",
      "&AOkA-",
      "&AOkA6-",
      "&AOkA6QA-",
      // non-zero padding bits
      "&AOl-",
      "&Jjp-",
      // lone, reversed or broken surrogates
      "&2D0-",       // high alone
      "&2D0-x",      // high then ASCII
      "&3gA-",       // low alone
      "&3ADYPQ-",    // low then high
      "&2D0AYQ-",    // high then a non-surrogate
      "&2D3YPQ-",    // high then high
      "&2D3c7NgA-",  // pair then high
      // raw bytes that must have been encoded
      "a\tb",
      "\x7F",
      "caf\xC3\xA9",
      "\xFF",
      "\r\n",
  };
  for (const char* s : bad) {
    INFO(s);
    CHECK_FALSE(mutf7_decode(s));
  }
  CHECK_FALSE(mutf7_decode("a\0b"s));
  CHECK_FALSE(mutf7_decode("\0"s));
}

TEST_CASE("utf7: lenient decoding") {
  // Encoded printable ASCII, as Maildir++ folder names spell '.'.
  CHECK(lenient("&AC4-") == ".");
  CHECK(lenient("a&AC4-b") == "a.b");
  CHECK(lenient("dev&AC4-team") == "dev.team");
  CHECK(lenient("&AC4ALg-") == "..");
  CHECK(lenient("&AC4A6Q-") == ".\xC3\xA9");
  CHECK(lenient("&AGE-") == "a");
  CHECK(lenient("&ACY-") == "&");
  // Superfluous shifts.
  CHECK(lenient("&AOk-&AOk-") == "\xC3\xA9\xC3\xA9");
  CHECK(lenient("&U,BTFw-&ZeVnLIqe-") ==
        "\xE5\x8F\xB0\xE5\x8C\x97\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
  // Still malformed in lenient mode.
  const char* bad[] = {"&",        "&AOk",       "&Jjo!", "&Jj/-",       "&Jjo=-", "&A-",
                       "&AO-",     "&AOkA-",     "&AOl-", "&2D0-",       "&3gA-",  "&3ADYPQ-",
                       "&2D0AYQ-", "&2D0-&3gA-", "a\tb",  "caf\xC3\xA9", "\x7F"};
  for (const char* s : bad) {
    INFO(s);
    CHECK_FALSE(lenient(s));
  }
  // Whatever decodes leniently encodes to the canonical form.
  for (const char* s : {"a&AC4-b", "&AOk-&AOk-", "&AGEA6Q-"}) {
    INFO(s);
    const auto d = lenient(s);
    REQUIRE(d);
    const auto e = mutf7_encode(*d);
    REQUIRE(e);
    CHECK(mutf7_decode(*e) == *d);
  }
  CHECK(mutf7_encode(*lenient("&AGEA6Q-")) == "a&AOk-");
}

TEST_CASE("utf7: extra characters in base64 runs") {
  // The Maildir store's rule: '.' is encoded like a non-ASCII character.
  CHECK(mutf7_encode("a.b", ".") == "a&AC4-b");
  CHECK(mutf7_encode(".", ".") == "&AC4-");
  CHECK(mutf7_encode("..", ".") == "&AC4ALg-");
  CHECK(mutf7_encode("\xC3\xA9.\xC3\xA9", ".") == "&AOkALgDp-");  // one run, not three
  CHECK(mutf7_encode(".\xC3\xA9", ".") == "&AC4A6Q-");
  CHECK(mutf7_encode("a&.b", ".") == "a&-&AC4-b");
  CHECK(mutf7_encode("&", "&") == "&-");  // '&' always stands for itself
  CHECK(mutf7_encode("a/b.c", "./") == "a&AC8-b&AC4-c");
  CHECK(mutf7_encode("INBOX", ".") == "INBOX");
  CHECK(mutf7_encode("a.b", "") == "a.b");
  CHECK_FALSE(mutf7_encode("\xC3.", "."));
  // Only the lenient decoder reads such output back.
  for (const char* s : {"a.b", ".", "x.y.\xC3\xA9", "\xC3\xA9.\xC3\xA9", "dev.team&co",
                        "\xF0\x9F\x93\xAC.\xF0\x9F\x93\xAC"}) {
    INFO(s);
    const auto e = mutf7_encode(s, ".");
    REQUIRE(e);
    CHECK(e->find('.') == std::string::npos);
    CHECK_FALSE(mutf7_decode(*e));
    CHECK(lenient(*e) == s);
  }
}

TEST_CASE("utf7: every BMP code point and some astral ones round-trip") {
  std::string s;
  auto put = [&s](uint32_t cp) {
    s.clear();
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  size_t failures = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x10000 ? 1 : 97)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    put(cp);
    const auto e = mutf7_encode(s);
    if (!e || mutf7_decode(*e) != s || mutf7_decode("x" + *e + "y") != "x" + s + "y") ++failures;
  }
  CHECK(failures == 0);
}
