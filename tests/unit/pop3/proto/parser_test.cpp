// Unit tests for pop3/proto: every input is fed whole and in pieces of 100,
// 10, 5, 2 and 1 bytes, and must give the same result each time.
#include "pop3/proto/parser.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pop3::proto::Command;
using pop3::proto::CrlfSizer;
using pop3::proto::DotStuffer;
using pop3::proto::LineReader;
using pop3::proto::parse_command;
using pop3::proto::parse_number;
using pop3::proto::Verb;

// 0 stands for "whole input at once".
constexpr size_t kSplits[] = {0, 100, 10, 5, 2, 1};

std::vector<std::string_view> pieces(std::string_view in, size_t split) {
  std::vector<std::string_view> out;
  if (split == 0) {
    out.push_back(in);
    return out;
  }
  for (size_t i = 0; i < in.size(); i += split) out.push_back(in.substr(i, split));
  return out;
}

constexpr const char* kTooLong = "<too long>";

struct ReadResult {
  std::vector<std::string> events;
  size_t max_buffered = 0;  // after draining, across all feeds
  size_t left = 0;          // buffered() at the end
};

void drain(LineReader& r, std::vector<std::string>* events) {
  while (auto ev = r.next()) {
    if (ev->kind == LineReader::Event::Kind::kTooLong) {
      CHECK(ev->line.empty());
      events->push_back(kTooLong);
    } else {
      events->push_back(ev->line);
    }
  }
}

ReadResult read_lines(std::string_view in, size_t split, size_t cap) {
  LineReader r(cap);
  ReadResult res;
  for (std::string_view p : pieces(in, split)) {
    r.feed(p);
    drain(r, &res.events);
    res.max_buffered = std::max(res.max_buffered, r.buffered());
  }
  res.left = r.buffered();
  return res;
}

using Lines = std::vector<std::string>;

void check_lines(std::string_view in, size_t cap, const Lines& want, size_t want_left = 0) {
  for (size_t split : kSplits) {
    CAPTURE(split);
    ReadResult got = read_lines(in, split, cap);
    CHECK(got.events == want);
    CHECK(got.left == want_left);
  }
}

std::string stuff(std::string_view msg, size_t split, std::optional<uint64_t> top) {
  DotStuffer d = top ? DotStuffer(*top) : DotStuffer();
  std::string out;
  bool stopped = false;
  for (std::string_view p : pieces(msg, split)) {
    if (stopped) {
      // Once the limit is reached, further input is ignored.
      size_t before = out.size();
      CHECK_FALSE(d.feed(p, &out));
      CHECK(out.size() == before);
      continue;
    }
    if (!d.feed(p, &out)) stopped = true;
  }
  d.finish(&out);
  return out;
}

void check_stuff(std::string_view msg, std::optional<uint64_t> top, std::string_view want) {
  for (size_t split : kSplits) {
    CAPTURE(split);
    CHECK(stuff(msg, split, top) == want);
  }
}

uint64_t manual_crlf_size(std::string_view s) {
  uint64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) {
      n += 2;
    } else {
      n += 1;
    }
  }
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------
// LineReader

TEST_CASE("LineReader: CRLF and bare LF lines") {
  check_lines("USER alice\r\nPASS secret\nQUIT\r\n", 100, {"USER alice", "PASS secret", "QUIT"});
  check_lines("\r\n\n", 100, {"", ""});
}

TEST_CASE("LineReader: an unterminated line stays buffered") {
  check_lines("NOOP\r\nSTA", 100, {"NOOP"}, 3);
  check_lines("NOOP\r\nSTAT\r", 100, {"NOOP"}, 5);
  check_lines("", 100, {});
}

TEST_CASE("LineReader: a lone CR is data") {
  check_lines("a\rb\r\n\r\r\n\rx\n", 100, {"a\rb", "\r", "\rx"});
}

