#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "imap/proto/parser.h"
#include "imap/search/context.h"
#include "imap/search/search.h"

using imap::search::Bounds;
using imap::search::casemap;
using imap::search::CompileError;
using imap::search::Cost;
using imap::search::days_from_civil;
using imap::search::MessageContext;
using imap::search::Program;
using imap::search::sent_day;
using imap::search::StringAccess;
namespace proto = imap::proto;

namespace doctest {
template <>
struct StringMaker<std::vector<uint32_t>> {
  static String convert(const std::vector<uint32_t>& v) {
    std::string s = "{";
    for (uint32_t n : v) s += (s.size() > 1 ? "," : "") + std::to_string(n);
    return (s + "}").c_str();
  }
};
}  // namespace doctest

namespace {

int64_t at(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

// A literal for 8-bit search strings: "{n+}\r\n" + bytes.
std::string lit(std::string_view bytes) {
  return "{" + std::to_string(bytes.size()) + "+}\r\n" + std::string(bytes);
}

proto::SearchArgs parse(const std::string& command) {
  proto::Parser p;
  p.set_authenticated(true);
  p.feed(command + "\r\n");
  auto ev = p.next();
  REQUIRE(ev.has_value());
  const auto* cmd = std::get_if<proto::Command>(&*ev);
  if (cmd == nullptr) {
    if (const auto* e = std::get_if<proto::ParseError>(&*ev)) FAIL("parse error: " << e->message);
    FAIL("not a command");
  }
  return std::get<proto::SearchArgs>(cmd->args);
}

struct Msg {
  store::MessageMeta meta;
  std::string raw;
  bool recent = false;
};

// A message whose reads are counted: checks laziness.
class CountingAccess : public imap::search::MessageAccess {
 public:
  explicit CountingAccess(std::string raw) : inner_(std::move(raw)) {}
  const std::string* header() override {
    ++headers;
    return inner_.header();
  }
  const std::string* message() override {
    ++bodies;
    return inner_.message();
  }
  int headers = 0;
  int bodies = 0;

 private:
  StringAccess inner_;
};

struct Box {
  std::vector<Msg> msgs;
  int64_t now = at(2024, 1, 10, 12, 0, 0);
  int header_reads = 0;
  int body_reads = 0;

  Bounds bounds() const {
    Bounds b;
    b.max_seq = static_cast<uint32_t>(msgs.size());
    b.max_uid = msgs.empty() ? 0 : msgs.back().meta.uid;
    b.now = now;
    return b;
  }

  // Message numbers matching "SEARCH ..." (the text after the verb).
  std::vector<uint32_t> search(const std::string& keys) {
    proto::SearchArgs args = parse("a SEARCH " + keys);
    CompileError err;
    auto prog = Program::compile(args.program, args.charset, bounds(), &err);
    REQUIRE_MESSAGE(prog.has_value(), "compile failed: " << err.text);
    std::vector<uint32_t> out;
    for (size_t i = 0; i < msgs.size(); ++i) {
      CountingAccess access(msgs[i].raw);
      MessageContext m;
      m.meta = &msgs[i].meta;
      m.seq = static_cast<uint32_t>(i + 1);
      m.recent = msgs[i].recent;
      m.access = &access;
      if (prog->matches(m)) out.push_back(m.seq);
      header_reads += access.headers;
      body_reads += access.bodies;
    }
    return out;
  }

  CompileError::Kind error_of(const std::string& keys) {
    proto::SearchArgs args = parse("a SEARCH " + keys);
    CompileError err;
    auto prog = Program::compile(args.program, args.charset, bounds(), &err);
    CHECK(!prog.has_value());
    return err.kind;
  }
};

using V = std::vector<uint32_t>;

// ------------------------------------------------------------ the mailbox

const char kPlain[] =
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
    "From: Alice Example <alice@example.com>\r\n"
    "To: Bob <bob@example.org>\r\n"
    "Cc: carol@example.net\r\n"
    "Bcc: dave@example.com\r\n"
    "Subject: Hello World\r\n"
    "X-Mailer: RoostTest 1.0\r\n"
    "X-Empty:\r\n"
    "\r\n"
    "The quick brown fox\r\n"
    "jumps over the lazy dog.\r\n";

// ISO-8859-1, quoted-printable, RFC 2047 subject, two-digit year.
const char kLatin1[] =
    "Date: 31 Dec 99 23:59 -0800\n"
    "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\n"
    "To: alice@example.com\n"
    "Subject: =?ISO-8859-1?Q?=C4pfel_und_Birnen?=\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=ISO-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Frische =C4pfel aus der Stra=DFe, sehr gro=\n"
    "=DF und s=FC=DF.\n";

// multipart: windows-1251 base64 text, UTF-8 html, a binary attachment;
// KOI8-R RFC 2047 subject.
const char kMultipart[] =
    "Date: Mon, 15 Jan 2024 08:00:00 +0000 (UTC)\r\n"
    "From: ivan@example.ru\r\n"
    "To: team@example.ru\r\n"
    "Subject: =?KOI8-R?B?79Teo9Qg2sEgy9fB0tTBzA==?=\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble secretpreamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=windows-1251\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "z/Do4uXyIOzo8CwgqMbIyg==\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PHA+R3LDvMOfZSBhdXMgS8O2bG48L3A+\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0d29yZCBiaW5hcnkgYXR0YWNobWVudA==\r\n"
    "--outer--\r\n";

// An attached message in ISO-8859-15; Date header in asctime style.
const char kForward[] =
    "Date: Wed Jul  2 10:52:37 2003\r\n"
    "From: fwd@example.com\r\n"
    "To: alice@example.com\r\n"
    "Subject: Fwd: prices\r\n"
    "Content-Type: multipart/mixed; boundary=b1\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "See below.\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: shop@example.com\r\n"
    "Subject: =?utf-8?q?Inner_subj=C3=A9ct?=\r\n"
    "Content-Type: text/plain; charset=iso-8859-15\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "nested needle: 5\xa4URO\r\n"
    "--b1--\r\n";

// Malformed: no blank line, garbage Date, broken base64, bad charset.
const char kBroken[] =
    "Date: sometime last week\r\n"
    "From: <<<broken@@\r\n"
    "Subject: =?bogus-charset?Q?abc?= plain tail\r\n"
    "Content-Type: text/plain; charset=x-unknown-charset\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\x01\x02\xff\xfe junk line without colon\r\n";

// Windows-1252 8bit body, UTF-8 8bit Greek subject, no Date header.
const char kCp1252[] =
    "From: greek@example.gr\r\n"
    "Subject: \xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac "
    "\xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91\r\n"
    "Content-Type: text/plain; charset=windows-1252\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "He said \x93quoted\x94 for 5\x80.\r\n"
    "STRASSE and Stra\xdf"
    "e mixed.\r\n";

Box make_box() {
  Box b;
  auto add = [&](const char* raw, uint32_t uid, uint32_t flags, uint64_t size, int64_t idate,
                 uint64_t modseq, std::vector<std::string> kw, bool recent) {
    Msg m;
    m.meta.uid = uid;
    m.meta.flags = flags;
    m.meta.size = size;
    m.meta.internal_date = idate;
    m.meta.modseq = modseq;
    m.meta.keywords = std::move(kw);
    m.raw = raw;
    m.recent = recent;
    b.msgs.push_back(std::move(m));
  };
  // seq 1..6, UIDs with gaps
  add(kPlain, 10, store::kSeen | store::kAnswered, 500, at(2003, 7, 2, 0, 30), 5, {"$Forwarded"},
      false);
  add(kLatin1, 11, store::kFlagged, 1500, at(2000, 1, 1, 7, 59), 9, {}, true);
  add(kMultipart, 20, store::kSeen | store::kDeleted, 3000, at(2024, 1, 10, 11, 0), 12,
      {"Work", "$Important"}, true);
  add(kForward, 21, store::kDraft, 800, at(2003, 7, 2, 23, 59, 59), 3, {}, false);
  add(kBroken, 30, 0, 200, at(2024, 1, 9, 12, 0), 1, {"work"}, false);
  add(kCp1252, 31, store::kSeen, 250, at(2023, 12, 31, 23, 0), 20, {}, false);
  return b;
}

}  // namespace

// ================================================================ tests

TEST_CASE("i;unicode-casemap (RFC 5051)") {
  // ASCII: titlecase is upper case.
  CHECK(casemap("HeLLo") == "HELLO");
  CHECK(casemap("hello") == casemap("HELLO"));
  // Titlecase, then decomposition: the umlaut becomes A + U+0308.
  CHECK(casemap("ÄPFEL") == "A\xcc\x88PFEL");
  CHECK(casemap("ÄPFEL") == casemap("äpfel"));
  // A precomposed ring equals A + combining ring; so does the Angstrom sign.
  CHECK(casemap("\xc3\x85") == casemap("A\xcc\x8a"));
  CHECK(casemap("\xe2\x84\xab") == casemap("\xc3\xa5"));
  // Compatibility decomposition, then titlecase of each part: the ligature.
  CHECK(casemap("\xef\xac\x81") == "FI");
  CHECK(casemap("\xef\xac\x81nal") == casemap("final"));
  CHECK(casemap("ＡＢＣ") == "ABC");
  // German sharp s has no simple titlecase mapping and no decomposition:
  // it is neither "ss" nor the capital sharp s.
  CHECK(casemap("straße") ==
        "STRA\xc3\x9f"
        "E");
  CHECK(casemap("straße") != casemap("STRASSE"));
  CHECK(casemap("STRAẞE") != casemap("straße"));
  // Greek: small sigma and final sigma both titlecase to capital sigma.
  CHECK(casemap("σ") == "Σ");
  CHECK(casemap("ς") == "Σ");
  CHECK(casemap("ΣΟΦΙΑΣ") == casemap("σοφιας"));
  CHECK(casemap("ΣΟΦΊΑ") == casemap("σοφία"));  // tonos decomposed on both sides
  CHECK(casemap("ПРИВЕТ Ёжик") == casemap("привет ёЖИК"));
  CHECK(casemap("ԱԲԳ") == casemap("աբգ"));
  // Titlecase letters (DŽ digraphs) meet: Dž and dž both map to Dž,
  // then decompose.
  CHECK(casemap("\xc7\x85") == casemap("\xc7\x86"));
  // Hangul syllables stay whole (UnicodeData.txt has no mapping for them).
  CHECK(casemap("\xea\xb0\x80") == "\xea\xb0\x80");
  // Invalid UTF-8 passes through as binary.
  CHECK(casemap(std::string("a\xff\xc3") + "b") == std::string("A\xff\xc3") + "B");
}

TEST_CASE("casemap substring search: SUBJECT, BODY, TEXT") {
  const std::string msg =
      "Subject: =?UTF-8?Q?=C3=84pfel_und_Stra=C3=9Fe_=CF=83=CE=BF=CF=86=CE=AF=CE=B1=CF=82?=\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Der \xef\xac\x81nale Preis: A\xcc\x8a \r\n";
  store::MessageMeta meta;
  meta.uid = 1;
  meta.modseq = 1;
  auto matches = [&](const std::string& command) {
    const proto::SearchArgs args = parse("a " + command);
    Bounds b;
    b.max_seq = 1;
    b.max_uid = 1;
    auto p = Program::compile(args.program, args.charset, b, nullptr);
    REQUIRE(p.has_value());
    StringAccess access(msg);
    MessageContext m;
    m.meta = &meta;
    m.seq = 1;
    m.access = &access;
    return p->matches(m);
  };
  CHECK(matches("SEARCH SUBJECT " + lit("\xc3\xa4pfel")));
  CHECK(matches("SEARCH SUBJECT \"APFEL\"") == false);  // the diaeresis stays
  CHECK(matches("SEARCH SUBJECT " + lit("STRA\xc3\x9f")));
  CHECK_FALSE(matches("SEARCH SUBJECT STRASSE"));
  CHECK(matches("SEARCH SUBJECT " + lit("\xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91\xce\xa3")));
  CHECK(matches("SEARCH BODY FINALE"));
  CHECK(matches("SEARCH TEXT finale"));
  CHECK(matches("SEARCH BODY " + lit("\xc3\xa5")));
  CHECK(matches("SEARCH TEXT " + lit("\xc3\x85")));
  CHECK_FALSE(matches("SEARCH BODY " + lit("\xc3\xa4")));
}

TEST_CASE("context positions: REMOVEFROM highest first, ADDTO lowest first") {
  using imap::search::add_to;
  using imap::search::remove_from;
  std::vector<uint32_t> r = {2, 4, 5, 7, 9};
  auto removed = remove_from(r, {2, 5, 7, 8});
  REQUIRE(removed.size() == 2);
  CHECK(removed[0].position == 3);
  CHECK(removed[0].items == std::vector<uint32_t>{5, 7});
  CHECK(removed[1].position == 1);
  CHECK(removed[1].items == std::vector<uint32_t>{2});
  CHECK(r == std::vector<uint32_t>{4, 9});
  auto added = add_to(r, {1, 3, 4, 10, 11});
  REQUIRE(added.size() == 2);
  CHECK(added[0].position == 1);
  CHECK(added[0].items == std::vector<uint32_t>{1, 3});
  CHECK(added[1].position == 5);
  CHECK(added[1].items == std::vector<uint32_t>{10, 11});
  CHECK(r == std::vector<uint32_t>{1, 3, 4, 9, 10, 11});
  std::string out;
  imap::search::write_positioned(out, added, [](uint32_t u) { return u; });
  CHECK(out == " (1 1,3 5 10:11)");
  CHECK(remove_from(r, {}).empty());
  CHECK(add_to(r, {4}).empty());
}

TEST_CASE("PARTIAL ranges") {
  using imap::search::parse_partial;
  using imap::search::partial_slice;
  auto r = parse_partial("4:2");
  REQUIRE(r.has_value());
  CHECK(r->text() == "2:4");
  auto n = parse_partial("-1:-3");
  REQUIRE(n.has_value());
  CHECK(n->text() == "-1:-3");
  CHECK(parse_partial("-3:-1")->text() == "-1:-3");
  CHECK_FALSE(parse_partial("0:5"));
  CHECK_FALSE(parse_partial("1:*"));
  CHECK_FALSE(parse_partial("*:1"));
  CHECK_FALSE(parse_partial("1"));
  CHECK_FALSE(parse_partial("-1:5"));
  CHECK_FALSE(parse_partial("1:99999999999"));
  CHECK_FALSE(parse_partial("a:b"));
  const std::vector<uint32_t> v = {10, 20, 30, 40, 50};
  CHECK(partial_slice(v, *r) == std::vector<uint32_t>{20, 30, 40});
  CHECK(partial_slice(v, *parse_partial("1:100")) == v);
  CHECK(partial_slice(v, *parse_partial("6:9")).empty());
  CHECK(partial_slice(v, *n) == std::vector<uint32_t>{30, 40, 50});
  CHECK(partial_slice(v, *parse_partial("-5:-9")) == std::vector<uint32_t>{10});
  CHECK(partial_slice(v, *parse_partial("-6:-9")).empty());
}

TEST_CASE("sent_day reads Date: values") {
  CHECK(sent_day("Tue, 1 Jul 2003 10:52:37 +0200") == days_from_civil(2003, 7, 1));
  CHECK(sent_day("1 Jul 2003 23:59:59 -1200") == days_from_civil(2003, 7, 1));
  CHECK(sent_day("31 Dec 99 23:59 -0800") == days_from_civil(1999, 12, 31));
  CHECK(sent_day("5 Mar 07 10:00 GMT") == days_from_civil(2007, 3, 5));
  CHECK(sent_day("05 March 2007") == days_from_civil(2007, 3, 5));
  CHECK(sent_day("(comment) Sun, (x) 29 Feb 2004 00:00 +0000") == days_from_civil(2004, 2, 29));
  CHECK(sent_day("Wed Jul  2 10:52:37 2003") == days_from_civil(2003, 7, 2));
  CHECK(sent_day("2-Jul-2003") == days_from_civil(2003, 7, 2));
  CHECK(sent_day("1 Jan 105 00:00 +0000") == days_from_civil(2005, 1, 1));
  CHECK_FALSE(sent_day("sometime last week").has_value());
  CHECK_FALSE(sent_day("30 Feb 2003 10:00").has_value());
  CHECK_FALSE(sent_day("").has_value());
  CHECK_FALSE(sent_day("Jul 2003").has_value());
  CHECK_FALSE(sent_day("2003-07-01").has_value());
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(days_from_civil(1969, 12, 31) == -1);
  CHECK(days_from_civil(2000, 3, 1) == 11017);
}

TEST_CASE("header end") {
  using imap::search::header_end;
  CHECK(header_end("a: b\r\n\r\nbody") == 8u);
  CHECK(header_end("a: b\n\nbody") == 6u);
  CHECK(header_end("\r\nbody") == 2u);
  CHECK(header_end("\nbody") == 1u);
  CHECK_FALSE(header_end("a: b\r\nc: d\r\n").has_value());
}

TEST_CASE("flags, keywords, recent") {
  Box b = make_box();
  CHECK(b.search("ALL") == V{1, 2, 3, 4, 5, 6});
  CHECK(b.search("ANSWERED") == V{1});
  CHECK(b.search("UNANSWERED") == V{2, 3, 4, 5, 6});
  CHECK(b.search("DELETED") == V{3});
  CHECK(b.search("UNDELETED") == V{1, 2, 4, 5, 6});
  CHECK(b.search("DRAFT") == V{4});
  CHECK(b.search("UNDRAFT") == V{1, 2, 3, 5, 6});
  CHECK(b.search("FLAGGED") == V{2});
  CHECK(b.search("UNFLAGGED") == V{1, 3, 4, 5, 6});
  CHECK(b.search("SEEN") == V{1, 3, 6});
  CHECK(b.search("UNSEEN") == V{2, 4, 5});
  CHECK(b.search("RECENT") == V{2, 3});
  CHECK(b.search("OLD") == V{1, 4, 5, 6});
  CHECK(b.search("NEW") == V{2});
  CHECK(b.search("KEYWORD work") == V{3, 5});
  CHECK(b.search("KEYWORD $forwarded") == V{1});
  CHECK(b.search("KEYWORD $Important") == V{3});
  CHECK(b.search("UNKEYWORD Work") == V{1, 2, 4, 6});
  CHECK(b.search("KEYWORD nothere") == V{});
  // None of this reads a message.
  CHECK(b.header_reads == 0);
  CHECK(b.body_reads == 0);
}

TEST_CASE("size, dates, uid, sequence sets, modseq, older/younger") {
  Box b = make_box();
  CHECK(b.search("LARGER 500") == V{2, 3, 4});
  CHECK(b.search("SMALLER 500") == V{5, 6});
  CHECK(b.search("LARGER 249 SMALLER 251") == V{6});
  // Internal dates by UTC calendar day.
  CHECK(b.search("ON 2-Jul-2003") == V{1, 4});
  CHECK(b.search("BEFORE 2-Jul-2003") == V{2});
  CHECK(b.search("SINCE 2-Jul-2003") == V{1, 3, 4, 5, 6});
  CHECK(b.search("SINCE 1-Jan-2024") == V{3, 5});
  CHECK(b.search("BEFORE 1-Jan-1990") == V{});
  CHECK(b.search("UID 11:21") == V{2, 3, 4});
  CHECK(b.search("UID 30:*") == V{5, 6});
  CHECK(b.search("UID *") == V{6});
  CHECK(b.search("UID 12:19") == V{});
  CHECK(b.search("UID 100:*") == V{6});  // "*" is the highest UID: 31:100
  CHECK(b.search("1,3:4") == V{1, 3, 4});
  CHECK(b.search("5:*") == V{5, 6});
  CHECK(b.search("*") == V{6});
  CHECK(b.search("7:9") == V{});
  CHECK(b.search("MODSEQ 9") == V{2, 3, 6});
  CHECK(b.search("MODSEQ \"/flags/\\\\Seen\" all 12") == V{3, 6});
  // now = 2024-01-10 12:00; msg 3 is an hour old, msg 5 a day.
  CHECK(b.search("YOUNGER 3600") == V{});
  CHECK(b.search("YOUNGER 3601") == V{3});
  CHECK(b.search("OLDER 3600") == V{1, 2, 3, 4, 5, 6});
  CHECK(b.search("OLDER 3601") == V{1, 2, 4, 5, 6});
  CHECK(b.search("YOUNGER 90000") == V{3, 5});
  CHECK(b.search("NOT YOUNGER 90000") == b.search("OLDER 90000"));
  CHECK(b.header_reads == 0);
  CHECK(b.body_reads == 0);
}

TEST_CASE("SENT* use the Date: header, else the internal date") {
  Box b = make_box();
  // 1: 1 Jul 2003 (+0200, internal date 2 Jul); 2: 31 Dec 1999 (-0800,
  // internal 1 Jan 2000); 3: 15 Jan 2024; 4: asctime 2 Jul 2003;
  // 5: unreadable -> internal 9 Jan 2024; 6: none -> internal 31 Dec 2023.
  CHECK(b.search("SENTON 1-Jul-2003") == V{1});
  CHECK(b.search("SENTON 2-Jul-2003") == V{4});
  CHECK(b.search("SENTON 31-Dec-1999") == V{2});
  CHECK(b.search("SENTON 1-Jan-2000") == V{});
  CHECK(b.search("SENTBEFORE 2-Jul-2003") == V{1, 2});
  CHECK(b.search("SENTSINCE 2-Jul-2003") == V{3, 4, 5, 6});
  CHECK(b.search("SENTON 9-Jan-2024") == V{5});
  CHECK(b.search("SENTON 31-Dec-2023") == V{6});
  CHECK(b.search("SENTSINCE 10-Jan-2024") == V{3});
  CHECK(b.body_reads == 0);
}

TEST_CASE("header keys") {
  Box b = make_box();
  CHECK(b.search("SUBJECT hello") == V{1});
  CHECK(b.search("SUBJECT \"WORLD\"") == V{1});
  CHECK(b.search("SUBJECT \"\"") == V{1, 2, 3, 4, 5, 6});
  CHECK(b.search("FROM alice") == V{1});
  CHECK(b.search("FROM \"Alice Example\"") == V{1});
  CHECK(b.search("FROM example.com") == V{1, 4});
  CHECK(b.search("TO alice@example.com") == V{2, 4});
  CHECK(b.search("TO bob") == V{1});
  CHECK(b.search("CC carol") == V{1});
  CHECK(b.search("BCC DAVE") == V{1});
  CHECK(b.search("BCC carol") == V{});
  // RFC 2047 display names are decoded.
  CHECK(b.search("FROM " + lit("jörg müller")) == V{2});
  CHECK(b.search("FROM " + lit("JÖRG")) == V{2});
  CHECK(b.search("HEADER X-Mailer roosttest") == V{1});
  CHECK(b.search("HEADER x-mailer \"\"") == V{1});
  CHECK(b.search("HEADER X-Empty \"\"") == V{1});
  CHECK(b.search("HEADER X-Absent \"\"") == V{});
  CHECK(b.search("HEADER Content-Type multipart") == V{3, 4});
  // Only the top-level header counts for header keys.
  CHECK(b.search("SUBJECT inner") == V{});
  CHECK(b.search("FROM shop") == V{});
  // Header keys read headers only, never bodies.
  CHECK(b.body_reads == 0);
  CHECK(b.header_reads > 0);
}

TEST_CASE("RFC 2047 subjects and case-insensitive Unicode") {
  Box b = make_box();
  CHECK(b.search("SUBJECT " + lit("äpfel")) == V{2});
  CHECK(b.search("SUBJECT " + lit("ÄPFEL UND")) == V{2});
  CHECK(b.search("SUBJECT " + lit("отчёт")) == V{3});
  CHECK(b.search("SUBJECT " + lit("ОТЧЁТ ЗА")) == V{3});
  CHECK(b.search("SUBJECT " + lit("σοφια")) == V{6});
  CHECK(b.search("SUBJECT " + lit("ΕΛΛΗΝΙΚΆ")) == V{6});
  // A broken encoded word is kept; the plain part still matches.
  CHECK(b.search("SUBJECT \"plain tail\"") == V{5});
}

TEST_CASE("BODY and TEXT") {
  Box b = make_box();
  CHECK(b.search("BODY \"brown FOX\"") == V{1});
  CHECK(b.search("BODY hello") == V{});  // only in the header
  CHECK(b.search("TEXT hello") == V{1});
  CHECK(b.search("TEXT \"lazy dog\"") == V{1});
  CHECK(b.search("TEXT X-Mailer") == V{1});  // field names are header text too
  // Quoted-printable ISO-8859-1 with a soft line break inside "groß".
  CHECK(b.search("BODY " + lit("ÄPFEL")) == V{2});
  CHECK(b.search("BODY " + lit("straße")) == V{2, 6});
  // i;unicode-casemap (RFC 5051): the capital sharp s has no simple
  // titlecase mapping to the small one, and neither is "SS".
  CHECK(b.search("BODY " + lit("STRAẞE")) == V{});
  CHECK(b.search("BODY " + lit("STRAßE")) == V{2, 6});
  CHECK(b.search("BODY " + lit("groß und süß")) == V{2});
  // Base64 windows-1251 and UTF-8 html inside nested multiparts.
  CHECK(b.search("BODY " + lit("привет МИР")) == V{3});
  CHECK(b.search("BODY " + lit("ёжик")) == V{3});
  CHECK(b.search("BODY " + lit("grüße aus köln")) == V{3});
  // Non-text parts and the preamble are not searched.
  CHECK(b.search("BODY secretword") == V{});
  CHECK(b.search("TEXT secretword") == V{});
  // Attached message: its header and its ISO-8859-15 text are body text.
  CHECK(b.search("BODY \"nested needle\"") == V{4});
  CHECK(b.search("BODY " + lit("5€uro")) == V{4});
  CHECK(b.search("BODY " + lit("inner subjéct")) == V{4});
  CHECK(b.search("BODY shop@example.com") == V{4});
  // Windows-1252 smart quotes and euro sign.
  CHECK(b.search("BODY " + lit("“QUOTED”")) == V{6});
  CHECK(b.search("BODY " + lit("5€.")) == V{6});
  // The empty string matches every message.
  CHECK(b.search("BODY \"\"") == V{1, 2, 3, 4, 5, 6});
}

TEST_CASE("CHARSET converts the search strings") {
  Box b = make_box();
  CHECK(b.search("CHARSET ISO-8859-1 BODY " + lit("\xc4PFEL")) == V{2});
  CHECK(b.search("CHARSET iso-8859-1 SUBJECT " + lit("\xe4pfel")) == V{2});
  CHECK(b.search("CHARSET ISO-8859-15 BODY " + lit("5\xa4URO")) == V{4});
  CHECK(b.search("CHARSET WINDOWS-1252 BODY " + lit("\x93quoted\x94")) == V{6});
  CHECK(b.search("CHARSET windows-1251 BODY " + lit("\xef\xf0\xe8\xe2\xe5\xf2")) == V{3});
  CHECK(b.search("CHARSET KOI8-R SUBJECT " + lit("\xef\xf4\xfe\xb3\xf4")) == V{3});
  CHECK(b.search("CHARSET UTF-8 BODY " + lit("Привет")) == V{3});
  CHECK(b.search("CHARSET US-ASCII BODY fox") == V{1});
  CHECK(b.search("CHARSET \"UTF-8\" HEADER X-Mailer roost") == V{1});
  // Strings in HEADER values are converted too.
  CHECK(b.search("CHARSET ISO-8859-1 HEADER Subject " + lit("\xc4pfel")) == V{2});
  // Unknown charsets are refused before anything is searched.
  CHECK(b.error_of("CHARSET X-NO-SUCH-CHARSET BODY x") == CompileError::Kind::kBadCharset);
  CHECK(b.error_of("CHARSET \"bad charset\" BODY x") == CompileError::Kind::kBadCharset);
}

TEST_CASE("NOT, OR and groups") {
  Box b = make_box();
  CHECK(b.search("NOT SEEN") == V{2, 4, 5});
  CHECK(b.search("NOT NOT SEEN") == V{1, 3, 6});
  CHECK(b.search("OR ANSWERED DRAFT") == V{1, 4});
  CHECK(b.search("OR (SEEN DELETED) FLAGGED") == V{2, 3});
  CHECK(b.search("OR OR 1 2 UID 31") == V{1, 2, 6});
  CHECK(b.search("NOT OR SEEN RECENT") == V{4, 5});
  CHECK(b.search("SEEN NOT (DELETED OR 1 6)") == V{1, 3, 6});
  CHECK(b.search("SEEN NOT (DELETED (OR 1 6))") == V{1, 3, 6});
  CHECK(b.search("(SEEN) (NOT DELETED) (SUBJECT hello)") == V{1});
  CHECK(b.search("NOT (SEEN UNDELETED)") == V{2, 3, 4, 5});
  CHECK(b.search("OR SUBJECT hello BODY " + lit("straße")) == V{1, 2, 6});
  CHECK(b.search("NOT BODY fox") == V{2, 3, 4, 5, 6});
  CHECK(b.search("NOT TEXT fox SEEN") == V{3, 6});
  CHECK(b.search("ALL (ALL (ALL (ALL SEEN)))") == V{1, 3, 6});
}

TEST_CASE("laziness and short-circuit") {
  Box b = make_box();
  // The flag test fails first for unseen messages; the body is read only
  // for the seen ones, and only once each.
  CHECK(b.search("BODY fox SEEN") == V{1});
  CHECK(b.body_reads == 3);
  b.body_reads = b.header_reads = 0;
  // A header-only program never reads bodies; UID 10 only message 1's header.
  CHECK(b.search("SUBJECT hello UID 10") == V{1});
  CHECK(b.header_reads == 1);
  CHECK(b.body_reads == 0);
  b.body_reads = b.header_reads = 0;
  // OR tries the cheap side first.
  CHECK(b.search("OR BODY nothing-here ALL") == V{1, 2, 3, 4, 5, 6});
  CHECK(b.body_reads == 0);

  proto::SearchArgs a = parse("a SEARCH SEEN");
  CHECK(Program::compile(a.program, a.charset, {}, nullptr)->cost() == Cost::kMeta);
  a = parse("a SEARCH SEEN OR FROM x 1");
  CHECK(Program::compile(a.program, a.charset, {}, nullptr)->cost() == Cost::kHeader);
  a = parse("a SEARCH NOT TEXT x");
  CHECK(Program::compile(a.program, a.charset, {}, nullptr)->cost() == Cost::kBody);
  CHECK_FALSE(Program::compile(a.program, a.charset, {}, nullptr)->uses_modseq());
  a = parse("a SEARCH OR MODSEQ 5 SEEN");
  CHECK(Program::compile(a.program, a.charset, {}, nullptr)->uses_modseq());
}

TEST_CASE("saved result is refused") {
  Box b = make_box();
  CHECK(b.error_of("$") == CompileError::Kind::kSavedResult);
  CHECK(b.error_of("SEEN UID $") == CompileError::Kind::kSavedResult);
}

TEST_CASE("malformed and unreadable messages") {
  Box b = make_box();
  // The broken message: header with no end, base64 body of junk.
  // An encoded word in an unknown charset stays as written.
  CHECK(b.search("SUBJECT \"=?bogus-charset?q?abc?=\"") == V{5});
  CHECK(b.search("FROM broken") == V{5});
  CHECK(b.search("TEXT \"last week\"") == V{5});
  CHECK(b.search("BODY zzz") == V{});

  // Unreadable message (null access) and null meta.
  proto::SearchArgs a = parse("a SEARCH OR TEXT x SEEN");
  auto prog = Program::compile(a.program, a.charset, {1, 1, 0}, nullptr);
  store::MessageMeta meta;
  meta.uid = 1;
  MessageContext m;
  m.meta = &meta;
  m.seq = 1;
  CHECK_FALSE(prog->matches(m));
  meta.flags = store::kSeen;
  CHECK(prog->matches(m));
  m.meta = nullptr;
  CHECK_FALSE(prog->matches(m));

  // Every prefix of every message must be searchable without trouble.
  Box all = make_box();
  for (const Msg& msg : make_box().msgs) {
    for (size_t n = 0; n <= msg.raw.size(); n += 7) {
      Msg cut = msg;
      cut.raw = msg.raw.substr(0, n);
      all.msgs = {cut};
      (void)all.search("OR TEXT zzz OR BODY q SENTON 1-Jan-2000");
    }
  }
  // Garbage bytes everywhere.
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) % 256);
  all.msgs = {make_box().msgs[0]};
  all.msgs[0].raw = garbage;
  (void)all.search("OR TEXT zzz OR BODY q OR SUBJECT x SENTBEFORE 1-Jan-2000");
  all.msgs[0].raw = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--";
  CHECK(all.search("TEXT multipart") == V{1});
}

