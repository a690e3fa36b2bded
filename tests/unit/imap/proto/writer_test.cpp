// The IMAP response writer.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/writer.h"

using namespace imap::proto;
using namespace std::string_literals;

namespace {

std::string str(std::string_view s, Utf8Mode m = Utf8Mode::kOff) {
  std::string out;
  write_string(out, s, m);
  return out;
}

std::string astr(std::string_view s, Utf8Mode m = Utf8Mode::kOff) {
  std::string out;
  write_astring(out, s, m);
  return out;
}

std::string nstr(std::optional<std::string_view> s, Utf8Mode m = Utf8Mode::kOff) {
  std::string out;
  write_nstring(out, s, m);
  return out;
}

std::string mbox(std::string_view s, Utf8Mode m = Utf8Mode::kOff) {
  std::string out;
  CHECK(write_mailbox(out, s, m));
  return out;
}

std::string seq(std::vector<uint32_t> v) {
  std::string out;
  write_sequence_set(out, v);
  return out;
}

std::string date_time(int64_t t, int offset = 0) {
  std::string out;
  write_date_time(out, t, offset);
  return out;
}

std::string flags(uint32_t f, std::vector<std::string> kw = {}) {
  std::string out;
  write_flag_list(out, f, kw);
  return out;
}

}  // namespace

TEST_CASE("writer: atoms") {
  CHECK(is_atom("INBOX"));
  CHECK(is_atom("$Forwarded"));
  CHECK(is_atom("a[b"));
  CHECK_FALSE(is_atom(""));
  CHECK_FALSE(is_atom("a]b"));
  CHECK(is_astring_atom("a]b"));
  for (char c : "(){ %*\"\\\x7F\x01\x80"s) {
    INFO(static_cast<int>(c));
    CHECK_FALSE(is_atom(std::string("a") + c));
    CHECK_FALSE(is_astring_atom(std::string("a") + c));
  }
}

