// Unit tests for imap/proto/parser: every input is fed whole and in pieces of
// 100, 10, 5, 2 and 1 bytes and must give the same events each time
// (consecutive LiteralChunk events are merged before comparing).
#include "imap/proto/parser.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace imap::proto;

constexpr size_t kSplits[] = {0, 100, 10, 5, 2, 1};

struct Options {
  Limits limits;
  bool authenticated = true;
  bool utf8 = false;  // ENABLE UTF8=ACCEPT / IMAP4rev2 (Parser::set_utf8)
  // Decides NeedContinuation / AppendBegin: true = accept. Default: accept.
  std::function<bool(const Event&)> decide;
  // Calls expect_line() after IDLE / AUTHENTICATE commands.
  bool raw_after_idle = true;
};

struct Run {
  std::vector<Event> events;
  size_t max_buffered = 0;
  size_t max_chunk = 0;
};

Run run_split(std::string_view in, size_t split, const Options& opt) {
  Parser p(opt.limits);
  p.set_authenticated(opt.authenticated);
  p.set_utf8(opt.utf8);
  Run r;
  size_t step = split == 0 ? std::max<size_t>(in.size(), 1) : split;
  for (size_t i = 0; i < in.size(); i += step) {
    p.feed(in.substr(i, step));
    while (auto ev = p.next()) {
      if (std::holds_alternative<NeedContinuation>(*ev) ||
          std::holds_alternative<AppendBegin>(*ev)) {
        REQUIRE(p.awaiting_decision());
        bool yes = opt.decide ? opt.decide(*ev) : true;
        if (yes) {
          p.accept_literal();
        } else {
          p.reject_literal();
        }
      }
      if (auto* c = std::get_if<Command>(&*ev);
          c && opt.raw_after_idle && (c->verb == Verb::kIdle || c->verb == Verb::kAuthenticate)) {
        p.expect_line();
      }
      if (auto* ch = std::get_if<LiteralChunk>(&*ev)) {
        r.max_chunk = std::max(r.max_chunk, ch->bytes.size());
        if (!r.events.empty()) {
          if (auto* prev = std::get_if<LiteralChunk>(&r.events.back())) {
            prev->bytes += ch->bytes;
            continue;
          }
        }
      }
      r.events.push_back(std::move(*ev));
    }
    r.max_buffered = std::max(r.max_buffered, p.buffered());
  }
  return r;
}

const char* kind_name(const Event& e) {
  static constexpr const char* kNames[] = {"Command",     "NeedContinuation", "LiteralTooBig",
                                           "AppendBegin", "LiteralChunk",     "AppendEnd",
                                           "ParseError",  "LineTooLong",      "Line"};
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

std::vector<Event> run(std::string_view in, const Options& opt = {}) {
  Run whole = run_split(in, 0, opt);
  for (size_t split : kSplits) {
    Run r = run_split(in, split, opt);
    INFO("split " << split << " input: " << std::string(in.substr(0, 80)));
    CHECK(kinds(r.events) == kinds(whole.events));
    CHECK(r.events == whole.events);
    CHECK(r.max_chunk <= opt.limits.chunk_max);
  }
  return whole.events;
}

// Parses one command line (CRLF added) that must give exactly one Command.
Command one(std::string_view line, const Options& opt = {}) {
  std::string in(line);
  in += "\r\n";
  std::vector<Event> evs = run(in, opt);
  INFO("input: " << std::string(line) << " events: " << kinds(evs));
  REQUIRE(evs.size() == 1);
  if (auto* e = std::get_if<ParseError>(&evs[0])) INFO("error: " << e->message);
  REQUIRE(std::holds_alternative<Command>(evs[0]));
  return std::get<Command>(evs[0]);
}

// Parses one command line that must give exactly one ParseError.
ParseError bad(std::string_view line, const Options& opt = {}) {
  std::string in(line);
  in += "\r\n";
  std::vector<Event> evs = run(in, opt);
  INFO("input: " << std::string(line) << " events: " << kinds(evs));
  REQUIRE(evs.size() == 1);
  REQUIRE(std::holds_alternative<ParseError>(evs[0]));
  return std::get<ParseError>(evs[0]);
}

template <typename T>
const T& args_of(const Command& c) {
  REQUIRE(std::holds_alternative<T>(c.args));
  return std::get<T>(c.args);
}

SequenceSet set_of(std::initializer_list<SeqRange> r) {
  SequenceSet s;
  s.ranges = r;
  return s;
}

}  // namespace

TEST_CASE("simple commands, case-insensitive, CRLF or LF, pipelined") {
  struct {
    const char* line;
    Verb verb;
    const char* name;
  } cases[] = {
      {"a1 CAPABILITY", Verb::kCapability, "CAPABILITY"},
      {"a1 noop", Verb::kNoop, "NOOP"},
      {"a1 LogOut", Verb::kLogout, "LOGOUT"},
      {"a1 STARTTLS", Verb::kStartTls, "STARTTLS"},
      {"a1 NAMESPACE", Verb::kNamespace, "NAMESPACE"},
      {"a1 CHECK", Verb::kCheck, "CHECK"},
      {"a1 CLOSE", Verb::kClose, "CLOSE"},
      {"a1 UNSELECT", Verb::kUnselect, "UNSELECT"},
      {"a1 EXPUNGE", Verb::kExpunge, "EXPUNGE"},
  };
  for (const auto& c : cases) {
    Command cmd = one(c.line);
    CHECK(cmd.tag == "a1");
    CHECK(cmd.name == c.name);
    CHECK(cmd.verb == c.verb);
    CHECK_FALSE(cmd.uid);
  }
  CHECK(!args_of<ExpungeArgs>(one("x EXPUNGE")).set.has_value());

  auto evs = run("A1 NOOP\r\nA2 NOOP\nA3 CAPABILITY\r\n\r\n\nA4 LOGOUT\r\n");
  REQUIRE(kinds(evs) == "Command,Command,Command,Command");
  CHECK(std::get<Command>(evs[0]).tag == "A1");
  CHECK(std::get<Command>(evs[1]).tag == "A2");
  CHECK(std::get<Command>(evs[2]).verb == Verb::kCapability);
  CHECK(std::get<Command>(evs[3]).tag == "A4");

  // Tags: any ASTRING-CHAR but '+'.
  CHECK(one("a.b]c-1 NOOP").tag == "a.b]c-1");
  CHECK(bad("a+b NOOP").tag == "");
  CHECK(bad("NOOP").tag == "");
  CHECK(bad("(x NOOP").tag == "");
  CHECK(bad("a1 NOOP extra").tag == "a1");
  CHECK(bad("a1  NOOP").tag == "a1");
  CHECK(bad("a1 NOOP ").tag == "a1");
  CHECK(bad("a1").tag == "");
  CHECK(bad("a1 ").tag == "a1");
}