TEST_CASE("LineReader: pipelined commands") {
  std::string in =
      "USER alice\r\nPASS s3cret\r\nSTAT\r\nLIST\r\nRETR 1\r\nTOP 2 5\r\nUIDL\r\nQUIT\r\n";
  Lines want = {"USER alice", "PASS s3cret", "STAT", "LIST", "RETR 1", "TOP 2 5", "UIDL", "QUIT"};
  check_lines(in, 100, want);
  for (size_t split : kSplits) {
    CAPTURE(split);
    ReadResult got = read_lines(in, split, 100);
    std::vector<Verb> verbs;
    for (const std::string& l : got.events) {
      auto cmd = parse_command(l);
      REQUIRE(cmd.has_value());
      verbs.push_back(cmd->verb);
    }
    CHECK(verbs == std::vector<Verb>{Verb::kUser, Verb::kPass, Verb::kStat, Verb::kList,
                                     Verb::kRetr, Verb::kTop, Verb::kUidl, Verb::kQuit});
  }
}

TEST_CASE("LineReader: the cap applies to the content") {
  check_lines("0123456789\r\n", 10, {"0123456789"});
  check_lines("0123456789\n", 10, {"0123456789"});
  check_lines("0123456789A\r\n", 10, {kTooLong});
  check_lines("0123456789A\n", 10, {kTooLong});
  // A CR that is not part of the line end counts.
  check_lines("0123456789\r\r\n", 10, {kTooLong});
  // A partial line of cap bytes plus a CR may still be fine.
  check_lines("0123456789\r", 10, {}, 11);
  check_lines("0123456789A", 10, {kTooLong});
  check_lines("\n", 0, {""});
  check_lines("a\n", 0, {kTooLong});
}