TEST_CASE("writer: strings") {
  CHECK(str("") == "\"\"");
  CHECK(str("hello") == "\"hello\"");  // `string` is never a bare atom
  CHECK(str("two words") == "\"two words\"");
  CHECK(str("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(str("C:\\dir\\") == "\"C:\\\\dir\\\\\"");
  CHECK(str("\"") == "\"\\\"\"");
  CHECK(str("\\") == "\"\\\\\"");
  CHECK(str("tab\there") == "\"tab\there\"");
  CHECK(str("NIL") == "\"NIL\"");
  CHECK(str("{5}") == "\"{5}\"");
  // CR, LF, NUL and 8-bit force a literal.
  CHECK(str("a\r\nb") == "{4}\r\na\r\nb");
  CHECK(str("a\nb") == "{3}\r\na\nb");
  CHECK(str("a\rb") == "{3}\r\na\rb");
  CHECK(str("a\0b"s) == "{3}\r\na\0b"s);
  CHECK(str("caf\xC3\xA9") == "{5}\r\ncaf\xC3\xA9");
  CHECK(str("caf\xE9") == "{4}\r\ncaf\xE9");
  // UTF-8 mode: valid UTF-8 may be quoted, invalid still a literal.
  CHECK(str("caf\xC3\xA9", Utf8Mode::kOn) == "\"caf\xC3\xA9\"");
  CHECK(str("\"\xC3\xA9\\", Utf8Mode::kOn) == "\"\\\"\xC3\xA9\\\\\"");
  CHECK(str("caf\xE9", Utf8Mode::kOn) == "{4}\r\ncaf\xE9");
  CHECK(str("\xED\xA0\x80", Utf8Mode::kOn) == "{3}\r\n\xED\xA0\x80");
  CHECK(str("\xC3\xA9\n", Utf8Mode::kOn) == "{3}\r\n\xC3\xA9\n");
  const std::string big(5000, 'x');
  CHECK(str(big) == "\"" + big + "\"");
  CHECK(str(big + "\n") == "{5001}\r\n" + big + "\n");
}

TEST_CASE("writer: astring and nstring") {
  CHECK(astr("INBOX") == "INBOX");
  CHECK(astr("a]b") == "a]b");
  CHECK(astr("") == "\"\"");
  CHECK(astr("two words") == "\"two words\"");
  CHECK(astr("50%") == "\"50%\"");
  CHECK(astr("*") == "\"*\"");
  CHECK(astr("(x)") == "\"(x)\"");
  CHECK(astr("{3}") == "\"{3}\"");
  CHECK(astr("q\"") == "\"q\\\"\"");
  CHECK(astr("NIL") == "\"NIL\"");
  CHECK(astr("nil") == "\"nil\"");
  CHECK(astr("NILS") == "NILS");
  CHECK(astr("line\r\n") == "{6}\r\nline\r\n");
  CHECK(astr("\xC3\xA9") == "{2}\r\n\xC3\xA9");
  CHECK(astr("\xC3\xA9", Utf8Mode::kOn) == "\"\xC3\xA9\"");
  CHECK(nstr(std::nullopt) == "NIL");
  CHECK(nstr("") == "\"\"");
  CHECK(nstr("NIL") == "\"NIL\"");
  CHECK(nstr("x\"y") == "\"x\\\"y\"");
  CHECK(nstr("a\nb") == "{3}\r\na\nb");
  // An optional<std::string> converts.
  const std::optional<std::string> some = "x";
  std::string out;
  write_nstring(out, some);
  CHECK(out == "\"x\"");
}

TEST_CASE("writer: literals") {
  std::string out;
  write_literal(out, "");
  CHECK(out == "{0}\r\n");
  out.clear();
  write_literal(out, "plain");
  CHECK(out == "{5}\r\nplain");
  out.clear();
  write_literal_header(out, 123456789012ull);
  CHECK(out == "{123456789012}\r\n");
  out.clear();
  write_literal_header(out, 3, true);
  CHECK(out == "~{3}\r\n");
}

TEST_CASE("writer: mailbox names") {
  CHECK(mbox("INBOX") == "INBOX");
  CHECK(mbox("inbox") == "INBOX");
  CHECK(mbox("InBoX") == "INBOX");
  CHECK(mbox("inbox", Utf8Mode::kOn) == "INBOX");
  CHECK(mbox("INBOX/Sub") == "INBOX/Sub");
  CHECK(mbox("Sent") == "Sent");
  CHECK(mbox("Nil") == "\"Nil\"");
  CHECK(mbox("Sent Items") == "\"Sent Items\"");
  CHECK(mbox("[Gmail]/All Mail") == "\"[Gmail]/All Mail\"");
  CHECK(mbox("a]b") == "a]b");
  CHECK(mbox("100%") == "\"100%\"");
  CHECK(mbox("Tom & Jerry") == "\"Tom &- Jerry\"");
  CHECK(mbox("R&D") == "R&-D");
  CHECK(mbox("say \"x\"") == "\"say \\\"x\\\"\"");
  CHECK(mbox("~peter/mail/\xE5\x8F\xB0\xE5\x8C\x97/\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E") ==
        "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  CHECK(mbox("Entw\xC3\xBCrfe") == "Entw&APw-rfe");
  CHECK(mbox("Gel\xC3\xB6schte Elemente") == "\"Gel&APY-schte Elemente\"");
  // UTF-8 mode: no modified UTF-7.
  CHECK(mbox("Entw\xC3\xBCrfe", Utf8Mode::kOn) == "\"Entw\xC3\xBCrfe\"");
  CHECK(mbox("R&D", Utf8Mode::kOn) == "R&D");
  CHECK(mbox("Sent", Utf8Mode::kOn) == "Sent");
  CHECK(mbox("a b", Utf8Mode::kOn) == "\"a b\"");
  // Not UTF-8: a literal of the raw bytes, and false.
  for (Utf8Mode m : {Utf8Mode::kOff, Utf8Mode::kOn}) {
    std::string out;
    CHECK_FALSE(write_mailbox(out, "caf\xE9", m));
    CHECK(out == "{4}\r\ncaf\xE9");
  }
}

TEST_CASE("writer: flag lists") {
  CHECK(flags(0) == "()");
  CHECK(flags(kFlagSeen) == "(\\Seen)");
  CHECK(flags(kFlagSeen | kFlagAnswered | kFlagFlagged | kFlagDeleted | kFlagDraft) ==
        "(\\Seen \\Answered \\Flagged \\Deleted \\Draft)");
  CHECK(flags(kFlagDeleted | kFlagRecent) == "(\\Deleted \\Recent)");
  CHECK(flags(kFlagSeen, {"$Forwarded", "Junk"}) == "(\\Seen $Forwarded Junk)");
  CHECK(flags(0, {"$MDNSent"}) == "($MDNSent)");
  // Keywords that are not atoms are left out.
  CHECK(flags(0, {"", "two words", "\\Seen", "a)b", "ok", "x\r\n"}) == "(ok)");
  CHECK(flags(kFlagWildcard) == "(\\*)");
  CHECK(flags(kFlagSeen | kFlagWildcard, {"k"}) == "(\\Seen k \\*)");
  CHECK(flags(1u << 7) == "()");  // unknown bits ignored
}

TEST_CASE("writer: sequence sets") {
  CHECK(seq({}) == "");
  CHECK(seq({1}) == "1");
  CHECK(seq({1, 2}) == "1:2");
  CHECK(seq({1, 2, 3, 5, 7, 8, 9}) == "1:3,5,7:9");
  CHECK(seq({2, 4, 6}) == "2,4,6");
  CHECK(seq({10, 11, 12, 13, 100}) == "10:13,100");
  CHECK(seq({4294967294u, 4294967295u}) == "4294967294:4294967295");
  CHECK(seq({4294967295u, 1}) == "4294967295,1");  // no wrap-around
  // Order is kept (COPYUID pairs positions); duplicates stay.
  CHECK(seq({5, 6, 1, 2, 3}) == "5:6,1:3");
  CHECK(seq({3, 3, 4}) == "3,3:4");
  CHECK(seq({0, 1, 0, 2}) == "1,2");  // zeros skipped (a zero breaks a run)
  CHECK(seq({0}) == "");
  std::vector<uint32_t> many;
  for (uint32_t i = 1; i <= 100000; ++i) many.push_back(i);
  CHECK(seq(many) == "1:100000");
}

TEST_CASE("writer: date-time") {
  CHECK(date_time(0) == "\" 1-Jan-1970 00:00:00 +0000\"");
  CHECK(date_time(1700000000) == "\"14-Nov-2023 22:13:20 +0000\"");
  CHECK(date_time(1700000000, 60) == "\"14-Nov-2023 23:13:20 +0100\"");
  CHECK(date_time(1700000000, 120) == "\"15-Nov-2023 00:13:20 +0200\"");
  CHECK(date_time(1700000000, -(7 * 60 + 30)) == "\"14-Nov-2023 14:43:20 -0730\"");
  CHECK(date_time(951782400) == "\"29-Feb-2000 00:00:00 +0000\"");
  CHECK(date_time(-1) == "\"31-Dec-1969 23:59:59 +0000\"");
  CHECK(date_time(1700000000, 24 * 60) == "\"14-Nov-2023 22:13:20 +0000\"");  // bad zone
  CHECK(date_time(INT64_MAX) == "\"31-Dec-9999 23:59:59 +0000\"");
  CHECK(date_time(INT64_MIN) == "\" 1-Jan-0001 00:00:00 +0000\"");
  CHECK(date_time(INT64_MAX, 60) == "\"31-Dec-9999 23:59:59 +0100\"");
}

TEST_CASE("writer: parse_date_time") {
  auto p = parse_date_time("14-Nov-2023 23:13:20 +0100");
  REQUIRE(p);
  CHECK(p->unix_seconds == 1700000000);
  CHECK(p->offset_minutes == 60);
  p = parse_date_time("\"14-Nov-2023 14:43:20 -0730\"");
  REQUIRE(p);
  CHECK(p->unix_seconds == 1700000000);
  CHECK(p->offset_minutes == -450);
  CHECK(parse_date_time(" 1-Jan-1970 00:00:00 +0000")->unix_seconds == 0);
  CHECK(parse_date_time("01-jan-1970 00:00:00 +0000")->unix_seconds == 0);
  CHECK(parse_date_time("1-JAN-1970 00:00:00 +0000")->unix_seconds == 0);  // lenient day
  CHECK(parse_date_time("31-Dec-1969 23:59:59 +0000")->unix_seconds == -1);
  CHECK(parse_date_time("29-Feb-2000 00:00:00 +0000")->unix_seconds == 951782400);
  CHECK(parse_date_time("31-Dec-2016 23:59:60 +0000")->unix_seconds == 1483228799);  // leap
  CHECK(parse_date_time("31-Dec-9999 23:59:60 -2359"));
  CHECK(parse_date_time(" 1-Jan-0001 00:00:00 +2359"));
  // Round trip with the writer.
  for (int64_t t : {int64_t{0}, int64_t{1700000000}, int64_t{-86401}, int64_t{4102444800}}) {
    for (int off : {0, 60, -300, 330, 845, -720}) {
      std::string s = date_time(t, off);
      INFO(s);
      auto back = parse_date_time(s);
      REQUIRE(back);
      CHECK(back->unix_seconds == t);
      CHECK(back->offset_minutes == off);
    }
  }
  // The ends of the range, in extreme zones, survive a round trip.
  for (std::string_view s : {"\"31-Dec-9999 23:59:59 -2359\"", "\" 1-Jan-0001 00:00:00 +2359\"",
                             "\"29-Feb-2024 12:00:00 +1400\""}) {
    INFO(s);
    auto back = parse_date_time(s);
    REQUIRE(back);
    CHECK(date_time(back->unix_seconds, back->offset_minutes) == s);
  }
  const char* bad[] = {
      "",
      "\"\"",
      "14-Nov-2023 23:13:20",         // no zone
      "14-Nov-2023 23:13:20 0100",    // no sign
      "14-Nov-2023 23:13:20 +100",    // short zone
      "14-Nov-2023 23:13:20 +01000",  // long zone
      "14-Nov-2023 23:13:20 +0160",   // zone minutes
      "14-Nov-2023 23:13:20 +2400",   // zone hours
      "14-Nov-2023 24:00:00 +0000",
      "14-Nov-2023 23:60:00 +0000",
      "14-Nov-2023 23:13:61 +0000",
      "14-Nov-2023 3:13:20 +0000",  // one-digit hour
      "14-Nov-23 23:13:20 +0000",   // two-digit year
      "14-Nov-02023 23:13:20 +0000",
      "14-November-2023 23:13:20 +0000",
      "14-Nvo-2023 23:13:20 +0000",
      "114-Nov-2023 23:13:20 +0000",
      "00-Nov-2023 23:13:20 +0000",
      "31-Nov-2023 23:13:20 +0000",  // no such day
      "29-Feb-2023 00:00:00 +0000",
      "14 Nov 2023 23:13:20 +0000",
      "14-Nov-2023  23:13:20 +0000",
      "14-Nov-2023 23:13:20 +0000 ",
      " 14-Nov-2023 23:13:20 +0000",
      "\"14-Nov-2023 23:13:20 +0000",
      "14-Nov-2023\t23:13:20 +0000",
      "-1-Nov-2023 23:13:20 +0000",
      "01-Jan-0000 00:00:00 +0000",  // no year 0
  };
  for (const char* s : bad) {
    INFO(s);
    CHECK_FALSE(parse_date_time(s));
  }
}

TEST_CASE("writer: parse_date and epoch_day") {
  auto d = parse_date("1-Feb-1994");
  REQUIRE(d);
  CHECK(*d == CalendarDay{1994, 2, 1});
  CHECK(parse_date("01-feb-1994") == CalendarDay{1994, 2, 1});
  CHECK(parse_date("\"31-DEC-1969\"") == CalendarDay{1969, 12, 31});
  CHECK(parse_date("1-Jan-1970")->epoch_day() == 0);
  CHECK(parse_date("31-Dec-1969")->epoch_day() == -1);
  CHECK(parse_date("14-Nov-2023")->epoch_day() == 1700000000 / 86400);
  CHECK(parse_date("29-Feb-2024"));
  for (const char* s : {"", "1-Feb", "1-Feb-94", "001-Feb-1994", "1-Fe-1994", "30-Feb-2024",
                        "0-Jan-2024", "1-Jan-0000", "1-Feb-1994 ", " 1-Feb-1994", "1/Feb/1994",
                        "x1-Feb-1994", "1-Feb-1994 00:00:00 +0000"}) {
    INFO(s);
    CHECK_FALSE(parse_date(s));
  }
  CHECK(epoch_day(0) == 0);
  CHECK(epoch_day(86399) == 0);
  CHECK(epoch_day(86400) == 1);
  CHECK(epoch_day(-1) == -1);
  CHECK(epoch_day(1700000000, 120) == 1700000000 / 86400 + 1);         // 00:13 on the 15th at +0200
  CHECK(epoch_day(1700000000, -(22 * 60)) == 1700000000 / 86400);      // 00:13 on the 14th
  CHECK(epoch_day(1700000000, -(23 * 60)) == 1700000000 / 86400 - 1);  // 23:13 on the 13th
}

TEST_CASE("writer: tagged, untagged and continuation") {
  CHECK(tagged("A1", Status::kOk, std::nullopt, "LOGIN completed") == "A1 OK LOGIN completed\r\n");
  CHECK(tagged("a.2", Status::kNo, code_name(Code::kAuthenticationFailed), "Bad credentials") ==
        "a.2 NO [AUTHENTICATIONFAILED] Bad credentials\r\n");
  CHECK(tagged("t", Status::kBad, code_name(Code::kClientBug), "Nope") ==
        "t BAD [CLIENTBUG] Nope\r\n");
  CHECK(tagged("A3", Status::kOk, "READ-WRITE", "SELECT completed") ==
        "A3 OK [READ-WRITE] SELECT completed\r\n");
  // Only OK/NO/BAD complete a command.
  CHECK(tagged("A4", Status::kBye, std::nullopt, "x") == "A4 BAD x\r\n");
  CHECK(tagged("A4", Status::kPreauth, std::nullopt, "x") == "A4 BAD x\r\n");
  // Bad tags become '*'.
  CHECK(tagged("", Status::kBad, std::nullopt, "x") == "* BAD x\r\n");
  CHECK(tagged("a+b", Status::kBad, std::nullopt, "x") == "* BAD x\r\n");
  CHECK(tagged("a b", Status::kBad, std::nullopt, "x") == "* BAD x\r\n");
  CHECK(tagged("a\r\nb", Status::kBad, std::nullopt, "x") == "* BAD x\r\n");
  CHECK(tagged("a{1}", Status::kBad, std::nullopt, "x") == "* BAD x\r\n");
  CHECK(tagged("a]", Status::kOk, std::nullopt, "x") == "a] OK x\r\n");
  // Text sanitising.
  CHECK(tagged("A5", Status::kNo, std::nullopt, "evil\r\nA6 OK injected") ==
        "A5 NO evil  A6 OK injected\r\n");
  CHECK(tagged("A5", Status::kNo, std::nullopt, "nul\0tab\t"s) == "A5 NO nul tab \r\n");
  CHECK(tagged("A5", Status::kNo, std::nullopt, "caf\xC3\xA9") == "A5 NO caf??\r\n");
  CHECK(tagged("A5", Status::kNo, std::nullopt, "caf\xC3\xA9", Utf8Mode::kOn) ==
        "A5 NO caf\xC3\xA9\r\n");
  CHECK(tagged("A5", Status::kNo, std::nullopt, "caf\xE9", Utf8Mode::kOn) == "A5 NO caf?\r\n");
  CHECK(tagged("A5", Status::kNo, std::nullopt, "[NOT A CODE] x") == "A5 NO (NOT A CODE] x\r\n");
  CHECK(tagged("A5", Status::kNo, "LIMIT", "[x]") == "A5 NO [LIMIT] [x]\r\n");
  CHECK(tagged("A5", Status::kNo, "bad]\r\ncode", "x") == "A5 NO [badcode] x\r\n");
  CHECK(tagged("A5", Status::kNo, "", "x") == "A5 NO x\r\n");
  CHECK(tagged("A5", Status::kNo, " \r\n", "x") == "A5 NO x\r\n");
  CHECK(tagged("A5", Status::kNo, " LIMIT ", "x") == "A5 NO [LIMIT] x\r\n");
  // Empty text gets a default (RFC 3501 requires text).
  CHECK(tagged("A6", Status::kOk, std::nullopt, "") == "A6 OK Completed\r\n");
  CHECK(tagged("A6", Status::kOk, "CLOSED", "") == "A6 OK [CLOSED] Completed\r\n");
  // Appending form.
  std::string out = "x";
  tagged(out, "A7", Status::kOk, std::nullopt, "done");
  CHECK(out == "xA7 OK done\r\n");

  CHECK(untagged(Status::kOk, std::nullopt, "Roost ready") == "* OK Roost ready\r\n");
  CHECK(untagged(Status::kPreauth, std::nullopt, "hi") == "* PREAUTH hi\r\n");
  CHECK(untagged(Status::kBye, code_name(Code::kUnavailable), "Shutting down") ==
        "* BYE [UNAVAILABLE] Shutting down\r\n");
  CHECK(untagged(Status::kOk, code_uidnext(4392), "Predicted next UID") ==
        "* OK [UIDNEXT 4392] Predicted next UID\r\n");
  CHECK(untagged(Status::kNo, std::nullopt, "a\nb") == "* NO a b\r\n");
  out.clear();
  untagged(out, Status::kOk, code_uidvalidity(3857529045u), "UIDs valid");
  CHECK(out == "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
  out.clear();
  untagged_number(out, 172, "EXISTS");
  untagged_number(out, 3, "EXPUNGE");
  CHECK(out == "* 172 EXISTS\r\n* 3 EXPUNGE\r\n");

  CHECK(continuation("Ready for literal data") == "+ Ready for literal data\r\n");
  CHECK(continuation("") == "+ \r\n");
  CHECK(continuation("YWJj\r\n") == "+ YWJj  \r\n");
  out = "pre";
  continuation(out, "go");
  CHECK(out == "pre+ go\r\n");
}

TEST_CASE("writer: response codes") {
  CHECK(code_name(Code::kAlert) == "ALERT");
  CHECK(code_name(Code::kReadOnly) == "READ-ONLY");
  CHECK(code_name(Code::kUnknownCte) == "UNKNOWN-CTE");
  // RFC 5530, every one.
  CHECK(code_name(Code::kUnavailable) == "UNAVAILABLE");
  CHECK(code_name(Code::kAuthenticationFailed) == "AUTHENTICATIONFAILED");
  CHECK(code_name(Code::kAuthorizationFailed) == "AUTHORIZATIONFAILED");
  CHECK(code_name(Code::kExpired) == "EXPIRED");
  CHECK(code_name(Code::kPrivacyRequired) == "PRIVACYREQUIRED");
  CHECK(code_name(Code::kContactAdmin) == "CONTACTADMIN");
  CHECK(code_name(Code::kNoPerm) == "NOPERM");
  CHECK(code_name(Code::kInUse) == "INUSE");
  CHECK(code_name(Code::kExpungeIssued) == "EXPUNGEISSUED");
  CHECK(code_name(Code::kCorruption) == "CORRUPTION");
  CHECK(code_name(Code::kServerBug) == "SERVERBUG");
  CHECK(code_name(Code::kClientBug) == "CLIENTBUG");
  CHECK(code_name(Code::kCannot) == "CANNOT");
  CHECK(code_name(Code::kLimit) == "LIMIT");
  CHECK(code_name(Code::kOverQuota) == "OVERQUOTA");
  CHECK(code_name(Code::kAlreadyExists) == "ALREADYEXISTS");
  CHECK(code_name(Code::kNonExistent) == "NONEXISTENT");

  CHECK(code_uidnext(5) == "UIDNEXT 5");
  CHECK(code_unseen(12) == "UNSEEN 12");
  CHECK(code_highestmodseq(715194045007ull) == "HIGHESTMODSEQ 715194045007");
  CHECK(code_appenduid(38505, 3955) == "APPENDUID 38505 3955");
  std::vector<uint32_t> src = {304, 319, 320, 321, 322, 323};
  std::vector<uint32_t> dst = {3956, 3957, 3958, 3959, 3960, 3961};
  CHECK(code_copyuid(38505, src, dst) == "COPYUID 38505 304,319:323 3956:3961");
  CHECK(code_permanentflags(kFlagSeen | kFlagDeleted | kFlagRecent | kFlagWildcard) ==
        "PERMANENTFLAGS (\\Seen \\Deleted \\*)");
  std::vector<std::string> kw = {"$Junk"};
  CHECK(code_permanentflags(kFlagSeen, kw) == "PERMANENTFLAGS (\\Seen $Junk)");
  CHECK(code_capability("IMAP4rev1 IMAP4rev2") == "CAPABILITY IMAP4rev1 IMAP4rev2");
  CHECK(tagged("A1", Status::kOk, code_capability("IMAP4rev1 AUTH=PLAIN"), "Logged in") ==
        "A1 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Logged in\r\n");
}
