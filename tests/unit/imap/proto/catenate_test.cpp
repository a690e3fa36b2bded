// Unit tests for the streamed APPEND forms of imap/proto/parser: CATENATE
// (RFC 4469), UTF8 (~{n}) (RFC 6855), REPLACE / UID REPLACE (RFC 8508), and
// an APPEND ended by the session between its events. Every input is fed whole
// and in pieces of 100, 10, 5, 2 and 1 bytes and must give the same events.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/parser.h"

namespace {

using namespace imap::proto;
using namespace std::string_literals;

constexpr size_t kSplits[] = {0, 100, 10, 5, 2, 1};

// Decides the events that wait for one (true = accept); may also end the
// APPEND early by returning false for a CatenateUrl / catenate AppendBegin.
using Decide = std::function<bool(const Event&)>;

std::vector<Event> run_split(std::string_view in, size_t split, const Decide& decide,
                             const Limits& limits) {
  Parser p(limits);
  p.set_authenticated(true);
  std::vector<Event> out;
  size_t step = split == 0 ? std::max<size_t>(in.size(), 1) : split;
  for (size_t i = 0; i < in.size(); i += step) {
    p.feed(in.substr(i, step));
    while (auto ev = p.next()) {
      bool waits = std::holds_alternative<NeedContinuation>(*ev) ||
                   std::holds_alternative<CatenateText>(*ev) ||
                   (std::holds_alternative<AppendBegin>(*ev) &&
                    std::get<AppendBegin>(*ev).form != AppendForm::kCatenate);
      CHECK(p.awaiting_decision() == waits);
      bool yes = decide ? decide(*ev) : true;
      if (yes) {
        p.accept_literal();
      } else {
        p.reject_literal();
      }
      CHECK_FALSE(p.awaiting_decision());
      if (auto* ch = std::get_if<LiteralChunk>(&*ev); ch && !out.empty()) {
        if (auto* prev = std::get_if<LiteralChunk>(&out.back())) {
          prev->bytes += ch->bytes;
          continue;
        }
      }
      out.push_back(std::move(*ev));
    }
  }
  return out;
}

const char* kind_name(const Event& e) {
  static constexpr const char* kNames[] = {"Command",      "NeedContinuation", "LiteralTooBig",
                                           "AppendBegin",  "LiteralChunk",     "AppendEnd",
                                           "ParseError",   "LineTooLong",      "Line",
                                           "CatenateText", "CatenateUrl"};
  return kNames[e.index()];
}

std::string kinds(const std::vector<Event>& evs) {
  std::string s;
  for (const Event& e : evs) {
    if (!s.empty()) s += ",";
    s += kind_name(e);
  }
  return s;
}

std::vector<Event> run(std::string_view in, const Decide& decide = {}, Limits limits = {}) {
  auto whole = run_split(in, 0, decide, limits);
  for (size_t split : kSplits) {
    auto r = run_split(in, split, decide, limits);
    INFO("split " << split << " input: " << std::string(in.substr(0, 100)));
    CHECK(kinds(r) == kinds(whole));
    CHECK(r == whole);
  }
  return whole;
}

std::string chunk(const Event& e) {
  return std::get<LiteralChunk>(e).bytes;
}

}  // namespace

TEST_CASE("CATENATE: TEXT and URL parts") {
  auto evs = run(
      "A1 APPEND Drafts (\\Seen) CATENATE (TEXT {5}\r\nhello URL \"/INBOX;UIDVALIDITY=7/;UID=3\" "
      "URL ;UID=4/;SECTION=1 TEXT {3+}\r\nbye)\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) ==
          "AppendBegin,CatenateText,LiteralChunk,CatenateUrl,CatenateUrl,CatenateText,"
          "LiteralChunk,AppendEnd,Command");
  const auto& b = std::get<AppendBegin>(evs[0]);
  CHECK(b.tag == "A1");
  CHECK(b.mailbox.name == "Drafts");
  CHECK(b.form == AppendForm::kCatenate);
  CHECK(b.size == 0);
  CHECK(b.flags == std::vector<std::string>{"\\Seen"});
  CHECK_FALSE(b.replace);
  CHECK(std::get<CatenateText>(evs[1]) == CatenateText{5, false, false, true});
  CHECK(chunk(evs[2]) == "hello");
  CHECK(std::get<CatenateUrl>(evs[3]).url == "/INBOX;UIDVALIDITY=7/;UID=3");
  CHECK(std::get<CatenateUrl>(evs[4]).url == ";UID=4/;SECTION=1");
  CHECK(std::get<CatenateText>(evs[5]) == CatenateText{3, false, false, false});
  CHECK(chunk(evs[6]) == "bye");
  CHECK(std::get<AppendEnd>(evs[7]).last);
}