TEST_CASE("LineReader: overlong lines followed by valid ones") {
  check_lines("AAAAAAAAAAAAAAAAAAAAAAAA\r\nNOOP\r\nXXXXXXXXXXXXXXX\nQUIT\r\n", 8,
              {kTooLong, "NOOP", kTooLong, "QUIT"});
  check_lines("NOOP\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 8, {"NOOP", kTooLong});
  check_lines("12345678\r\n123456789\r\n12345678\r\n", 8, {"12345678", kTooLong, "12345678"});
}

TEST_CASE("LineReader: a too-long line is reported before it ends") {
  LineReader r(4);
  r.feed("ABCDEFG");
  auto ev = r.next();
  REQUIRE(ev.has_value());
  CHECK(ev->kind == LineReader::Event::Kind::kTooLong);
  CHECK_FALSE(r.next().has_value());
  CHECK(r.buffered() == 0);
  r.feed("HIJ\r");
  CHECK_FALSE(r.next().has_value());
  r.feed("\nNOOP\r\n");
  ev = r.next();
  REQUIRE(ev.has_value());
  CHECK(ev->kind == LineReader::Event::Kind::kLine);
  CHECK(ev->line == "NOOP");
  CHECK_FALSE(r.next().has_value());
}

TEST_CASE("LineReader: an endless line keeps memory bounded") {
  const size_t cap = 64;
  std::string endless(1 << 20, 'A');
  for (size_t split : kSplits) {
    CAPTURE(split);
    LineReader r(cap);
    std::vector<std::string> events;
    size_t max_buffered = 0;
    for (std::string_view p : pieces(endless, split)) {
      r.feed(p);
      max_buffered = std::max(max_buffered, r.buffered());
      drain(r, &events);
      max_buffered = std::max(max_buffered, r.buffered());
    }
    CHECK(max_buffered <= cap + 2);
    CHECK(events == Lines{kTooLong});
    for (std::string_view p : pieces("AAAA\r\nQUIT\r\n", split)) {
      r.feed(p);
      drain(r, &events);
    }
    CHECK(events == Lines{kTooLong, "QUIT"});
    CHECK(r.buffered() == 0);
  }
}

TEST_CASE("LineReader: complete lines are not kept after being read") {
  LineReader r(100);
  for (int i = 0; i < 1000; ++i) {
    r.feed("NOOP\r\nNO");
    auto ev = r.next();
    REQUIRE(ev.has_value());
    CHECK(r.buffered() == 2);
    r.feed("OP\r\n");
    REQUIRE(r.next().has_value());
    CHECK(r.buffered() == 0);
  }
}

TEST_CASE("LineReader: clear drops buffered input") {
  LineReader r(100);
  r.feed("STLS\r\nINJECTED\r\nPART");
  auto ev = r.next();
  REQUIRE(ev.has_value());
  CHECK(ev->line == "STLS");
  r.clear();
  CHECK(r.buffered() == 0);
  CHECK_FALSE(r.next().has_value());
  r.feed("CAPA\r\n");
  ev = r.next();
  REQUIRE(ev.has_value());
  CHECK(ev->line == "CAPA");

  // clear() also ends the discarding of a too-long line.
  LineReader d(4);
  d.feed("ABCDEFGH");
  REQUIRE(d.next().has_value());
  d.clear();
  d.feed("CAPA\r\n");
  ev = d.next();
  REQUIRE(ev.has_value());
  CHECK(ev->line == "CAPA");
}

TEST_CASE("LineReader: the cap can be raised between lines") {
  LineReader r(8);
  r.feed("PASS x\r\n");
  REQUIRE(r.next().has_value());
  r.set_max_line(64);
  r.feed("TOP 1 1234567890\r\n");
  auto ev = r.next();
  REQUIRE(ev.has_value());
  CHECK(ev->kind == LineReader::Event::Kind::kLine);
  CHECK(ev->line == "TOP 1 1234567890");
}

// ---------------------------------------------------------------------------
// parse_command

TEST_CASE("parse_command: keywords in any case") {
  struct Case {
    const char* line;
    Verb verb;
    const char* keyword;
  };
  const Case cases[] = {
      {"USER a", Verb::kUser, "USER"},   {"user a", Verb::kUser, "USER"},
      {"uSeR a", Verb::kUser, "USER"},   {"pass x", Verb::kPass, "PASS"},
      {"apop a b", Verb::kApop, "APOP"}, {"Auth PLAIN", Verb::kAuth, "AUTH"},
      {"stls", Verb::kStls, "STLS"},     {"capa", Verb::kCapa, "CAPA"},
      {"QuIt", Verb::kQuit, "QUIT"},     {"stat", Verb::kStat, "STAT"},
      {"list", Verb::kList, "LIST"},     {"retr 1", Verb::kRetr, "RETR"},
      {"dele 1", Verb::kDele, "DELE"},   {"noop", Verb::kNoop, "NOOP"},
      {"rset", Verb::kRset, "RSET"},     {"top 1 2", Verb::kTop, "TOP"},
      {"ToP 1 2", Verb::kTop, "TOP"},    {"uidl", Verb::kUidl, "UIDL"},
      {"xyzw", Verb::kUnknown, "XYZW"},  {"abc", Verb::kUnknown, "ABC"},
      {"LAST", Verb::kUnknown, "LAST"},  {"TOPS", Verb::kUnknown, "TOPS"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    auto cmd = parse_command(c.line);
    REQUIRE(cmd.has_value());
    CHECK(cmd->verb == c.verb);
    CHECK(cmd->keyword == c.keyword);
  }
}

TEST_CASE("parse_command: arguments") {
  auto cmd = parse_command("TOP 3 10");
  REQUIRE(cmd.has_value());
  CHECK(cmd->args == Lines{"3", "10"});
  CHECK(cmd->rest == "3 10");

  cmd = parse_command("STAT");
  REQUIRE(cmd.has_value());
  CHECK(cmd->args.empty());
  CHECK(cmd->rest.empty());

  cmd = parse_command("LIST ");
  REQUIRE(cmd.has_value());
  CHECK(cmd->args.empty());
  CHECK(cmd->rest.empty());

  cmd = parse_command("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
  REQUIRE(cmd.has_value());
  CHECK(cmd->verb == Verb::kAuth);
  CHECK(cmd->args == Lines{"PLAIN", "AGFsaWNlAHNlY3JldA=="});

  cmd = parse_command("AUTH PLAIN =");
  REQUIRE(cmd.has_value());
  CHECK(cmd->args == Lines{"PLAIN", "="});
}

TEST_CASE("parse_command: PASS keeps spaces") {
  auto cmd = parse_command("PASS correct horse  battery ");
  REQUIRE(cmd.has_value());
  CHECK(cmd->verb == Verb::kPass);
  CHECK(cmd->rest == "correct horse  battery ");
  CHECK(cmd->args == Lines{"correct", "horse", "", "battery", ""});

  cmd = parse_command("pass  leading");
  REQUIRE(cmd.has_value());
  CHECK(cmd->rest == " leading");

  // Through the line reader at every split.
  check_lines("PASS my secret pass\r\n", 100, {"PASS my secret pass"});
  for (size_t split : kSplits) {
    ReadResult got = read_lines("pass my secret pass\r\n", split, 100);
    REQUIRE(got.events.size() == 1);
    auto c = parse_command(got.events[0]);
    REQUIRE(c.has_value());
    CHECK(c->rest == "my secret pass");
  }
}

TEST_CASE("parse_command: rejected lines") {
  CHECK_FALSE(parse_command("").has_value());
  CHECK_FALSE(parse_command(" ").has_value());
  CHECK_FALSE(parse_command(" USER a").has_value());
  CHECK_FALSE(parse_command("US").has_value());
  CHECK_FALSE(parse_command("US a").has_value());
  CHECK_FALSE(parse_command("USERS a").has_value());
  CHECK_FALSE(parse_command("ABCDEFGHIJ").has_value());
  CHECK_FALSE(parse_command(std::string_view("US\0R", 4)).has_value());
  CHECK_FALSE(parse_command(std::string_view("PASS a\0b", 8)).has_value());
  CHECK_FALSE(parse_command("\x01\x02\x03").has_value());
  CHECK_FALSE(parse_command("\xc3\xa9t\xc3\xa9").has_value());
  CHECK_FALSE(parse_command("US\tR").has_value());
}

// ---------------------------------------------------------------------------
// parse_number

TEST_CASE("parse_number") {
  CHECK(parse_number("1") == 1u);
  CHECK(parse_number("42") == 42u);
  CHECK(parse_number("2147483647") == 2147483647u);
  CHECK(parse_number("007") == 7u);
  CHECK(parse_number("0000000001") == 1u);
  CHECK_FALSE(parse_number("").has_value());
  CHECK_FALSE(parse_number("0").has_value());
  CHECK_FALSE(parse_number("0000000000").has_value());
  CHECK_FALSE(parse_number("00000000001").has_value());
  CHECK_FALSE(parse_number("2147483648").has_value());
  CHECK_FALSE(parse_number("4294967295").has_value());
  CHECK_FALSE(parse_number("4294967296").has_value());
  CHECK_FALSE(parse_number("9999999999").has_value());
  CHECK_FALSE(parse_number("99999999999999999999999").has_value());
  CHECK_FALSE(parse_number("+1").has_value());
  CHECK_FALSE(parse_number("-1").has_value());
  CHECK_FALSE(parse_number(" 1").has_value());
  CHECK_FALSE(parse_number("1 ").has_value());
  CHECK_FALSE(parse_number("1a").has_value());
  CHECK_FALSE(parse_number("0x10").has_value());
  CHECK_FALSE(parse_number("1.0").has_value());
  CHECK_FALSE(parse_number(std::string_view("1\0", 2)).has_value());
}

// ---------------------------------------------------------------------------
// DotStuffer

TEST_CASE("DotStuffer: line ends become CRLF") {
  check_stuff("a\nb\n", std::nullopt, "a\r\nb\r\n.\r\n");
  check_stuff("a\r\nb\r\n", std::nullopt, "a\r\nb\r\n.\r\n");
  check_stuff("a\r\nb\nc\r\n\n", std::nullopt, "a\r\nb\r\nc\r\n\r\n.\r\n");
}

TEST_CASE("DotStuffer: leading dots are doubled") {
  check_stuff("x\r\n.\r\ny\r\n", std::nullopt, "x\r\n..\r\ny\r\n.\r\n");
  check_stuff(".\n", std::nullopt, "..\r\n.\r\n");
  check_stuff("..\n", std::nullopt, "...\r\n.\r\n");
  check_stuff(".start\n..two\n", std::nullopt, "..start\r\n...two\r\n.\r\n");
  check_stuff("a.b\n a.\n", std::nullopt, "a.b\r\n a.\r\n.\r\n");
  check_stuff("\r\n.\r\n\r\n", std::nullopt, "\r\n..\r\n\r\n.\r\n");
}

TEST_CASE("DotStuffer: messages without a final line end") {
  check_stuff("", std::nullopt, ".\r\n");
  check_stuff("abc", std::nullopt, "abc\r\n.\r\n");
  check_stuff(".", std::nullopt, "..\r\n.\r\n");
  check_stuff("a\nb", std::nullopt, "a\r\nb\r\n.\r\n");
}

TEST_CASE("DotStuffer: a lone CR is data") {
  check_stuff("a\rb\n", std::nullopt, "a\rb\r\n.\r\n");
  check_stuff("a\r", std::nullopt, "a\r\r\n.\r\n");
  check_stuff("\r.x\n", std::nullopt, "\r.x\r\n.\r\n");
  check_stuff("a\r\r\n", std::nullopt, "a\r\r\n.\r\n");
  check_stuff("\r", std::nullopt, "\r\r\n.\r\n");
}

TEST_CASE("DotStuffer: CR and LF split across chunks") {
  DotStuffer d;
  std::string out;
  CHECK(d.feed("a\r", &out));
  CHECK(out == "a");
  CHECK(d.feed("\n.b\r", &out));
  CHECK(d.feed("\n", &out));
  d.finish(&out);
  CHECK(out == "a\r\n..b\r\n.\r\n");
}

TEST_CASE("DotStuffer: TOP") {
  const std::string msg = "Subject: hi\r\nFrom: a@example.test\r\n\r\nl1\r\n.l2\r\nl3\r\n";
  const std::string head = "Subject: hi\r\nFrom: a@example.test\r\n\r\n";
  check_stuff(msg, 0, head + ".\r\n");
  check_stuff(msg, 1, head + "l1\r\n.\r\n");
  check_stuff(msg, 2, head + "l1\r\n..l2\r\n.\r\n");
  check_stuff(msg, 3, head + "l1\r\n..l2\r\nl3\r\n.\r\n");
  check_stuff(msg, 100, head + "l1\r\n..l2\r\nl3\r\n.\r\n");
  check_stuff(msg, std::nullopt, head + "l1\r\n..l2\r\nl3\r\n.\r\n");

  // LF-only storage.
  check_stuff("H: x\n\nb1\nb2\n", 1, "H: x\r\n\r\nb1\r\n.\r\n");
  // Blank body lines count as lines.
  check_stuff("H: x\n\n\n\nx\n", 2, "H: x\r\n\r\n\r\n\r\n.\r\n");
  // No blank line: everything is header.
  check_stuff("A: b\nC: d", 0, "A: b\r\nC: d\r\n.\r\n");
  check_stuff("A: b\nC: d\n", 5, "A: b\r\nC: d\r\n.\r\n");
  // Empty header.
  check_stuff("\r\nbody\r\n", 0, "\r\n.\r\n");
  // Body without a final line end.
  check_stuff("H: x\n\nb1", 5, "H: x\r\n\r\nb1\r\n.\r\n");
  check_stuff("H: x\n\nb1\nb2", 2, "H: x\r\n\r\nb1\r\nb2\r\n.\r\n");
  // A line of only a CR is not the separator.
  check_stuff("H: x\n\r\r\nb\n\nc\n", 0, "H: x\r\n\r\r\nb\r\n\r\n.\r\n");
  check_stuff("", 0, ".\r\n");
}

TEST_CASE("DotStuffer: feed reports when the TOP limit is reached") {
  DotStuffer d(0);
  std::string out;
  CHECK(d.feed("H: x\r\n", &out));
  CHECK_FALSE(d.feed("\r\nbody\r\n", &out));
  CHECK(out == "H: x\r\n\r\n");
  CHECK_FALSE(d.feed("more\r\n", &out));
  CHECK(out == "H: x\r\n\r\n");
  d.finish(&out);
  CHECK(out == "H: x\r\n\r\n.\r\n");

  DotStuffer full;
  std::string all;
  CHECK(full.feed("H: x\r\n\r\nbody\r\n", &all));
}

// ---------------------------------------------------------------------------
// CrlfSizer

TEST_CASE("CrlfSizer counts like the CRLF form") {
  const char* inputs[] = {
      "",
      "a",
      "a\n",
      "a\r\n",
      "\r",
      "\r\r\n\n",
      "\n\n\r",
      "a\rb\nc\r\nd",
      "Subject: x\n\nline1\nline2\r\n.\n",
      "\r\n\r\n\r",
      "\n",
  };
  for (const char* in : inputs) {
    CAPTURE(in);
    for (size_t split : kSplits) {
      CAPTURE(split);
      CrlfSizer s;
      for (std::string_view p : pieces(in, split)) s.feed(p);
      CHECK(s.total() == manual_crlf_size(in));
    }
  }
  CrlfSizer s;
  s.feed("a\r");
  CHECK(s.total() == 2);
  s.feed("\n");
  CHECK(s.total() == 3);
  s.feed("\n");
  CHECK(s.total() == 5);
}
