// Tests for imap/fetch: the FETCH response of one message, over the MIME
// corpus in tests/data/mime. Expected sizes are counted by hand from the
// files (CRLF form).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "imap/fetch/fetch_writer.h"
#include "imap/proto/parser.h"

using namespace imap;
using imap::fetch::FetchWriter;
using imap::fetch::Options;
using imap::fetch::Problem;
using imap::fetch::StringReader;

namespace {

std::string load(const std::string& name) {
  std::ifstream f(std::string(ROOST_MIME_DATA) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "missing test data " << name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint64_t crlf_size(std::string_view s) {
  uint64_t n = 0;
  char prev = 0;
  for (char c : s) {
    n += (c == '\n' && prev != '\r') ? 2 : 1;
    prev = c;
  }
  return n;
}

std::string to_crlf(std::string_view s) {
  std::string out;
  char prev = 0;
  for (char c : s) {
    if (c == '\n' && prev != '\r') out += '\r';
    out += c;
    prev = c;
  }
  return out;
}

// The attributes of "FETCH 1 <atts>" as the command parser gives them.
std::vector<proto::FetchAtt> atts(const std::string& text) {
  proto::Parser p;
  p.set_authenticated(true);
  p.feed("a FETCH 1 " + text + "\r\n");
  auto ev = p.next();
  REQUIRE(ev.has_value());
  auto* cmd = std::get_if<proto::Command>(&*ev);
  REQUIRE_MESSAGE(cmd != nullptr, "does not parse: " << text);
  return std::get<proto::FetchArgs>(cmd->args).atts;
}

store::MessageMeta meta_for(std::string_view msg) {
  store::MessageMeta m;
  m.uid = 42;
  m.flags = store::kSeen | store::kFlagged;
  m.keywords = {"$Forwarded"};
  m.size = crlf_size(msg);
  m.internal_date = 1704103200;  // 2024-01-01 10:00:00 UTC
  m.modseq = 9;
  return m;
}

struct Run {
  std::string out;
  Problem problem = Problem::kNone;
  bool failed = false;
  size_t calls = 0;
  size_t reads = 0;
};

Run run(std::string_view msg, const std::string& att_text, Options opt = {},
        size_t budget = fetch::kStepBytes, const store::MessageMeta* meta = nullptr) {
  if (opt.seq == 0) opt.seq = 3;
  std::vector<proto::FetchAtt> a = atts(att_text);
  StringReader reader(msg);
  store::MessageMeta m = meta ? *meta : meta_for(msg);
  FetchWriter w(m, a, opt, &reader);
  Run r;
  r.problem = w.prepare();
  while (true) {
    ++r.calls;
    REQUIRE(r.calls < 100000);
    size_t before = r.out.size();
    bool more = w.write(r.out, budget);
    if (more) CHECK(r.out.size() > before);
    if (!more) break;
  }
  r.failed = w.read_failed();
  r.reads = reader.reads();
  return r;
}

std::string fetch_out(std::string_view msg, const std::string& att_text, Options opt = {}) {
  return run(msg, att_text, opt).out;
}

std::string lit(std::string_view data) {
  return "{" + std::to_string(data.size()) + "}\r\n" + std::string(data);
}

}  // namespace

TEST_CASE("simple attributes, order, UID first for UID FETCH") {
  std::string msg = load("headers-only.eml");
  CHECK(fetch_out(msg, "(FLAGS UID)") ==
        "* 3 FETCH (FLAGS (\\Seen \\Flagged $Forwarded) UID 42)\r\n");
  Options o;
  o.uid = true;
  o.recent = true;
  CHECK(fetch_out(msg, "(RFC822.SIZE FLAGS)", o) ==
        "* 3 FETCH (UID 42 RFC822.SIZE " + std::to_string(crlf_size(msg)) +
            " FLAGS (\\Seen \\Flagged \\Recent $Forwarded))\r\n");
  CHECK(fetch_out(msg, "(INTERNALDATE MODSEQ)") ==
        "* 3 FETCH (INTERNALDATE \" 1-Jan-2024 10:00:00 +0000\" MODSEQ (9))\r\n");
  Options m;
  m.modseq = true;
  m.flags = true;
  CHECK(fetch_out(msg, "(UID)", m) ==
        "* 3 FETCH (UID 42 FLAGS (\\Seen \\Flagged $Forwarded) MODSEQ (9))\r\n");
  CHECK(fetch_out(msg, "(UID MODSEQ FLAGS)", m) ==
        "* 3 FETCH (UID 42 MODSEQ (9) FLAGS (\\Seen \\Flagged $Forwarded))\r\n");
}

// A reader that fails after `ok` bytes.
class FailingReader final : public fetch::Reader {
 public:
  FailingReader(std::string_view bytes, uint64_t ok) : bytes_(bytes), ok_(ok) {}
  bool seek(uint64_t offset) override {
    pos_ = offset;
    return true;
  }
  int64_t read(char* buf, size_t n) override {
    if (pos_ >= ok_) return -1;
    size_t take = static_cast<size_t>(std::min<uint64_t>({n, ok_ - pos_, bytes_.size() - pos_}));
    std::memcpy(buf, bytes_.data() + pos_, take);
    pos_ += take;
    return static_cast<int64_t>(take);
  }
  uint64_t size() const override { return bytes_.size(); }

 private:
  std::string_view bytes_;
  uint64_t ok_;
  uint64_t pos_ = 0;
};

TEST_CASE("ENVELOPE and BODYSTRUCTURE") {
  std::string msg = load("mixed-alternative.eml");
  CHECK(fetch_out(msg, "(ENVELOPE)") ==
        "* 3 FETCH (ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" \"nested\" "
        "((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) "
        "((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.net\")) "
        "NIL NIL NIL \"<m1@example.org>\"))\r\n");
  CHECK(fetch_out(msg, "BODYSTRUCTURE") ==
        "* 3 FETCH (BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" "
        "11 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 27 2 "
        "NIL NIL NIL NIL) \"ALTERNATIVE\" (\"boundary\" \"inner\") NIL NIL NIL)(\"IMAGE\" \"PNG\" "
        "(\"name\" \"dot.png\") \"<dot@x>\" \"a dot\" \"BASE64\" 12 NIL (\"attachment\" "
        "(\"filename\" \"dot.png\")) NIL NIL)(\"TEXT\" \"PLAIN\" (\"charset\" \"iso-8859-1\") NIL "
        "NIL \"QUOTED-PRINTABLE\" 17 1 NIL NIL (\"en\" \"fr\") NIL) \"MIXED\" (\"boundary\" "
        "\"outer\") NIL NIL NIL))\r\n");

  std::string fwd = load("rfc822-attachment.eml");
  const std::string inner_env =
      "(NIL \"inner\" ((\"Dave\" NIL \"dave\" \"example.com\")) ((\"Dave\" NIL \"dave\" "
      "\"example.com\")) ((\"Dave\" NIL \"dave\" \"example.com\")) ((\"Carol\" NIL \"carol\" "
      "\"example.org\")) NIL NIL NIL NIL)";
  CHECK(fetch_out(fwd, "(BODY ENVELOPE)") ==
        "* 3 FETCH (BODY ((\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0)"
        "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 126 " +
            inner_env +
            " (\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 20 1) 6) \"MIXED\") "
            "ENVELOPE (NIL \"fwd\" ((\"Carol\" NIL \"carol\" \"example.org\")) ((\"Carol\" NIL "
            "\"carol\" \"example.org\")) ((\"Carol\" NIL \"carol\" \"example.org\")) NIL NIL NIL "
            "NIL NIL))\r\n");
}

TEST_CASE("FULL / ALL / FAST macros come expanded") {
  std::string msg = load("headers-only.eml");
  std::string full = fetch_out(msg, "FULL");
  CHECK(full.rfind("* 3 FETCH (FLAGS (\\Seen \\Flagged $Forwarded) INTERNALDATE ", 0) == 0);
  CHECK(full.find(" RFC822.SIZE " + std::to_string(crlf_size(msg)) + " ENVELOPE (") !=
        std::string::npos);
  CHECK(full.find(") BODY (\"TEXT\" \"PLAIN\"") != std::string::npos);
  CHECK(fetch_out(msg, "FAST") ==
        "* 3 FETCH (FLAGS (\\Seen \\Flagged $Forwarded) INTERNALDATE \" 1-Jan-2024 10:00:00 "
        "+0000\" RFC822.SIZE " +
            std::to_string(crlf_size(msg)) + ")\r\n");
}

TEST_CASE("BODY[section]: header, text, MIME, nested parts") {
  std::string msg = load("fetch-nested.eml");
  const std::string inner_header =
      "From: Gina <gina@example.com>\r\nSubject: inside\r\nX-Tag: one\r\n\r\n";
  CHECK(fetch_out(msg, "BODY[1.2.HEADER]") ==
        "* 3 FETCH (BODY[1.2.HEADER] " + lit(inner_header) + ")\r\n");
  CHECK(fetch_out(msg, "BODY.PEEK[1.2.TEXT]") ==
        "* 3 FETCH (BODY[1.2.TEXT] " + lit("inner text") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[1.2]") ==
        "* 3 FETCH (BODY[1.2] " + lit(inner_header + "inner text") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[1.2.MIME]") ==
        "* 3 FETCH (BODY[1.2.MIME] " +
            lit("Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n") +
            ")\r\n");
  CHECK(fetch_out(msg, "BODY[1.1]") == "* 3 FETCH (BODY[1.1] " + lit("first") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[2]") == "* 3 FETCH (BODY[2] " + lit("AAEC/w==") + ")\r\n");
  // Part 1.2.1 is the body of the encapsulated message.
  CHECK(fetch_out(msg, "BODY[1.2.1]") == "* 3 FETCH (BODY[1.2.1] " + lit("inner text") + ")\r\n");
  // Sections that do not exist: an empty string.
  CHECK(fetch_out(msg, "BODY[4]") == "* 3 FETCH (BODY[4] \"\")\r\n");
  CHECK(fetch_out(msg, "BODY[1.1.HEADER]") == "* 3 FETCH (BODY[1.1.HEADER] \"\")\r\n");
  CHECK(fetch_out(msg, "BODY[1.3.TEXT]") == "* 3 FETCH (BODY[1.3.TEXT] \"\")\r\n");

  std::string header = msg.substr(0, msg.find("\r\n\r\n") + 4);
  CHECK(fetch_out(msg, "BODY[HEADER]") == "* 3 FETCH (BODY[HEADER] " + lit(header) + ")\r\n");
  CHECK(fetch_out(msg, "RFC822.HEADER") == "* 3 FETCH (RFC822.HEADER " + lit(header) + ")\r\n");
  CHECK(fetch_out(msg, "BODY[TEXT]") ==
        "* 3 FETCH (BODY[TEXT] " + lit(msg.substr(header.size())) + ")\r\n");
  CHECK(fetch_out(msg, "RFC822.TEXT") ==
        "* 3 FETCH (RFC822.TEXT " + lit(msg.substr(header.size())) + ")\r\n");
  CHECK(fetch_out(msg, "BODY[]") == "* 3 FETCH (BODY[] " + lit(msg) + ")\r\n");
  CHECK(fetch_out(msg, "RFC822") == "* 3 FETCH (RFC822 " + lit(msg) + ")\r\n");
}

TEST_CASE("HEADER.FIELDS and HEADER.FIELDS.NOT") {
  std::string msg = load("fetch-nested.eml");
  CHECK(fetch_out(msg, "BODY.PEEK[HEADER.FIELDS (Subject FROM x-none)]") ==
        "* 3 FETCH (BODY[HEADER.FIELDS (Subject FROM x-none)] " +
            lit("From: Erin <erin@example.org>\r\nSubject: nested parts\r\n\r\n") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[1.2.HEADER.FIELDS.NOT (From)]") ==
        "* 3 FETCH (BODY[1.2.HEADER.FIELDS.NOT (From)] " +
            lit("Subject: inside\r\nX-Tag: one\r\n\r\n") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[HEADER.FIELDS (\"X-None\")]") ==
        "* 3 FETCH (BODY[HEADER.FIELDS (X-None)] " + lit("\r\n") + ")\r\n");
  // A partial applies to the filtered header.
  CHECK(fetch_out(msg, "BODY[HEADER.FIELDS (SUBJECT)]<9.6>") ==
        "* 3 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<9> " + lit("nested") + ")\r\n");
  // LF-only storage gives the same answer.
  std::string lf;
  for (char c : msg) {
    if (c != '\r') lf += c;
  }
  CHECK(fetch_out(lf, "BODY.PEEK[HEADER.FIELDS (Subject FROM)]") ==
        fetch_out(msg, "BODY.PEEK[HEADER.FIELDS (Subject FROM)]"));
}

TEST_CASE("partial fetches") {
  std::string msg = load("fetch-nested.eml");
  CHECK(fetch_out(msg, "BODY[]<0.4>") == "* 3 FETCH (BODY[]<0> " + lit("From") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[]<6.4>") == "* 3 FETCH (BODY[]<6> " + lit("Erin") + ")\r\n");
  // Truncated at the end; past the end gives "".
  CHECK(fetch_out(msg, "BODY[1.1]<2.100>") == "* 3 FETCH (BODY[1.1]<2> " + lit("rst") + ")\r\n");
  CHECK(fetch_out(msg, "BODY[1.1]<5.10>") == "* 3 FETCH (BODY[1.1]<5> \"\")\r\n");
  CHECK(fetch_out(msg, "BODY[1.1]<0.5>") == "* 3 FETCH (BODY[1.1]<0> " + lit("first") + ")\r\n");
  // Over a line end of LF-only storage: offsets count the CRLF form.
  std::string lf = load("lf-only.eml");
  std::string crlf = to_crlf(lf);
  CHECK(fetch_out(lf, "BODY[]<11.5>") == "* 3 FETCH (BODY[]<11> " + lit("\r\nCon") + ")\r\n");
  CHECK(fetch_out(lf, "BODY[]<12.4>") == "* 3 FETCH (BODY[]<12> " + lit("\nCon") + ")\r\n");
}

TEST_CASE("LF-only storage: CRLF data and exact sizes") {
  std::string lf = load("lf-only.eml");
  std::string crlf = to_crlf(lf);
  REQUIRE(crlf.size() == crlf_size(lf));
  CHECK(crlf.size() > lf.size());
  Run r = run(lf, "(RFC822.SIZE BODY[])");
  CHECK(r.out ==
        "* 3 FETCH (RFC822.SIZE " + std::to_string(crlf.size()) + " BODY[] " + lit(crlf) + ")\r\n");
  CHECK(fetch_out(lf, "BODY[2]") == "* 3 FETCH (BODY[2] " + lit("<b>x</b>\r\n") + ")\r\n");
  CHECK(fetch_out(lf, "BODY[2.MIME]") ==
        "* 3 FETCH (BODY[2.MIME] " + lit("Content-Type: text/html\r\n\r\n") + ")\r\n");
  // Every corpus message: the LF form answers exactly like the CRLF form.
  for (const char* name : {"mixed-alternative.eml", "rfc822-attachment.eml", "fetch-nested.eml",
                           "base64-qp.eml", "digest.eml", "groups.eml"}) {
    CAPTURE(name);
    std::string c = to_crlf(load(name));
    std::string l;
    for (char ch : c) {
      if (ch != '\r') l += ch;
    }
    for (const char* a : {"BODY[]", "BODY[TEXT]", "BODY[1]", "BODY[1.MIME]", "BODY[2]",
                          "BODY[2.HEADER]", "BODYSTRUCTURE", "BINARY[1]", "BINARY.SIZE[2]"}) {
      CAPTURE(a);
      CHECK(fetch_out(l, a) == fetch_out(c, a));
    }
  }
}

TEST_CASE("BINARY: base64 and quoted-printable decoded") {
  std::string msg = load("base64-qp.eml");
  CHECK(fetch_out(msg, "BINARY[1]") == "* 3 FETCH (BINARY[1] " + lit("Hello, world!") + ")\r\n");
  CHECK(fetch_out(msg, "BINARY.SIZE[1]") == "* 3 FETCH (BINARY.SIZE[1] 13)\r\n");
  CHECK(fetch_out(msg, "BINARY.PEEK[2]") ==
        "* 3 FETCH (BINARY[2] " + lit("a=b\r\nsoftbreak") + ")\r\n");
  CHECK(fetch_out(msg, "BINARY.SIZE[2]") == "* 3 FETCH (BINARY.SIZE[2] 14)\r\n");
  CHECK(fetch_out(msg, "BINARY[1]<7.100>") == "* 3 FETCH (BINARY[1] " + lit("world!") + ")\r\n");
  CHECK(fetch_out(msg, "BINARY[1]<70.100>") == "* 3 FETCH (BINARY[1] \"\")\r\n");
  // BINARY[] is the message itself.
  CHECK(fetch_out(msg, "BINARY[]") == "* 3 FETCH (BINARY[] " + lit(msg) + ")\r\n");
  CHECK(fetch_out(msg, "BINARY.SIZE[]") ==
        "* 3 FETCH (BINARY.SIZE[] " + std::to_string(msg.size()) + ")\r\n");

  std::string nested = load("fetch-nested.eml");
  // Decoded data with NUL: a literal8.
  CHECK(fetch_out(nested, "BINARY[2]") ==
        "* 3 FETCH (BINARY[2] ~{4}\r\n" + std::string("\0\x01\x02\xff", 4) + ")\r\n");
  CHECK(fetch_out(nested, "BINARY[2]<1.3>") ==
        "* 3 FETCH (BINARY[2] " + lit("\x01\x02\xff") + ")\r\n");
  CHECK(fetch_out(nested, "BINARY.SIZE[2]") == "* 3 FETCH (BINARY.SIZE[2] 4)\r\n");
  CHECK(fetch_out(nested, "BINARY[1.1]") == "* 3 FETCH (BINARY[1.1] " + lit("first") + ")\r\n");
  CHECK(
      fetch_out(nested, "BINARY[1.2]") ==
      "* 3 FETCH (BINARY[1.2] " +
          lit("From: Gina <gina@example.com>\r\nSubject: inside\r\nX-Tag: one\r\n\r\ninner text") +
          ")\r\n");
  CHECK(fetch_out(nested, "BINARY[9]") == "* 3 FETCH (BINARY[9] \"\")\r\n");
  CHECK(fetch_out(nested, "BINARY.SIZE[9]") == "* 3 FETCH (BINARY.SIZE[9] 0)\r\n");
}

TEST_CASE("BINARY problems: unknown encoding, multipart") {
  std::string nested = load("fetch-nested.eml");
  Run r = run(nested, "(UID BINARY[3])");
  CHECK(r.problem == Problem::kUnknownCte);
  CHECK(r.out.empty());
  r = run(nested, "(BINARY.SIZE[3])");
  CHECK(r.problem == Problem::kUnknownCte);
  CHECK(r.out.empty());
  r = run(nested, "(FLAGS BINARY.PEEK[1])");
  CHECK(r.problem == Problem::kBinaryMultipart);
  CHECK(r.out.empty());
  // BODY of that part is fine.
  CHECK(fetch_out(nested, "BODY[3]") == "* 3 FETCH (BODY[3] " + lit("begin 644 x") + ")\r\n");
}

TEST_CASE("NUL in BODY data is sent as 0x80") {
  std::string junk = load("junk-bytes.eml");
  std::string body = fetch_out(junk, "BODY[]");
  CHECK(body.find('\0') == std::string::npos);
  std::string expect = junk;
  for (char& c : expect) {
    if (c == '\0') c = '\x80';
  }
  CHECK(body == "* 3 FETCH (BODY[] " + lit(expect) + ")\r\n");
  // BINARY[] keeps it and says literal8.
  CHECK(fetch_out(junk, "BINARY[]") ==
        "* 3 FETCH (BINARY[] ~{" + std::to_string(junk.size()) + "}\r\n" + junk + ")\r\n");
}

TEST_CASE("malformed messages still answer") {
  for (const char* name :
       {"junk-bytes.eml", "no-headers.eml", "empty-body.eml", "missing-end-boundary.eml",
        "boundary-in-header.eml", "deep-nesting.eml", "eight-bit-headers.eml"}) {
    CAPTURE(name);
    std::string msg = load(name);
    Run r = run(msg, "(ENVELOPE BODYSTRUCTURE BODY[1] BODY[1.2.3.MIME] BODY[TEXT] BINARY.SIZE[])");
    CHECK(r.problem == Problem::kNone);
    CHECK_FALSE(r.failed);
    CHECK(r.out.rfind("* 3 FETCH (ENVELOPE (", 0) == 0);
    CHECK(r.out.size() >= 3);
    CHECK(r.out.substr(r.out.size() - 3) == ")\r\n");
  }
  std::string empty;
  CHECK(fetch_out(empty, "(BODY[] BODY[TEXT] BODY[HEADER])") ==
        "* 3 FETCH (BODY[] \"\" BODY[TEXT] \"\" BODY[HEADER] \"\")\r\n");
}

TEST_CASE("output is the same whatever the step budget") {
  for (const char* name : {"mixed-alternative.eml", "fetch-nested.eml", "lf-only.eml"}) {
    std::string msg = load(name);
    const std::string a = "(UID BODYSTRUCTURE BODY[] BODY[1]<3.20> BODY.PEEK[HEADER.FIELDS (To)])";
    std::string whole = run(msg, a).out;
    for (size_t budget : {1, 2, 7, 100}) {
      CAPTURE(budget);
      Run r = run(msg, a, {}, budget);
      CHECK(r.out == whole);
      CHECK(r.calls > 1);
    }
  }
}

TEST_CASE("a 1 MiB body streams in pieces and matches one-piece output") {
  // LF-only storage (needs conversion) and CRLF storage (read directly).
  for (bool lf_only : {true, false}) {
    CAPTURE(lf_only);
    const char* eol = lf_only ? "\n" : "\r\n";
    std::string msg = std::string("Subject: big") + eol +
                      "Content-Type: multipart/mixed; boundary=B" + eol + eol + "--B" + eol +
                      "Content-Type: text/plain" + eol + eol;
    std::string text;
    for (int i = 0; text.size() < (1u << 20); ++i) {
      text += "line " + std::to_string(i) + " of the big body, with some filler text" + eol;
    }
    text += "end";
    msg += text + eol + "--B" + eol + "Content-Transfer-Encoding: base64" + eol + eol;
    std::string payload;
    for (int i = 0; i < 300000; ++i) payload += static_cast<char>((i * 7 + 1) % 251 + 1);
    static const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    for (size_t i = 0; i < payload.size(); i += 3) {
      uint32_t v = static_cast<uint8_t>(payload[i]) << 16;
      if (i + 1 < payload.size()) v |= static_cast<uint8_t>(payload[i + 1]) << 8;
      if (i + 2 < payload.size()) v |= static_cast<uint8_t>(payload[i + 2]);
      b64 += kAlphabet[(v >> 18) & 63];
      b64 += kAlphabet[(v >> 12) & 63];
      b64 += i + 1 < payload.size() ? kAlphabet[(v >> 6) & 63] : '=';
      b64 += i + 2 < payload.size() ? kAlphabet[v & 63] : '=';
      if ((i / 3) % 19 == 18) b64 += eol;
    }
    msg += b64 + eol + "--B--" + eol;
    std::string crlf = to_crlf(msg);

    const std::string a = "(BODY[] BODY[1]<1000.600000> BINARY.PEEK[2] BINARY.SIZE[2] BODY[TEXT])";
    Run pieces = run(msg, a);
    Run one = run(msg, a, {}, size_t{1} << 30);
    CHECK(pieces.out == one.out);
    CHECK(pieces.calls > 8);
    CHECK(one.calls == 1);
    CHECK_FALSE(pieces.failed);
    // Reads are bounded chunks, never the whole message at once.
    CHECK(pieces.reads > crlf.size() / fetch::kReadChunk);

    std::string text_crlf = to_crlf(text);
    std::string expect = "* 3 FETCH (BODY[] " + lit(crlf) + " BODY[1]<1000> " +
                         lit(text_crlf.substr(1000, 600000)) + " BINARY[2] " + lit(payload) +
                         " BINARY.SIZE[2] " + std::to_string(payload.size()) + " BODY[TEXT] " +
                         lit(crlf.substr(crlf.find("\r\n\r\n") + 4)) + ")\r\n";
    CHECK(pieces.out.size() == expect.size());
    CHECK(pieces.out == expect);
  }
}

TEST_CASE("unreadable messages give a well-formed answer") {
  std::string msg = load("fetch-nested.eml");
  std::vector<proto::FetchAtt> a = atts("(UID FLAGS BODY[] BODYSTRUCTURE BINARY.SIZE[2])");
  store::MessageMeta m = meta_for(msg);
  Options o;
  o.seq = 1;
  {
    FetchWriter w(m, a, o, nullptr);
    std::string out;
    while (w.write(out)) {
    }
    CHECK(w.read_failed());
    CHECK(out ==
          "* 1 FETCH (UID 42 FLAGS (\\Seen \\Flagged $Forwarded) BODY[] \"\" BODYSTRUCTURE "
          "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) "
          "BINARY.SIZE[2] 0)\r\n");
  }
  {
    // Fails midway: the literal is completed with padding.
    FailingReader reader(msg, 300);
    std::vector<proto::FetchAtt> body = atts("(BODY.PEEK[])");
    FetchWriter w(m, body, o, &reader);
    std::string out;
    while (w.write(out, 64)) {
    }
    CHECK(w.read_failed());
    CHECK(out.size() == std::string("* 1 FETCH (BODY[] {690}\r\n)\r\n").size() + msg.size());
    CHECK(out.substr(0, 25 + 300) == "* 1 FETCH (BODY[] {690}\r\n" + msg.substr(0, 300));
  }
  {
    // Flags alone never touch the message.
    std::vector<proto::FetchAtt> flags = atts("(FLAGS UID)");
    FetchWriter w(m, flags, o, nullptr);
    std::string out;
    CHECK_FALSE(w.write(out));
    CHECK_FALSE(w.read_failed());
  }
}

TEST_CASE("attribute classes") {
  auto first = [](const std::string& t) { return atts(t).at(0); };
  CHECK(fetch::sets_seen(first("BODY[]")));
  CHECK_FALSE(fetch::sets_seen(first("BODY.PEEK[]")));
  CHECK(fetch::sets_seen(first("BINARY[1]")));
  CHECK_FALSE(fetch::sets_seen(first("BINARY.PEEK[1]")));
  CHECK_FALSE(fetch::sets_seen(first("BINARY.SIZE[1]")));
  CHECK(fetch::sets_seen(first("RFC822")));
  CHECK(fetch::sets_seen(first("RFC822.TEXT")));
  CHECK_FALSE(fetch::sets_seen(first("RFC822.HEADER")));
  CHECK_FALSE(fetch::needs_message(first("RFC822.SIZE")));
  CHECK(fetch::needs_message(first("BODY[]")));
  CHECK_FALSE(fetch::needs_structure(first("BODY[]")));
  CHECK(fetch::needs_structure(first("BODY[HEADER]")));
  CHECK_FALSE(fetch::needs_structure(first("BINARY[]")));
  CHECK(fetch::needs_structure(first("BINARY[1]")));
}