TEST_CASE("CATENATE: only URLs, no literal at all") {
  auto evs =
      run("A1 APPEND INBOX CATENATE (URL \"/INBOX/;UID=1\" url /INBOX/;UID=2)\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,CatenateUrl,AppendEnd,Command");
  CHECK(std::get<CatenateUrl>(evs[2]).url == "/INBOX/;UID=2");
  // A URL sent as a literal (an astring), synchronising and not.
  evs = run("A1 APPEND INBOX CATENATE (URL {13}\r\n/INBOX/;UID=1 URL {6+}\r\n;UID=2)\r\n");
  REQUIRE(kinds(evs) == "NeedContinuation,AppendBegin,CatenateUrl,CatenateUrl,AppendEnd");
  CHECK(std::get<CatenateUrl>(evs[2]).url == "/INBOX/;UID=1");
  CHECK(std::get<CatenateUrl>(evs[3]).url == ";UID=2");
  // The mailbox name as a literal.
  evs = run("A1 APPEND {5}\r\nINBOX CATENATE (TEXT {1}\r\nx)\r\n");
  REQUIRE(kinds(evs) == "NeedContinuation,AppendBegin,CatenateText,LiteralChunk,AppendEnd");
  CHECK(std::get<AppendBegin>(evs[1]).mailbox.name == "INBOX");
}

TEST_CASE("CATENATE inside MULTIAPPEND, mixed with plain literals") {
  auto evs = run(
      "M APPEND Box {3}\r\nabc CATENATE (URL /Box/;UID=1 TEXT {2}\r\nde) (\\Flagged) "
      "\"05-Mar-2021 14:15:16 +0100\" CATENATE (TEXT ~{1}\r\nf) UTF8 (~{2}\r\ngh)\r\nN NOOP\r\n");
  REQUIRE(kinds(evs) ==
          "AppendBegin,LiteralChunk,AppendEnd,AppendBegin,CatenateUrl,CatenateText,LiteralChunk,"
          "AppendEnd,AppendBegin,CatenateText,LiteralChunk,AppendEnd,AppendBegin,LiteralChunk,"
          "AppendEnd,Command");
  CHECK(std::get<AppendBegin>(evs[0]).form == AppendForm::kLiteral);
  CHECK_FALSE(std::get<AppendEnd>(evs[2]).last);
  const auto& b1 = std::get<AppendBegin>(evs[3]);
  CHECK(b1.index == 1);
  CHECK(b1.form == AppendForm::kCatenate);
  CHECK(b1.mailbox.name == "Box");
  const auto& b2 = std::get<AppendBegin>(evs[8]);
  CHECK(b2.index == 2);
  CHECK(b2.flags == std::vector<std::string>{"\\Flagged"});
  REQUIRE(b2.date.has_value());
  CHECK(b2.date->date.year == 2021);
  CHECK(std::get<CatenateText>(evs[9]).binary);
  const auto& b3 = std::get<AppendBegin>(evs[12]);
  CHECK(b3.index == 3);
  CHECK(b3.form == AppendForm::kUtf8);
  CHECK(b3.binary);
  CHECK(b3.size == 2);
  CHECK(chunk(evs[13]) == "gh");
  CHECK(std::get<AppendEnd>(evs[14]).last);
}