namespace {
// A store stream over a string, reading at most `step` bytes per call.
class FakeStream : public store::MessageStream {
 public:
  FakeStream(std::string data, size_t step, size_t* reads)
      : data_(std::move(data)), step_(step), reads_(reads) {}
  store::Result<size_t> read(char* buf, size_t n) override {
    ++*reads_;
    size_t k = std::min({n, step_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  store::Result<void> seek(uint64_t offset) override {
    pos_ = std::min<uint64_t>(offset, data_.size());
    return core::Ok{};
  }
  uint64_t raw_size() const override { return data_.size(); }

 private:
  std::string data_;
  size_t step_;
  size_t pos_ = 0;
  size_t* reads_;
};
}  // namespace

TEST_CASE("StreamAccess reads the header first, the rest on demand") {
  std::string big(200000, 'x');
  std::string raw = std::string("Subject: s\r\nX: y\r\n\r\n") + big;
  for (size_t step : {1u, 2u, 5u, 100u, 1000000u}) {
    size_t reads = 0;
    imap::search::StreamAccess acc([&]() -> store::Result<std::unique_ptr<store::MessageStream>> {
      return std::unique_ptr<store::MessageStream>(new FakeStream(raw, step, &reads));
    });
    const std::string* h = acc.header();
    REQUIRE(h != nullptr);
    CHECK(*h == "Subject: s\r\nX: y\r\n\r\n");
    CHECK(reads < 50000);  // not the whole message byte by byte
    const std::string* m = acc.message();
    REQUIRE(m != nullptr);
    CHECK(*m == raw);
    CHECK(*acc.header() == "Subject: s\r\nX: y\r\n\r\n");
  }
  // Split blank lines at every position, LF ends.
  std::string lf = "A: b\nC: d\n\nbody\n";
  for (size_t step = 1; step <= lf.size(); ++step) {
    size_t reads = 0;
    imap::search::StreamAccess acc([&]() -> store::Result<std::unique_ptr<store::MessageStream>> {
      return std::unique_ptr<store::MessageStream>(new FakeStream(lf, step, &reads));
    });
    CHECK(*acc.header() == "A: b\nC: d\n\n");
  }
  // An opener failure gives nullptr, every time.
  imap::search::StreamAccess bad([]() -> store::Result<std::unique_ptr<store::MessageStream>> {
    return core::fail(store::make_error(store::Errc::kNotFound, "gone"));
  });
  CHECK(bad.header() == nullptr);
  CHECK(bad.message() == nullptr);
  // A header without an end is the whole message.
  size_t reads = 0;
  imap::search::StreamAccess noend([&]() -> store::Result<std::unique_ptr<store::MessageStream>> {
    return std::unique_ptr<store::MessageStream>(new FakeStream("A: b\r\nC: d", 3, &reads));
  });
  CHECK(*noend.header() == "A: b\r\nC: d");
}

TEST_CASE("RETURN options shared by SEARCH and SORT") {
  std::string err;
  auto r = imap::search::parse_return_options({"MIN", "COUNT", "PARTIAL", "-1:-5", "CONTEXT"}, &err);
  REQUIRE(r);
  CHECK(r->min);
  CHECK(r->count);
  CHECK_FALSE(r->max);
  REQUIRE(r->partial);
  CHECK(r->partial->text() == "-1:-5");
  CHECK_FALSE(r->none_named());

  auto none = imap::search::parse_return_options({}, &err);
  REQUIRE(none);
  CHECK(none->none_named());
  auto saved = imap::search::parse_return_options({"SAVE", "UPDATE"}, &err);
  REQUIRE(saved);
  CHECK(saved->save);
  CHECK(saved->update);
  CHECK(saved->none_named());  // SAVE alone returns nothing but ALL's meaning

  CHECK_FALSE(imap::search::parse_return_options({"PARTIAL"}, &err));
  CHECK(err.find("PARTIAL needs one range") == 0);
  CHECK_FALSE(imap::search::parse_return_options({"PARTIAL", "0:5"}, &err));
  CHECK(err.find("Invalid PARTIAL range 0:5") == 0);
  CHECK_FALSE(imap::search::parse_return_options({"PARTIAL", "1:2", "PARTIAL", "3:4"}, &err));
  CHECK_FALSE(imap::search::parse_return_options({"FUZZY"}, &err));
  CHECK(err == "Unknown RETURN option FUZZY");
}