TEST_CASE("unknown commands and NUL") {
  Command c = one("t1 XFOO bar (baz) \"q\"");
  CHECK(c.verb == Verb::kUnknown);
  CHECK(c.name == "XFOO");
  CHECK(std::holds_alternative<UnknownArgs>(c.args));
  ParseError e = bad(std::string_view("t2 NOOP\0", 8));
  CHECK(e.tag == "t2");
  CHECK(e.message.find("NUL") != std::string::npos);
  bad(std::string_view("t3 LOGIN \"a\0b\" c", 17));
  CHECK(bad("t4 UID NOOP").tag == "t4");
  CHECK(bad("t5 APPEND INBOX").tag == "t5");
}

TEST_CASE("LOGIN: atoms, quoted strings, literals of both kinds") {
  auto a = args_of<LoginArgs>(one("a LOGIN joe secret"));
  CHECK(a.user == "joe");
  CHECK(a.password == "secret");
  a = args_of<LoginArgs>(one(R"(a login "jo e" "s\"e\\c")"));
  CHECK(a.user == "jo e");
  CHECK(a.password == "s\"e\\c");
  a = args_of<LoginArgs>(one("a LOGIN joe@example.com ]pass"));
  CHECK(a.user == "joe@example.com");
  CHECK(a.password == "]pass");
  // UTF-8 in quoted strings is kept as bytes (before login: RFC 6855 5).
  Options preauth;
  preauth.authenticated = false;
  a = args_of<LoginArgs>(one("a LOGIN \"j\xc3\xb6rg\" x", preauth));
  CHECK(a.user == "j\xc3\xb6rg");

  // Synchronising literal: NeedContinuation, then the rest.
  auto evs = run("a LOGIN {3}\r\njoe {6}\r\nse\"c t\r\n");
  REQUIRE(kinds(evs) == "NeedContinuation,NeedContinuation,Command");
  CHECK(std::get<NeedContinuation>(evs[0]) == NeedContinuation{"a", 3});
  CHECK(std::get<NeedContinuation>(evs[1]) == NeedContinuation{"a", 6});
  a = args_of<LoginArgs>(std::get<Command>(evs[2]));
  CHECK(a.user == "joe");
  CHECK(a.password == "se\"c t");

  // Non-synchronising (LITERAL+): no continuation.
  evs = run("a LOGIN {3+}\r\njoe {2+}\r\n\r\n\r\nb NOOP\r\n");
  REQUIRE(kinds(evs) == "Command,Command");
  a = args_of<LoginArgs>(std::get<Command>(evs[0]));
  CHECK(a.user == "joe");
  CHECK(a.password == "\r\n");

  // Zero-length literal.
  evs = run("a LOGIN {0}\r\n {0+}\r\n\r\n");
  REQUIRE(kinds(evs) == "NeedContinuation,Command");
  a = args_of<LoginArgs>(std::get<Command>(evs[1]));
  CHECK(a.user.empty());
  CHECK(a.password.empty());

  // Bad forms.
  bad("a LOGIN joe");
  bad("a LOGIN joe \"unterminated");
  bad(R"(a LOGIN "bad\escape" x)");
  bad("a LOGIN (joe) x");
  bad("a LOGIN joe x y");
  // literal8 is only for APPEND.
  evs = run("a LOGIN ~{3}\r\n");
  REQUIRE(kinds(evs) == "ParseError");
  evs = run("a LOGIN ~{3+}\r\nabc def\r\nb NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  CHECK(std::get<Command>(evs[1]).tag == "b");
  // NUL inside a literal.
  evs = run(std::string_view("a LOGIN {3+}\r\na\0c x\r\n", 21));
  REQUIRE(kinds(evs) == "ParseError");
}

TEST_CASE("rejecting a synchronising literal drops the command") {
  Options opt;
  opt.decide = [](const Event&) { return false; };
  auto evs = run("a LOGIN {5}\r\nb NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "NeedContinuation,Command");
  CHECK(std::get<Command>(evs[1]).tag == "b");
}

TEST_CASE("AUTHENTICATE, IDLE and raw lines") {
  auto a = args_of<AuthenticateArgs>(one("a AUTHENTICATE plain"));
  CHECK(a.mechanism == "PLAIN");
  CHECK(!a.initial_response);
  a = args_of<AuthenticateArgs>(one("a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ="));
  CHECK(a.initial_response == "AGpvZQBzZWNyZXQ=");
  a = args_of<AuthenticateArgs>(one("a AUTHENTICATE PLAIN ="));
  CHECK(a.initial_response == "=");
  bad("a AUTHENTICATE");
  bad("a AUTHENTICATE PLAIN abc!");
  bad("a AUTHENTICATE PLAIN abc def");

  auto evs = run("a AUTHENTICATE LOGIN\r\nam9l\r\nb NOOP\r\n");
  REQUIRE(kinds(evs) == "Command,Line,Command");
  CHECK(std::get<Line>(evs[1]).text == "am9l");

  evs = run("i IDLE\r\ndone\r\nj NOOP\r\n");
  REQUIRE(kinds(evs) == "Command,Line,Command");
  CHECK(std::get<Command>(evs[0]).verb == Verb::kIdle);
  CHECK(is_done(std::get<Line>(evs[1]).text));
  CHECK(is_done("DONE"));
  CHECK_FALSE(is_done("DONE "));
  CHECK_FALSE(is_done("x DONE"));

  // A raw line over the cap.
  Options opt;
  opt.limits.line_max = 16;
  evs = run("i IDLE\r\n" + std::string(40, 'x') + "\r\nj NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "Command,LineTooLong,Command");
  CHECK(std::get<LineTooLong>(evs[1]).tag.empty());
}

TEST_CASE("ENABLE, SELECT, EXAMINE") {
  auto e = args_of<EnableArgs>(one("a ENABLE condstore UTF8=ACCEPT"));
  CHECK(e.capabilities == std::vector<std::string>{"CONDSTORE", "UTF8=ACCEPT"});
  bad("a ENABLE");
  bad("a ENABLE ");

  Command c = one("a SELECT INBOX");
  CHECK(c.verb == Verb::kSelect);
  auto s = args_of<SelectArgs>(c);
  CHECK(s.mailbox.name == "INBOX");
  CHECK(s.mailbox.form == Mailbox::Form::kAtom);
  CHECK(s.params.empty());
  CHECK(s.mailbox.is_inbox());

  s = args_of<SelectArgs>(one("a EXAMINE \"Sent &AOQ-\" (CONDSTORE)"));
  CHECK(s.mailbox.name == "Sent &AOQ-");
  CHECK(s.mailbox.form == Mailbox::Form::kQuoted);
  REQUIRE(s.params.size() == 1);
  CHECK(s.params[0].kind == Value::Kind::kAtom);
  CHECK(s.params[0].text == "CONDSTORE");

  s = args_of<SelectArgs>(
      one("a SELECT inbox (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"));
  CHECK(s.mailbox.is_inbox());
  REQUIRE(s.params.size() == 2);
  CHECK(s.params[0].text == "QRESYNC");
  REQUIRE(s.params[1].kind == Value::Kind::kList);
  REQUIRE(s.params[1].items.size() == 3);
  CHECK(s.params[1].items[2].text == "41,43:211,214:541");

  auto evs = run("a SELECT {5}\r\nIN BX\r\n");
  REQUIRE(kinds(evs) == "NeedContinuation,Command");
  s = args_of<SelectArgs>(std::get<Command>(evs[1]));
  CHECK(s.mailbox.name == "IN BX");
  CHECK(s.mailbox.form == Mailbox::Form::kLiteral);

  bad("a SELECT");
  bad("a SELECT INBOX (CONDSTORE");
  bad("a SELECT INBOX CONDSTORE");
  bad("a SELECT Foo%");
  // Deep nesting is refused, not recursed into.
  bad("a SELECT INBOX " + std::string(100, '(') + std::string(100, ')'));
}

TEST_CASE("CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, GETQUOTA*") {
  auto c = args_of<CreateArgs>(one("a CREATE Drafts (USE (\\drafts \\Sent))"));
  CHECK(c.mailbox.name == "Drafts");
  CHECK(c.use == std::vector<std::string>{"\\drafts", "\\Sent"});
  c = args_of<CreateArgs>(one("a CREATE a/b"));
  CHECK(c.mailbox.name == "a/b");
  CHECK(c.use.empty());
  bad("a CREATE x (USE)");

  CHECK(args_of<MailboxArgs>(one("a DELETE foo")).mailbox.name == "foo");
  CHECK(one("a subscribe foo").verb == Verb::kSubscribe);
  CHECK(one("a UNSUBSCRIBE \"foo bar\"").verb == Verb::kUnsubscribe);
  auto r = args_of<RenameArgs>(one("a RENAME old \"new one\""));
  CHECK(r.from.name == "old");
  CHECK(r.to.name == "new one");
  bad("a RENAME old");
  bad("a DELETE");

  Command q = one("a GETQUOTAROOT INBOX");
  CHECK(q.verb == Verb::kGetQuotaRoot);
  CHECK(args_of<MailboxArgs>(q).mailbox.name == "INBOX");
  q = one("a GETQUOTA \"\"");
  CHECK(q.verb == Verb::kGetQuota);
  CHECK(args_of<QuotaRootArgs>(q).root.empty());
}

TEST_CASE("LIST and LSUB") {
  auto l = args_of<ListArgs>(one("a LIST \"\" *"));
  CHECK(l.reference.name.empty());
  REQUIRE(l.patterns.size() == 1);
  CHECK(l.patterns[0].name == "*");
  CHECK_FALSE(l.extended);

  l = args_of<ListArgs>(one("a LIST ~/Mail/ %/x]"));
  CHECK(l.reference.name == "~/Mail/");
  CHECK(l.patterns[0].name == "%/x]");

  l =
      args_of<ListArgs>(one("a LIST (SUBSCRIBED recursivematch) \"\" (INBOX \"Sent*\" {3+}\r\nA B) "
                            "RETURN (CHILDREN STATUS (MESSAGES unseen) SPECIAL-USE)"));
  CHECK(l.extended);
  CHECK(l.selection == std::vector<std::string>{"SUBSCRIBED", "RECURSIVEMATCH"});
  REQUIRE(l.patterns.size() == 3);
  CHECK(l.patterns[1].name == "Sent*");
  CHECK(l.patterns[2].name == "A B");
  CHECK(l.patterns[2].form == Mailbox::Form::kLiteral);
  CHECK(l.return_opts == std::vector<std::string>{"CHILDREN", "STATUS", "SPECIAL-USE"});
  CHECK(l.status_items == std::vector<std::string>{"MESSAGES", "UNSEEN"});

  l = args_of<ListArgs>(one("a LIST () \"\" % RETURN ()"));
  CHECK(l.extended);
  CHECK(l.selection.empty());
  CHECK(l.return_opts.empty());

  Command c = one("a LSUB \"\" INBOX.*");
  CHECK(c.verb == Verb::kLsub);
  CHECK(args_of<ListArgs>(c).patterns[0].name == "INBOX.*");

  bad("a LIST \"\"");
  bad("a LIST \"\" * RETURN");
  bad("a LIST \"\" * FOO (X)");
  bad("a LIST \"\" * RETURN (STATUS)");
  bad("a LSUB \"\" (a b)");
}

TEST_CASE("STATUS") {
  auto s = args_of<StatusArgs>(one("a STATUS INBOX (MESSAGES uidnext UIDVALIDITY UNSEEN SIZE)"));
  CHECK(s.mailbox.name == "INBOX");
  CHECK(s.items ==
        std::vector<std::string>{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE"});
  bad("a STATUS INBOX ()");
  bad("a STATUS INBOX");
  bad("a STATUS INBOX MESSAGES");
}

TEST_CASE("sequence sets") {
  auto f = args_of<FetchArgs>(one("a FETCH 1,5:2,*,7:*,*:3 FLAGS"));
  CHECK(f.set == set_of({{1, 1}, {2, 5}, {kStar, kStar}, {7, kStar}, {3, kStar}}));
  CHECK_FALSE(f.set.saved);
  CHECK(f.set.expand(10) == std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(f.set.expand(2) == std::vector<uint32_t>{1, 2});
  CHECK(f.set.expand(0).empty());

  SequenceSet s = set_of({{4, 6}, {9, kStar}});
  CHECK(s.expand(7) == std::vector<uint32_t>{4, 5, 6, 7});  // 9:* with max 7 is 7:9
  CHECK(s.resolve(20) == std::vector<std::pair<uint32_t, uint32_t>>{{4, 6}, {9, 20}});
  CHECK(s.contains(5, 20));
  CHECK_FALSE(s.contains(8, 20));
  CHECK(s.contains(20, 20));
  CHECK_FALSE(s.contains(21, 20));
  CHECK(set_of({{1, 3}, {4, 4}, {2, 9}}).resolve(100) ==
        std::vector<std::pair<uint32_t, uint32_t>>{{1, 9}});
  CHECK(set_of({{1, 4294967294u}}).resolve(kStar - 1).size() == 1);

  f = args_of<FetchArgs>(one("a FETCH $ UID"));
  CHECK(f.set.saved);
  CHECK(f.set.ranges.empty());

  bad("a FETCH 0 FLAGS");
  bad("a FETCH 1: FLAGS");
  bad("a FETCH 1,,2 FLAGS");
  bad("a FETCH 4294967296 FLAGS");
  bad("a FETCH x FLAGS");
  bad("a FETCH $,1 FLAGS");
  CHECK(args_of<FetchArgs>(one("a FETCH 4294967295 FLAGS")).set ==
        set_of({{4294967295u, 4294967295u}}));
}

TEST_CASE("FETCH") {
  using K = FetchAtt::Kind;
  auto f = args_of<FetchArgs>(one("a FETCH 1:* ALL"));
  CHECK(f.macro == FetchArgs::Macro::kAll);
  CHECK(f.atts.size() == 4);
  f = args_of<FetchArgs>(one("a FETCH 1 fast"));
  CHECK(f.macro == FetchArgs::Macro::kFast);
  CHECK(f.atts.size() == 3);
  f = args_of<FetchArgs>(one("a FETCH 1 FULL"));
  CHECK(f.macro == FetchArgs::Macro::kFull);
  REQUIRE(f.atts.size() == 5);
  CHECK(f.atts[4].kind == K::kBody);

  f = args_of<FetchArgs>(
      one("a FETCH 2 (FLAGS INTERNALDATE RFC822.SIZE UID ENVELOPE BODYSTRUCTURE BODY RFC822 "
          "rfc822.header RFC822.TEXT MODSEQ)"));
  std::vector<K> want = {K::kFlags,        K::kInternalDate,  K::kRfc822Size, K::kUid,
                         K::kEnvelope,     K::kBodyStructure, K::kBody,       K::kRfc822,
                         K::kRfc822Header, K::kRfc822Text,    K::kModSeq};
  REQUIRE(f.atts.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(f.atts[i].kind == want[i]);

  f = args_of<FetchArgs>(one("a FETCH 1 BODY[]"));
  REQUIRE(f.atts.size() == 1);
  CHECK(f.atts[0].kind == K::kBodySection);
  CHECK_FALSE(f.atts[0].peek);
  CHECK(f.atts[0].section == Section{});
  CHECK(!f.atts[0].partial);

  f = args_of<FetchArgs>(
      one("a UID FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (From \"To\" {7+}\r\nSubject)]<0.1024> "
          "body[1.2.MIME] BODY[TEXT] BODY[3.HEADER.FIELDS.NOT (X-A)] BODY[1.2] BODY[4.TEXT]<5.6> "
          "BODY[HEADER])"));
  REQUIRE(f.atts.size() == 7);
  CHECK(f.atts[0].peek);
  CHECK(f.atts[0].section.text == Section::Text::kHeaderFields);
  CHECK(f.atts[0].section.fields == std::vector<std::string>{"From", "To", "Subject"});
  REQUIRE(f.atts[0].partial);
  CHECK(*f.atts[0].partial == Partial{0, 1024});
  CHECK(f.atts[1].section.part == std::vector<uint32_t>{1, 2});
  CHECK(f.atts[1].section.text == Section::Text::kMime);
  CHECK(f.atts[2].section.text == Section::Text::kText);
  CHECK(f.atts[2].section.part.empty());
  CHECK(f.atts[3].section.text == Section::Text::kHeaderFieldsNot);
  CHECK(f.atts[3].section.part == std::vector<uint32_t>{3});
  CHECK(f.atts[4].section.part == std::vector<uint32_t>{1, 2});
  CHECK(f.atts[4].section.text == Section::Text::kNone);
  CHECK(*f.atts[5].partial == Partial{5, 6});
  CHECK(f.atts[6].section.text == Section::Text::kHeader);

  f = args_of<FetchArgs>(one("a FETCH 1 (BINARY[1.2]<0.100> BINARY.PEEK[] BINARY.SIZE[3])"));
  REQUIRE(f.atts.size() == 3);
  CHECK(f.atts[0].kind == K::kBinary);
  CHECK(f.atts[0].section.part == std::vector<uint32_t>{1, 2});
  CHECK(f.atts[0].partial->length == 100);
  CHECK(f.atts[1].kind == K::kBinary);
  CHECK(f.atts[1].peek);
  CHECK(f.atts[2].kind == K::kBinarySize);
  CHECK(f.atts[2].section.part == std::vector<uint32_t>{3});

  Command c = one("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
  CHECK(c.uid);
  CHECK(c.name == "FETCH");
  f = args_of<FetchArgs>(c);
  CHECK(f.changed_since == 12345u);
  CHECK(f.vanished);

  bad("a FETCH 1");
  bad("a FETCH 1 ()");
  bad("a FETCH 1 (FLAGS");
  bad("a FETCH 1 FOO");
  bad("a FETCH 1 BODY.PEEK");
  bad("a FETCH 1 BODY[MIME]");
  bad("a FETCH 1 BODY[1.FOO]");
  bad("a FETCH 1 BODY[0]");
  bad("a FETCH 1 BODY[HEADER.FIELDS]");
  bad("a FETCH 1 BODY[HEADER.FIELDS ()]");
  bad("a FETCH 1 BODY[]<1>");
  bad("a FETCH 1 BODY[]<1.0>");
  bad("a FETCH 1 BINARY[TEXT]");
  bad("a FETCH 1 BINARY.SIZE");
  bad("a FETCH 1 FLAGS (CHANGEDSINCE 0)");
  bad("a FETCH 1 FLAGS (FOO)");
  bad("a FETCH 1 FLAGS ()");
  bad("a FETCH 1 ALL FLAGS");
}

TEST_CASE("STORE") {
  auto s = args_of<StoreArgs>(one("a STORE 1:3 +FLAGS (\\seen $Label1)"));
  CHECK(s.op == StoreArgs::Op::kAdd);
  CHECK_FALSE(s.silent);
  CHECK(s.flags == std::vector<std::string>{"\\Seen", "$Label1"});
  s = args_of<StoreArgs>(one("a STORE 1 -flags.silent \\Deleted \\Flagged"));
  CHECK(s.op == StoreArgs::Op::kRemove);
  CHECK(s.silent);
  CHECK(s.flags == std::vector<std::string>{"\\Deleted", "\\Flagged"});
  s = args_of<StoreArgs>(one("a STORE 1 FLAGS ()"));
  CHECK(s.op == StoreArgs::Op::kReplace);
  CHECK(s.flags.empty());
  Command c = one("a UID STORE 1:* (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Answered)");
  CHECK(c.uid);
  s = args_of<StoreArgs>(c);
  CHECK(s.unchanged_since == 320162338u);
  CHECK(s.silent);

  bad("a STORE 1 +FLAGS");
  bad("a STORE 1 FLAG (\\Seen)");
  bad("a STORE 1 *FLAGS (\\Seen)");
  bad("a STORE 1 FLAGS (\\Seen");
  bad("a STORE 1 (FOO 1) FLAGS (\\Seen)");
  bad("a STORE 1 FLAGS (\\)");
}

TEST_CASE("COPY, MOVE, UID EXPUNGE") {
  auto c = args_of<CopyArgs>(one("a COPY 2:4 Archive"));
  CHECK(c.set == set_of({{2, 4}}));
  CHECK(c.mailbox.name == "Archive");
  Command m = one("a uid move 10,12 \"Trash\"");
  CHECK(m.uid);
  CHECK(m.verb == Verb::kMove);
  CHECK(args_of<CopyArgs>(m).mailbox.form == Mailbox::Form::kQuoted);
  Command x = one("a UID EXPUNGE 3000:3002");
  CHECK(x.uid);
  CHECK(x.verb == Verb::kExpunge);
  CHECK(args_of<ExpungeArgs>(x).set == set_of({{3000, 3002}}));
  bad("a UID EXPUNGE");
  bad("a COPY 1");
  bad("a MOVE INBOX 1");
}

TEST_CASE("SEARCH") {
  using K = SearchKey::Kind;
  auto s = args_of<SearchArgs>(one("a SEARCH ALL"));
  CHECK(s.program.kind == K::kAnd);
  REQUIRE(s.program.children.size() == 1);
  CHECK(s.program.children[0].kind == K::kAll);
  CHECK(!s.charset);
  CHECK_FALSE(s.has_return);

  s = args_of<SearchArgs>(
      one("a SEARCH answered BCC x BEFORE 1-Feb-1994 BODY \"hello world\" CC {3+}\r\na b DELETED "
          "DRAFT FLAGGED FROM joe HEADER X-Foo \"\" KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD "
          "ON \"21-Dec-2023\" OR TO a SUBJECT b RECENT SENTBEFORE 01-Jan-2000 SENTON 2-Mar-2001 "
          "SENTSINCE 3-Apr-2002 SINCE 4-May-2003 SMALLER 5 TEXT t UID 1:* UNANSWERED UNDELETED "
          "UNDRAFT UNFLAGGED UNKEYWORD foo UNSEEN 2,4:6 (SEEN FLAGGED) MODSEQ 620162338 "
          "MODSEQ \"/flags/\\\\draft\" all 5 OLDER 60 YOUNGER 30"));
  const auto& k = s.program.children;
  std::vector<K> want = {
      K::kAnswered,   K::kBcc,         K::kBefore,    K::kBody,    K::kCc,        K::kDeleted,
      K::kDraft,      K::kFlagged,     K::kFrom,      K::kHeader,  K::kKeyword,   K::kLarger,
      K::kNew,        K::kNot,         K::kOld,       K::kOn,      K::kOr,        K::kRecent,
      K::kSentBefore, K::kSentOn,      K::kSentSince, K::kSince,   K::kSmaller,   K::kText,
      K::kUid,        K::kUnanswered,  K::kUndeleted, K::kUndraft, K::kUnflagged, K::kUnkeyword,
      K::kUnseen,     K::kSequenceSet, K::kAnd,       K::kModSeq,  K::kModSeq,    K::kOlder,
      K::kYounger};
  REQUIRE(k.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(k[i].kind == want[i]);
  CHECK(k[1].text == "x");
  CHECK(k[2].date == Date{1994, 2, 1});
  CHECK(k[3].text == "hello world");
  CHECK(k[4].text == "a b");
  CHECK(k[9].text == "X-Foo");
  CHECK(k[9].value.empty());
  CHECK(k[10].text == "$Junk");
  CHECK(k[11].number == 100);
  REQUIRE(k[13].children.size() == 1);
  CHECK(k[13].children[0].kind == K::kSeen);
  CHECK(k[15].date == Date{2023, 12, 21});
  REQUIRE(k[16].children.size() == 2);
  CHECK(k[16].children[0].kind == K::kTo);
  CHECK(k[16].children[1].kind == K::kSubject);
  CHECK(k[16].children[1].text == "b");
  CHECK(k[18].date == Date{2000, 1, 1});
  CHECK(k[24].set == set_of({{1, kStar}}));
  CHECK(k[31].set == set_of({{2, 2}, {4, 6}}));
  REQUIRE(k[32].children.size() == 2);
  CHECK(k[32].children[1].kind == K::kFlagged);
  CHECK(k[33].number == 620162338u);
  CHECK(k[33].text.empty());
  CHECK(k[34].text == "\\Draft");
  CHECK(k[34].value == "all");
  CHECK(k[34].number == 5);
  CHECK(k[35].number == 60);

  s = args_of<SearchArgs>(one("a UID SEARCH RETURN (MIN max COUNT SAVE) CHARSET UTF-8 $"));
  CHECK(s.has_return);
  CHECK(s.return_opts == std::vector<std::string>{"MIN", "MAX", "COUNT", "SAVE"});
  CHECK(s.charset == "UTF-8");
  REQUIRE(s.program.children.size() == 1);
  CHECK(s.program.children[0].kind == K::kSequenceSet);
  CHECK(s.program.children[0].set.saved);

  s = args_of<SearchArgs>(one("a SEARCH RETURN () NOT (OR 1 2 UID 5)"));
  CHECK(s.has_return);
  CHECK(s.return_opts.empty());
  s = args_of<SearchArgs>(one("a SEARCH charset \"us-ascii\" subject {4+}\r\n\xe4\xf6x\" ALL"));

  bad("a SEARCH");
  bad("a SEARCH FOO");
  bad("a SEARCH ALL ");
  bad("a SEARCH OR SEEN");
  bad("a SEARCH NOT");
  bad("a SEARCH (SEEN");
  bad("a SEARCH ()");
  bad("a SEARCH BEFORE 1-Foo-2000");
  bad("a SEARCH BEFORE 32-Jan-2000");
  bad("a SEARCH SINCE 1-Jan-20");
  bad("a SEARCH LARGER x");
  bad("a SEARCH HEADER X");
  bad("a SEARCH KEYWORD \\Seen");
  bad("a SEARCH MODSEQ \"/other/x\" all 1");
  bad("a SEARCH MODSEQ \"/flags/x\" mine 1");
  bad("a SEARCH CHARSET");
  bad("a SEARCH RETURN ALL");
  std::string deep = "a SEARCH";
  for (int i = 0; i < 100; ++i) deep += " NOT";
  bad(deep + " ALL");
}

TEST_CASE("ID") {
  auto i = args_of<IdArgs>(one("a ID NIL"));
  CHECK(!i.fields);
  i = args_of<IdArgs>(one("a ID (\"name\" \"sodr\" \"version\" NIL \"os\" {5+}\r\nLinux)"));
  REQUIRE(i.fields);
  REQUIRE(i.fields->size() == 3);
  CHECK((*i.fields)[0].first == "name");
  CHECK((*i.fields)[0].second == "sodr");
  CHECK(!(*i.fields)[1].second);
  CHECK((*i.fields)[2].second == "Linux");
  i = args_of<IdArgs>(one("a ID ()"));
  CHECK(i.fields->empty());
  bad("a ID");
  bad("a ID (\"name\")");
  bad("a ID (name \"x\")");
  bad("a ID (\"a\" \"b\" \"c\")");
}

TEST_CASE("APPEND streams the message") {
  std::string msg = "From: a@b\r\nSubject: x\r\n\r\nbody {5}\r\n";
  auto evs =
      run("A1 APPEND INBOX {" + std::to_string(msg.size()) + "}\r\n" + msg + "\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd,Command");
  const auto& b = std::get<AppendBegin>(evs[0]);
  CHECK(b.tag == "A1");
  CHECK(b.mailbox.name == "INBOX");
  CHECK(b.flags.empty());
  CHECK(!b.date);
  CHECK(b.size == msg.size());
  CHECK(b.synchronising);
  CHECK_FALSE(b.binary);
  CHECK(b.index == 0);
  CHECK(std::get<LiteralChunk>(evs[1]).bytes == msg);
  CHECK(std::get<AppendEnd>(evs[2]).last);
  CHECK(std::get<Command>(evs[3]).tag == "A2");

  // Flags, date, non-synchronising; small chunks.
  Options opt;
  opt.limits.chunk_max = 7;
  evs = run("A1 append \"Sent Items\" (\\seen $x) \" 7-Feb-1994 21:52:25 -0800\" {" +
                std::to_string(msg.size()) + "+}\r\n" + msg + "\r\n",
            opt);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd");
  const auto& b2 = std::get<AppendBegin>(evs[0]);
  CHECK(b2.mailbox.name == "Sent Items");
  CHECK(b2.mailbox.form == Mailbox::Form::kQuoted);
  CHECK(b2.flags == std::vector<std::string>{"\\Seen", "$x"});
  REQUIRE(b2.date);
  CHECK(b2.date->date == Date{1994, 2, 7});
  CHECK(b2.date->hour == 21);
  CHECK(b2.date->minute == 52);
  CHECK(b2.date->second == 25);
  CHECK(b2.date->zone_minutes == -480);
  CHECK_FALSE(b2.synchronising);
  CHECK(std::get<LiteralChunk>(evs[1]).bytes == msg);

  // Mailbox name as a literal; date without flags; literal8 with NUL bytes.
  std::string bin("a\0b\r\n", 5);
  evs = run("A1 APPEND {4}\r\nMa l \"17-Jul-1996 02:44:25 +0200\" ~{5}\r\n" + bin + "\r\n");
  REQUIRE(kinds(evs) == "NeedContinuation,AppendBegin,LiteralChunk,AppendEnd");
  const auto& b3 = std::get<AppendBegin>(evs[1]);
  CHECK(b3.mailbox.name == "Ma l");
  CHECK(b3.mailbox.form == Mailbox::Form::kLiteral);
  CHECK(b3.binary);
  CHECK(b3.date->zone_minutes == 120);
  CHECK(std::get<LiteralChunk>(evs[2]).bytes == bin);

  // Empty message.
  evs = run("A1 APPEND INBOX {0}\r\n\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,AppendEnd,Command");
}

TEST_CASE("MULTIAPPEND") {
  auto evs = run("M APPEND Box (\\Draft) {3}\r\nabc (\\Seen) {2+}\r\nde ~{1}\r\nf\r\nN NOOP\r\n");
  REQUIRE(kinds(evs) ==
          "AppendBegin,LiteralChunk,AppendEnd,AppendBegin,LiteralChunk,AppendEnd,AppendBegin,"
          "LiteralChunk,AppendEnd,Command");
  CHECK(std::get<LiteralChunk>(evs[1]).bytes == "abc");
  CHECK_FALSE(std::get<AppendEnd>(evs[2]).last);
  const auto& b2 = std::get<AppendBegin>(evs[3]);
  CHECK(b2.tag == "M");
  CHECK(b2.mailbox.name == "Box");
  CHECK(b2.index == 1);
  CHECK(b2.flags == std::vector<std::string>{"\\Seen"});
  CHECK_FALSE(b2.synchronising);
  CHECK(std::get<LiteralChunk>(evs[4]).bytes == "de");
  const auto& b3 = std::get<AppendBegin>(evs[6]);
  CHECK(b3.index == 2);
  CHECK(b3.binary);
  CHECK(b3.flags.empty());
  CHECK(std::get<AppendEnd>(evs[8]).last);

  // Junk after a message cancels the command.
  evs = run("M APPEND Box {3}\r\nabc junk\r\nN NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,ParseError,Command");
  CHECK(std::get<ParseError>(evs[2]).tag == "M");
  // A bad next message with a {n+} literal: the literal is skipped.
  evs = run("M APPEND Box {3}\r\nabc (\\Seen {4+}\r\nwxyz\r\nN NOOP\r\n");
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,ParseError,Command");
  CHECK(std::get<Command>(evs[3]).tag == "N");
}

TEST_CASE("APPEND rejected by the session") {
  Options opt;
  opt.decide = [](const Event& e) { return !std::holds_alternative<AppendBegin>(e); };
  // Synchronising: the client sends nothing more for this command.
  auto evs = run("A1 APPEND Nope {10}\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,Command");
  CHECK(std::get<Command>(evs[1]).tag == "A2");
  // Non-synchronising: the literal and the rest of its line are skipped.
  evs = run("A1 APPEND Nope {10+}\r\n0123456789 (\\Seen) {3+}\r\nabc\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,Command");
  CHECK(std::get<Command>(evs[1]).tag == "A2");
}

TEST_CASE("APPEND syntax errors at the literal") {
  auto evs = run("A1 APPEND INBOX (\\Seen {3}\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  CHECK(std::get<ParseError>(evs[0]).tag == "A1");
  evs = run("A1 APPEND INBOX \"bad date\" {3+}\r\nabc\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  evs = run("A1 APPEND INBOX{3+}\r\nabc\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  evs = run("A1 APPEND INBOX CATENATE {3+}\r\nabc\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  evs = run("+1 APPEND INBOX {3}\r\nA2 NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,Command");
  CHECK(std::get<ParseError>(evs[0]).tag.empty());
  bad("A1 APPEND INBOX \"1-Jan-2000 25:00:00 +0000\" {1}");
}

TEST_CASE("oversize literals") {
  Options opt;
  opt.limits.literal_max = 10;
  opt.limits.discard_max = 1000;
  // APPEND, synchronising: NO [TOOBIG]; the client sends nothing.
  auto evs = run("A1 APPEND INBOX {11}\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[0]) == LiteralTooBig{"A1", 11, true, false});
  // APPEND, non-synchronising: exactly n bytes discarded, then the line.
  evs = run("A1 APPEND INBOX {12+}\r\nA2 NOOP\r\nxx rest {3+}\r\nabc\r\nA3 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[0]) == LiteralTooBig{"A1", 12, false, false});
  CHECK(std::get<Command>(evs[1]).tag == "A3");
  // Past the hard cap: fatal, nothing more is parsed.
  evs = run("A1 APPEND INBOX {1001+}\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig");
  CHECK(std::get<LiteralTooBig>(evs[0]).fatal);
  evs = run("A1 APPEND INBOX {99999999999999999999999}\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[0]).size == UINT64_MAX);
  // A later MULTIAPPEND message.
  evs = run("A1 APPEND INBOX {1}\r\nx {11}\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,LiteralTooBig,Command");

  // Other literals are bounded by the line cap.
  Options small;
  small.limits.line_max = 32;
  evs = run("a LOGIN {10}\r\n0123456789 x\r\nb LOGIN {40}\r\nc NOOP\r\n", small);
  REQUIRE(kinds(evs) == "NeedContinuation,Command,LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[2]) == LiteralTooBig{"b", 40, true, false});
  evs = run("b LOGIN {40+}\r\n" + std::string(40, '\n') + " x\r\nc NOOP\r\n", small);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  CHECK(std::get<Command>(evs[1]).tag == "c");
}

TEST_CASE("line too long: bounded, per login state, resyncs") {
  Options opt;
  opt.limits.line_max_preauth = 20;
  opt.limits.line_max = 40;
  opt.authenticated = false;
  std::string longline = "t1 LOGIN " + std::string(100000, 'x') + "\r\n";
  for (size_t split : kSplits) {
    Run r = run_split(longline + "t2 NOOP\r\n", split, opt);
    REQUIRE(kinds(r.events) == "LineTooLong,Command");
    CHECK(std::get<LineTooLong>(r.events[0]).tag == "t1");
    CHECK(r.max_buffered <= (split == 0 ? longline.size() + 9 : 21 + split));
  }
  // Exactly at the cap is fine; one over is not.
  std::string at = "t1 LOGIN " + std::string(11 - 2, 'x') + " y";  // 20 bytes
  REQUIRE(at.size() == 20);
  CHECK(kinds(run(at + "\r\n", opt)) == "Command");
  CHECK(kinds(run(at + "y\r\n", opt)) == "LineTooLong");
  CHECK(kinds(run(at + "y\n", opt)) == "LineTooLong");
  // After login the larger cap applies.
  opt.authenticated = true;
  CHECK(kinds(run(at + "yyyy\r\n", opt)) == "Command");

  // The cap counts literal data too; a {n+} ending the long line is skipped.
  opt.authenticated = false;
  auto evs =
      run("t1 LOGIN {3}\r\n012 " + std::string(50, 'p') + " {5+}\r\nabcde\r\nt2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "NeedContinuation,LineTooLong,Command");
  CHECK(std::get<LineTooLong>(evs[1]).tag == "t1");
  // A {n} ending it is not: the client waits for a continuation.
  evs = run("t1 LOGIN " + std::string(50, 'p') + " {5}\r\nt2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LineTooLong,Command");
  // Over the cap right at the line end (the last byte is the CR).
  evs = run("t1 NOOP " + std::string(13, 'p') + "\r\nt2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LineTooLong,Command");
  // Within an APPEND: the tail line after the message.
  evs = run("t1 APPEND INBOX {1}\r\nx " + std::string(50, 'p') + "\r\nt2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,LineTooLong,Command");
  CHECK(std::get<LineTooLong>(evs[2]).tag == "t1");
}

TEST_CASE("clear() drops buffered input") {
  Parser p;
  p.feed("a STARTTLS\r\nb NOOP\r\nc LOG");
  auto ev = p.next();
  REQUIRE(ev);
  CHECK(std::get<Command>(*ev).verb == Verb::kStartTls);
  CHECK(p.buffered() > 0);
  p.clear();
  CHECK(p.buffered() == 0);
  CHECK(!p.next());
  p.feed("d NOOP\r\n");
  ev = p.next();
  REQUIRE(ev);
  CHECK(std::get<Command>(*ev).tag == "d");
}

TEST_CASE("parse_command directly") {
  auto r = parse_command("x LOGIN {3}\na b {1+}\nc");
  REQUIRE(std::holds_alternative<Command>(r));
  CHECK(std::get<LoginArgs>(std::get<Command>(r).args).user == "a b");
  CHECK(std::get<LoginArgs>(std::get<Command>(r).args).password == "c");
  CHECK(std::holds_alternative<ParseError>(parse_command("x LOGIN {4}\nab c")));
  CHECK(std::holds_alternative<ParseError>(parse_command("x LOGIN {3}a b c")));
}

TEST_CASE("a large APPEND and pipelined commands around it") {
  std::string msg;
  for (int i = 0; i < 400; ++i) {
    msg += "line " + std::to_string(i) + " {12}\r\n";
    if (i % 50 == 0) msg += "\n.\r\r\n";
  }
  Options opt;
  opt.limits.chunk_max = 100;
  auto evs =
      run("p1 NOOP\r\np2 LOGIN {3+}\r\njoe pw\r\np3 APPEND INBOX {" + std::to_string(msg.size()) +
              "+}\r\n" + msg + "\r\np4 FETCH 1 (UID)\r\np5 LOGOUT\r\n",
          opt);
  REQUIRE(kinds(evs) == "Command,Command,AppendBegin,LiteralChunk,AppendEnd,Command,Command");
  CHECK(std::get<LiteralChunk>(evs[3]).bytes == msg);
  CHECK(std::get<Command>(evs[5]).tag == "p4");
  CHECK(std::get<Command>(evs[6]).verb == Verb::kLogout);
}

TEST_CASE("SORT and THREAD") {
  using K = SearchKey::Kind;
  Command c = one("a SORT (SUBJECT) UTF-8 ALL");
  CHECK(c.verb == Verb::kSort);
  CHECK_FALSE(c.uid);
  auto s = args_of<SortArgs>(c);
  REQUIRE(s.criteria.size() == 1);
  CHECK(s.criteria[0] == SortCriterion{"SUBJECT", false});
  CHECK(s.charset == "UTF-8");
  CHECK_FALSE(s.has_return);
  REQUIRE(s.program.children.size() == 1);
  CHECK(s.program.children[0].kind == K::kAll);

  c =
      one("a uid sort (reverse arrival cc Date reverse DISPLAYFROM) \"us-ascii\" "
          "SUBJECT {3+}\r\na b UNSEEN");
  CHECK(c.uid);
  CHECK(c.name == "SORT");
  s = args_of<SortArgs>(c);
  REQUIRE(s.criteria.size() == 4);
  CHECK(s.criteria[0] == SortCriterion{"ARRIVAL", true});
  CHECK(s.criteria[1] == SortCriterion{"CC", false});
  CHECK(s.criteria[2] == SortCriterion{"DATE", false});
  CHECK(s.criteria[3] == SortCriterion{"DISPLAYFROM", true});
  CHECK(s.charset == "us-ascii");
  REQUIRE(s.program.children.size() == 2);
  CHECK(s.program.children[0].text == "a b");
  CHECK(s.program.children[1].kind == K::kUnseen);

  s = args_of<SortArgs>(one("a SORT RETURN (MIN count) (SIZE) UTF-8 1:* NOT (SEEN)"));
  CHECK(s.has_return);
  CHECK(s.return_opts == std::vector<std::string>{"MIN", "COUNT"});
  CHECK(s.criteria == std::vector<SortCriterion>{{"SIZE", false}});
  REQUIRE(s.program.children.size() == 2);
  CHECK(s.program.children[0].set == set_of({{1, kStar}}));
  s = args_of<SortArgs>(one("a SORT RETURN () (TO) UTF-8 ALL"));
  CHECK(s.has_return);
  CHECK(s.return_opts.empty());
  // Unknown keys are the session's business (BAD there).
  s = args_of<SortArgs>(one("a SORT (FROB) UTF-8 ALL"));
  CHECK(s.criteria[0].key == "FROB");

  bad("a SORT");
  bad("a SORT ()");
  bad("a SORT () UTF-8 ALL");
  bad("a SORT (SUBJECT)");
  bad("a SORT (SUBJECT) UTF-8");
  bad("a SORT (SUBJECT) UTF-8 ");
  bad("a SORT SUBJECT UTF-8 ALL");
  bad("a SORT (REVERSE) UTF-8 ALL");
  bad("a SORT (SUBJECT ) UTF-8 ALL");
  bad("a SORT (SUBJECT) UTF-8 FROB");
  bad("a SORT RETURN ALL (SUBJECT) UTF-8 ALL");
  bad("a SORT RETURN (ALL) UTF-8 ALL");

  c = one("a THREAD references UTF-8 ALL");
  CHECK(c.verb == Verb::kThread);
  auto t = args_of<ThreadArgs>(c);
  CHECK(t.algorithm == "REFERENCES");
  CHECK(t.charset == "UTF-8");
  REQUIRE(t.program.children.size() == 1);
  c = one("a UID THREAD ORDEREDSUBJECT {5+}\r\nUTF-8 (FROM x SEEN) 2:4");
  CHECK(c.uid);
  t = args_of<ThreadArgs>(c);
  CHECK(t.algorithm == "ORDEREDSUBJECT");
  CHECK(t.charset == "UTF-8");
  REQUIRE(t.program.children.size() == 2);
  CHECK(t.program.children[0].kind == K::kAnd);
  CHECK(t.program.children[1].set == set_of({{2, 4}}));

  bad("a THREAD");
  bad("a THREAD REFERENCES");
  bad("a THREAD REFERENCES UTF-8");
  bad("a THREAD (REFERENCES) UTF-8 ALL");
  bad("a UID FROB 1");
}

TEST_CASE("8-bit in quoted strings: before login, after login, after UTF8=ACCEPT") {
  const std::string name = "\"Entw\xc3\xbcrfe/\xe6\x97\xa5\xe6\x9c\xac\"";
  // Before login anything goes (UTF-8 user names and passwords in LOGIN).
  Options preauth;
  preauth.authenticated = false;
  auto a = args_of<LoginArgs>(one("a LOGIN \"\xff\xfe\" x", preauth));
  CHECK(a.user == "\xff\xfe");

  // After login, without UTF8=ACCEPT: 8-bit in a quoted string is BAD; the
  // same bytes in a literal are fine, and the session goes on.
  auto e = bad("a CREATE " + name);
  CHECK(e.tag == "a");
  CHECK(e.message.find("UTF8=ACCEPT") != std::string::npos);
  auto evs = run("a SELECT " + name + "\r\nb SEARCH SUBJECT \"gr\xc3\xbcn\"\r\nc NOOP\r\n");
  REQUIRE(kinds(evs) == "ParseError,ParseError,Command");
  CHECK(std::get<ParseError>(evs[1]).tag == "b");
  auto c = one("a CREATE {9+}\r\nEntw\xc3\xbcrfe");
  CHECK(args_of<CreateArgs>(c).mailbox.name == "Entw\xc3\xbcrfe");
  CHECK(args_of<CreateArgs>(c).mailbox.form == Mailbox::Form::kLiteral);
  // 7-bit quoted strings, escapes included, are unaffected.
  c = one("a CREATE \"a\\\"b\"");
  CHECK(args_of<CreateArgs>(c).mailbox.name == "a\"b");

  // With UTF-8 enabled: valid UTF-8 is accepted in every quoted string.
  Options u;
  u.utf8 = true;
  c = one("a CREATE " + name, u);
  CHECK(args_of<CreateArgs>(c).mailbox.name == "Entw\xc3\xbcrfe/\xe6\x97\xa5\xe6\x9c\xac");
  CHECK(args_of<CreateArgs>(c).mailbox.form == Mailbox::Form::kQuoted);
  c = one("a LIST \"\" \"Entw\xc3\xbcrfe/*\"", u);
  CHECK(args_of<ListArgs>(c).patterns.at(0).name == "Entw\xc3\xbcrfe/*");
  c = one("a SEARCH SUBJECT \"\xf0\x9f\x93\xa7 gr\xc3\xbcn\"", u);
  CHECK(args_of<SearchArgs>(c).program.children.at(0).text == "\xf0\x9f\x93\xa7 gr\xc3\xbcn");
  c = one("a STATUS \"\xc3\xa9\" (MESSAGES)", u);
  CHECK(args_of<StatusArgs>(c).mailbox.name == "\xc3\xa9");
  // ... but not invalid UTF-8: a lone continuation byte, a truncated
  // sequence, an overlong form, a surrogate, Latin-1.
  for (const char* raw : {"\x80", "\xc3", "\xe6\x97", "\xc0\xaf", "\xed\xa0\x80", "Entw\xfcrfe"}) {
    auto err = bad(std::string("a CREATE \"") + raw + "\"", u);
    CHECK(err.tag == "a");
    CHECK(err.message == "quoted string is not valid UTF-8");
  }
  // Literals still carry any bytes (the session checks mailbox names).
  c = one("a CREATE {1+}\r\n\xff", u);
  CHECK(args_of<CreateArgs>(c).mailbox.name == "\xff");
  // The parse error does not stop the next command.
  evs = run("a CREATE \"\xff\"\r\nb CREATE " + name + "\r\n", u);
  REQUIRE(kinds(evs) == "ParseError,Command");

  // parse_command takes the same setting.
  CHECK(std::holds_alternative<Command>(parse_command("a CREATE \"\xc3\xa9\"")));
  CHECK(std::holds_alternative<ParseError>(
      parse_command("a CREATE \"\xc3\xa9\"", QuotedText::kAscii)));
  CHECK(std::holds_alternative<Command>(parse_command("a CREATE \"\xc3\xa9\"", QuotedText::kUtf8)));
  CHECK(std::holds_alternative<ParseError>(parse_command("a CREATE \"\xe9\"", QuotedText::kUtf8)));
}

TEST_CASE("LITERAL-: non-synchronising literals over the cap are refused") {
  Options opt;
  opt.limits.nonsync_max = 4096;
  opt.limits.discard_max = 1 << 20;
  // At the cap: accepted as with LITERAL+.
  std::string four_k(4096, 'x');
  auto c = one("a LOGIN {4096+}\r\n" + four_k + " p", opt);
  CHECK(args_of<LoginArgs>(c).user == four_k);
  // One over: LiteralTooBig (BAD [TOOBIG]); exactly n bytes are skipped, then
  // the rest of that line, and the next command is read.
  std::string big(4097, 'y');
  auto evs = run("a LOGIN {4097+}\r\n" + big + " p\r\nb NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[0]) == LiteralTooBig{"a", 4097, false, false});
  CHECK(std::get<Command>(evs[1]).tag == "b");
  // A synchronising literal of the same size is fine.
  evs = run("a LOGIN {4097}\r\n" + big + " p\r\n", opt);
  REQUIRE(kinds(evs) == "NeedContinuation,Command");
  // APPEND's message literal too; {n} asks for a continuation as before.
  evs = run("A1 APPEND INBOX {5000+}\r\n" + std::string(5000, 'm') + "\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[0]) == LiteralTooBig{"A1", 5000, false, false});
  CHECK(std::get<Command>(evs[1]).tag == "A2");
  evs = run("A1 APPEND INBOX {5000}\r\n" + std::string(5000, 'm') + "\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd");
  evs = run("A1 APPEND INBOX {100+}\r\n" + std::string(100, 'm') + "\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,AppendEnd");
  // A later MULTIAPPEND message over the cap cancels the APPEND.
  evs = run("A1 APPEND INBOX {1+}\r\nx {4097+}\r\n" + big + "\r\nA2 NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "AppendBegin,LiteralChunk,LiteralTooBig,Command");
  CHECK(std::get<LiteralTooBig>(evs[2]).tag == "A1");
  // Past discard_max it is fatal, as for other literals.
  evs = run("a LOGIN {2000000+}\r\nb NOOP\r\n", opt);
  REQUIRE(kinds(evs) == "LiteralTooBig");
  CHECK(std::get<LiteralTooBig>(evs[0]).fatal);
  // Without the cap (LITERAL+), the same literal is accepted.
  Options plus;
  c = one("a LOGIN {4097+}\r\n" + big + " p", plus);
  CHECK(args_of<LoginArgs>(c).user == big);
}