TEST_CASE("UTF8 (~{n}) data") {
  auto evs = run("U APPEND INBOX UTF8 (~{4+}\r\nab\0c)\r\nV NOOP\r\n"s);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd,Command");
  CHECK(std::get<AppendBegin>(evs[0]).form == AppendForm::kUtf8);
  // A UTF8 part inside CATENATE.
  evs = run("U APPEND INBOX CATENATE (UTF8 (~{2}\r\nxy) TEXT {1}\r\nz)\r\n");
  REQUIRE(kinds(evs) ==
          "AppendBegin,CatenateText,LiteralChunk,CatenateText,LiteralChunk,AppendEnd");
  CHECK(std::get<CatenateText>(evs[1]).utf8);
  CHECK_FALSE(std::get<CatenateText>(evs[3]).utf8);
  // Errors: a plain literal in UTF8 (...), no closing parenthesis.
  evs = run("U APPEND INBOX UTF8 ({2+}\r\nxy)\r\nV NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  CHECK(std::get<ParseError>(evs[0]).tag == "U");
  evs = run("U APPEND INBOX UTF8 (~{2+}\r\nxy\r\nV NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,ParseError,Command");
}

TEST_CASE("REPLACE and UID REPLACE") {
  auto evs = run("R REPLACE 4 Drafts (\\Draft) {3}\r\nabc\r\nS NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd,Command");
  const auto& b = std::get<AppendBegin>(evs[0]);
  CHECK(b.replace);
  CHECK_FALSE(b.uid);
  CHECK(b.replace_number == 4);
  CHECK(b.mailbox.name == "Drafts");
  evs = run("R uid replace * INBOX CATENATE (URL ;UID=9)\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,AppendEnd");
  const auto& u = std::get<AppendBegin>(evs[0]);
  CHECK(u.replace);
  CHECK(u.uid);
  CHECK(u.replace_number == kStar);
  // One message only; a number is required; UID APPEND does not exist.
  evs = run("R REPLACE 1 INBOX {1}\r\nx {1+}\r\ny\r\nS NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,ParseError,Command");
  evs = run("R REPLACE INBOX {1+}\r\nx\r\nS NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  evs = run("R REPLACE 0 INBOX {1+}\r\nx\r\nS NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  evs = run("R UID APPEND INBOX {1+}\r\nx\r\nS NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
}

TEST_CASE("CATENATE syntax errors") {
  // An empty list, an unknown part, a missing space, TEXT without a literal,
  // text after the list: BAD, and the next command is read normally.
  for (std::string bad :
       {"A APPEND INBOX CATENATE ()\r\n", "A APPEND INBOX CATENATE (FOO x)\r\n",
        "A APPEND INBOX CATENATE (URL ;UID=1URL ;UID=2)\r\n",
        "A APPEND INBOX CATENATE (TEXT x)\r\n", "A APPEND INBOX CATENATE (URL ;UID=1) junk\r\n",
        "A APPEND INBOX CATENATE (URL ;UID=1\r\n", "A APPEND INBOX CATENATE TEXT {1+}\r\nx\r\n",
        "A APPEND INBOX CATENATE (TEXT {1+}\r\nx TEXT)\r\n"}) {
    auto evs = run(bad + "B NOOP\r\n");
    INFO(bad);
    REQUIRE(evs.size() >= 2);
    CHECK(std::holds_alternative<ParseError>(evs[evs.size() - 2]));
    CHECK(std::get<ParseError>(evs[evs.size() - 2]).tag == "A");
    CHECK(std::holds_alternative<Command>(evs.back()));
  }
}

TEST_CASE("CATENATE TEXT over the literal cap") {
  Limits lim;
  lim.literal_max = 10;
  auto evs = run("A APPEND INBOX CATENATE (TEXT {11}\r\nB NOOP\r\n", {}, lim);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  evs = run("A APPEND INBOX CATENATE (TEXT {5}\r\n12345 TEXT {11+}\r\n01234567890)\r\nB NOOP\r\n",
            {}, lim);
  REQUIRE(kinds(evs) == "AppendBegin,CatenateText,LiteralChunk,LiteralTooBig,Command");
  CHECK_FALSE(std::get<LiteralTooBig>(evs[3]).synchronising);
}

TEST_CASE("the session ends a CATENATE APPEND between its events") {
  // Refusing the URL: the rest of the command (a non-synchronising literal
  // included) is skipped, then the next command is read.
  auto no_url = [](const Event& e) { return !std::holds_alternative<CatenateUrl>(e); };
  auto evs =
      run("A APPEND INBOX CATENATE (URL ;UID=1 TEXT {5+}\r\nhello TEXT {3+}\r\nabc)\r\nB NOOP\r\n",
          no_url);
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,Command");
  CHECK(std::get<Command>(evs[2]).tag == "B");
  // The command was complete (line end): nothing to skip.
  evs = run("A APPEND INBOX CATENATE (URL ;UID=1 URL ;UID=2)\r\nB NOOP\r\n", no_url);
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,Command");
  // A synchronising TEXT after it: the client never sends that literal.
  evs = run("A APPEND INBOX CATENATE (URL ;UID=1 TEXT {5}\r\nB NOOP\r\n", no_url);
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,Command");
  // Refusing the message itself (e.g. no such mailbox) at AppendBegin.
  auto no_begin = [](const Event& e) { return !std::holds_alternative<AppendBegin>(e); };
  evs = run("A APPEND Nope CATENATE (TEXT {5+}\r\nhello)\r\nB NOOP\r\n", no_begin);
  REQUIRE(kinds(evs) == "AppendBegin,Command");
  // Refusing a TEXT part (too big for the total): its bytes are skipped.
  auto no_text = [](const Event& e) { return !std::holds_alternative<CatenateText>(e); };
  evs = run("A APPEND INBOX CATENATE (URL ;UID=1 TEXT {5+}\r\nhello URL ;UID=2)\r\nB NOOP\r\n",
            no_text);
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,CatenateText,Command");
  // Refusing after the data of a TEXT part: the rest of the line goes.
  evs =
      run("A APPEND INBOX CATENATE (URL ;UID=1 TEXT {2}\r\nhi URL ;UID=2 TEXT {1+}\r\nx)\r\n"
          "B NOOP\r\n",
          [](const Event& e) {
            auto* u = std::get_if<CatenateUrl>(&e);
            return !(u && u->url == ";UID=2");
          });
  REQUIRE(kinds(evs) == "AppendBegin,CatenateUrl,CatenateText,LiteralChunk,CatenateUrl,Command");
}

TEST_CASE("plain APPEND is unchanged") {
  auto evs = run("A1 APPEND INBOX {3}\r\nabc\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd");
  const auto& b = std::get<AppendBegin>(evs[0]);
  CHECK(b.form == AppendForm::kLiteral);
  CHECK_FALSE(b.replace);
  evs = run("A1 APPEND INBOX\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
}
