// lmtp/proto: the command/DATA/BDAT parser at every split of its input, and
// the argument parsers.
#include "lmtp/proto/parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using lmtp::proto::Parser;
using lmtp::proto::PathError;
using lmtp::proto::Verb;

namespace {

// Plays the session: DATA and BDAT switch the parser's mode as the session
// does after its answer. Returns a transcript: "L:line", "TOOLONG",
// "C:content" (consecutive content merged), "END" (DATA), "CHUNK" (BDAT).
std::vector<std::string> run(const std::string& input, size_t piece, size_t max_line = 64) {
  Parser p(max_line);
  std::vector<std::string> out;
  auto drain = [&] {
    while (auto ev = p.next()) {
      switch (ev->kind) {
        case Parser::Event::Kind::kLine: {
          out.push_back("L:" + ev->bytes);
          auto cmd = lmtp::proto::parse_command(ev->bytes);
          if (cmd && cmd->verb == Verb::kData) p.begin_data();
          if (cmd && cmd->verb == Verb::kBdat) {
            auto b = lmtp::proto::parse_bdat(cmd->arg);
            if (b) p.begin_chunk(b->size);
          }
          break;
        }
        case Parser::Event::Kind::kTooLong:
          out.push_back("TOOLONG");
          break;
        case Parser::Event::Kind::kContent:
          REQUIRE(!ev->bytes.empty());
          if (!out.empty() && out.back().rfind("C:", 0) == 0) {
            out.back() += ev->bytes;
          } else {
            out.push_back("C:" + ev->bytes);
          }
          break;
        case Parser::Event::Kind::kDataEnd:
          out.push_back("END");
          break;
        case Parser::Event::Kind::kChunkEnd:
          out.push_back("CHUNK");
          break;
      }
    }
  };
  if (piece == 0) piece = input.size() ? input.size() : 1;
  for (size_t i = 0; i < input.size(); i += piece) {
    p.feed(std::string_view(input).substr(i, piece));
    drain();
  }
  drain();
  return out;
}

// The same transcript at every split: whole, 100, 10, 5, 2 and 1 bytes.
std::vector<std::string> at_every_split(const std::string& input, size_t max_line = 64) {
  auto whole = run(input, 0, max_line);
  for (size_t piece : {100, 10, 5, 2, 1}) {
    CAPTURE(piece);
    CHECK(run(input, piece, max_line) == whole);
  }
  return whole;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("command lines: CRLF and bare LF, blank lines, trailing partial line") {
  auto t = at_every_split("LHLO mx.example\r\nNOOP\n\r\nMAIL FROM:<a@b>");
  CHECK(t == V{"L:LHLO mx.example", "L:NOOP", "L:"});
}

TEST_CASE("an overlong command line is reported once and skipped") {
  std::string longline(100, 'x');
  auto t = at_every_split("NOOP\r\n" + longline + "\r\nQUIT\r\n", 64);
  CHECK(t == V{"L:NOOP", "TOOLONG", "L:QUIT"});
  // Without its line end it is reported as soon as it cannot fit.
  auto u = at_every_split("RSET\r\n" + longline, 64);
  CHECK(u == V{"L:RSET", "TOOLONG"});
  // Exactly the cap fits (the CR is not counted).
  std::string exact(64, 'y');
  CHECK(at_every_split(exact + "\r\n", 64) == V{"L:" + exact});
}

TEST_CASE("DATA: dot-unstuffing, CRLF kept, terminator, pipelined command after it") {
  auto t = at_every_split("DATA\r\nSubject: x\r\n\r\n..leading dot\r\n.a\r\nlast\r\n.\r\nQUIT\r\n");
  CHECK(t == V{"L:DATA", "C:Subject: x\r\n\r\n.leading dot\r\na\r\nlast\r\n", "END", "L:QUIT"});
}

TEST_CASE("DATA: bare LF line ends are written as CRLF, also for the terminator") {
  auto t = at_every_split("DATA\nline one\nline two\r\n\n.\nNOOP\n");
  CHECK(t == V{"L:DATA", "C:line one\r\nline two\r\n\r\n", "END", "L:NOOP"});
}

TEST_CASE("DATA: a bare CR stays, a dot-CR without LF is content") {
  auto t = at_every_split("DATA\r\na\rb\r\n.\rx\r\n.\r\n");
  CHECK(t == V{"L:DATA", "C:a\rb\r\n\rx\r\n", "END"});
}

TEST_CASE("DATA: empty message and long lines are no command lines") {
  CHECK(at_every_split("DATA\r\n.\r\n") == V{"L:DATA", "END"});
  std::string longline(5000, 'z');
  auto t = at_every_split("DATA\r\n" + longline + "\r\n.\r\n", 64);
  CHECK(t == V{"L:DATA", "C:" + longline + "\r\n", "END"});
}

TEST_CASE("DATA: an unterminated message waits for more") {
  auto t = at_every_split("DATA\r\nhello\r\n.");
  CHECK(t == V{"L:DATA", "C:hello\r\n"});
}

TEST_CASE("BDAT: exact octet counts, pipelined chunks and commands") {
  auto t = at_every_split("BDAT 4\r\nab\r\nBDAT 3 LAST\r\nxyzQUIT\r\n");
  CHECK(t == V{"L:BDAT 4", "C:ab\r\n", "CHUNK", "L:BDAT 3 LAST", "C:xyz", "CHUNK", "L:QUIT"});
  // A chunk carries dots and "DATA"-looking lines untouched; a bare LF becomes CRLF.
  auto u = at_every_split("BDAT 8\r\n.\r\nDATA\nBDAT 0 LAST\r\nNOOP\r\n");
  CHECK(u == V{"L:BDAT 8", "C:.\r\nDATA\r\n", "CHUNK", "L:BDAT 0 LAST", "CHUNK", "L:NOOP"});
}

TEST_CASE("parse_command") {
  auto c = lmtp::proto::parse_command("mail FROM:<a@b> SIZE=10  ");
  REQUIRE(c);
  CHECK(c->verb == Verb::kMail);
  CHECK(c->keyword == "MAIL");
  CHECK(c->arg == "FROM:<a@b> SIZE=10");
  CHECK(lmtp::proto::parse_command("Lhlo x")->verb == Verb::kLhlo);
  CHECK(lmtp::proto::parse_command("XYZZY")->verb == Verb::kUnknown);
  CHECK(lmtp::proto::parse_command("QUIT")->arg.empty());
  CHECK_FALSE(lmtp::proto::parse_command(""));
  CHECK_FALSE(lmtp::proto::parse_command(" NOOP"));
  CHECK_FALSE(lmtp::proto::parse_command("NO\x01OP"));
}

TEST_CASE("parse_path_arg: MAIL FROM") {
  auto r = lmtp::proto::parse_path_arg("FROM:<alice@example.test> SIZE=1234 BODY=8BITMIME SMTPUTF8",
                                       "FROM:", true);
  REQUIRE(r.value);
  CHECK(r.value->address == "alice@example.test");
  REQUIRE(r.value->params.size() == 3);
  CHECK(r.value->params[0].key == "SIZE");
  CHECK(r.value->params[0].value == "1234");
  CHECK(r.value->params[2].key == "SMTPUTF8");
  CHECK_FALSE(r.value->params[2].has_value);

  r = lmtp::proto::parse_path_arg("from: <>", "FROM:", true);
  REQUIRE(r.value);
  CHECK(r.value->address.empty());
  r = lmtp::proto::parse_path_arg("FROM:<@relay.example,@b.example:x@y.example>", "FROM:", true);
  REQUIRE(r.value);
  CHECK(r.value->address == "x@y.example");
  r = lmtp::proto::parse_path_arg("FROM:<\"john doe\"@y.example>", "FROM:", true);
  REQUIRE(r.value);
  CHECK(r.value->address == "\"john doe\"@y.example");
  r = lmtp::proto::parse_path_arg("FROM:<josé@exämple.test>", "FROM:", true);
  REQUIRE(r.value);

  CHECK(lmtp::proto::parse_path_arg("FROM:a@b", "FROM:", true).error == PathError::kSyntax);
  CHECK(lmtp::proto::parse_path_arg("TO:<a@b>", "FROM:", true).error == PathError::kSyntax);
  CHECK(lmtp::proto::parse_path_arg("FROM:<a@b", "FROM:", true).error == PathError::kSyntax);
  CHECK(lmtp::proto::parse_path_arg("FROM:<a@b>SIZE=1", "FROM:", true).error == PathError::kSyntax);
  CHECK(lmtp::proto::parse_path_arg("FROM:<nodomain>", "FROM:", true).error ==
        PathError::kBadAddress);
  CHECK(lmtp::proto::parse_path_arg("FROM:<a b@c>", "FROM:", true).error == PathError::kBadAddress);
  CHECK(lmtp::proto::parse_path_arg("FROM:<a@b> SIZE=", "FROM:", true).error ==
        PathError::kBadParameter);
  CHECK(lmtp::proto::parse_path_arg("FROM:<a@b> =1", "FROM:", true).error ==
        PathError::kBadParameter);
}

TEST_CASE("parse_path_arg: RCPT TO") {
  auto r = lmtp::proto::parse_path_arg("TO:<Alice+News@Example.TEST>", "TO:", false);
  REQUIRE(r.value);
  CHECK(r.value->address == "Alice+News@Example.TEST");
  CHECK(r.value->params.empty());
  CHECK(lmtp::proto::parse_path_arg("TO:<>", "TO:", false).error == PathError::kBadAddress);
  CHECK(lmtp::proto::parse_path_arg("TO:<a@b..c>", "TO:", false).error == PathError::kBadAddress);
  CHECK(lmtp::proto::parse_path_arg("TO:<a@[127.0.0.1]>", "TO:", false).value);
  CHECK(lmtp::proto::parse_path_arg("TO:<a@b\x01>", "TO:", false).error == PathError::kBadAddress);
}

TEST_CASE("parse_bdat and parse_size") {
  auto b = lmtp::proto::parse_bdat("1000 LAST");
  REQUIRE(b);
  CHECK(b->size == 1000);
  CHECK(b->last);
  b = lmtp::proto::parse_bdat("0");
  REQUIRE(b);
  CHECK_FALSE(b->last);
  CHECK_FALSE(lmtp::proto::parse_bdat(""));
  CHECK_FALSE(lmtp::proto::parse_bdat("-1"));
  CHECK_FALSE(lmtp::proto::parse_bdat("12 FIRST"));
  CHECK_FALSE(lmtp::proto::parse_bdat("12  LAST"));
  CHECK(lmtp::proto::parse_size("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(lmtp::proto::parse_size("18446744073709551616"));
  CHECK_FALSE(lmtp::proto::parse_size("12a"));
  CHECK(lmtp::proto::has_non_ascii("jos\xc3\xa9"));
  CHECK_FALSE(lmtp::proto::has_non_ascii("jose"));
}
