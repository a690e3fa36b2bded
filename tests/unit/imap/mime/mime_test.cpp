// Tests for imap/mime: structure parsing at every input split, envelopes,
// BODY/BODYSTRUCTURE output, section resolution and decoders. Expected sizes
// and line counts are worked out by hand from the corpus in tests/data/mime.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "imap/mime/mime.h"

using namespace imap::mime;

namespace {

const size_t kSplits[] = {0, 100, 10, 5, 2, 1};  // 0 = whole input

std::string data_path(const std::string& name) {
  // __FILE__ is relative to the build root under meson; try it from the
  // working directory, the executable's directory and their ancestors.
  namespace fs = std::filesystem;
  const fs::path rel = fs::path(__FILE__).parent_path() / "../../../data/mime" / name;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("ROOST_SOURCE_ROOT")) {
    candidates.push_back(fs::path(env) / "tests/data/mime" / name);
  }
  candidates.push_back(rel);
  std::error_code ec;
  std::vector<fs::path> bases = {fs::current_path(ec), fs::read_symlink("/proc/self/exe", ec)};
  for (fs::path base : bases) {
    for (int up = 0; up < 8 && !base.empty(); ++up) {
      candidates.push_back(base / rel);
      candidates.push_back(base / "tests/data/mime" / name);
      if (base == base.parent_path()) break;
      base = base.parent_path();
    }
  }
  for (const fs::path& c : candidates) {
    if (fs::exists(c, ec)) return c.string();
  }
  return rel.string();
}

std::string load(const std::string& name) {
  std::ifstream f(data_path(name), std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "missing test data " << name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Part parse_split(std::string_view msg, size_t chunk, Limits limits = {}) {
  StructureParser p(limits);
  if (chunk == 0) {
    p.feed(msg);
  } else {
    for (size_t i = 0; i < msg.size(); i += chunk) p.feed(msg.substr(i, chunk));
  }
  return p.finish();
}

// Everything the parser records, for comparing trees.
void dump(std::string& out, const Part& p) {
  out += std::to_string(int(p.kind)) + p.type + "/" + p.subtype + "[";
  out += std::to_string(p.header_raw_offset) + "," + std::to_string(p.header_raw_length) + "," +
         std::to_string(p.header_crlf_offset) + "," + std::to_string(p.header_size) + ";" +
         std::to_string(p.body_raw_offset) + "," + std::to_string(p.body_raw_length) + "," +
         std::to_string(p.body_crlf_offset) + "," + std::to_string(p.body_size) + "," +
         std::to_string(p.body_lines) + (p.header_truncated ? "T" : "") + "]";
  write_bodystructure(out, p, true);
  if (p.envelope) write_envelope(out, *p.envelope);
  out += "{";
  for (const Part& c : p.children) dump(out, c);
  out += "}";
}

std::string dump(const Part& p) {
  std::string s;
  dump(s, p);
  return s;
}

// Parses msg at every split; checks all splits agree; runs fn on each tree.
void for_each_split(std::string_view msg, const std::function<void(const Part&)>& fn,
                    Limits limits = {}) {
  std::string first;
  for (size_t chunk : kSplits) {
    CAPTURE(chunk);
    Part p = parse_split(msg, chunk, limits);
    std::string d = dump(p);
    if (chunk == 0) {
      first = d;
    } else {
      CHECK(d == first);
    }
    fn(p);
  }
}

std::string bodystructure(const Part& p) {
  std::string s;
  write_bodystructure(s, p, true);
  return s;
}

std::string body(const Part& p) {
  std::string s;
  write_body(s, p);
  return s;
}

std::string envelope(const Envelope& e) {
  std::string s;
  write_envelope(s, e);
  return s;
}

std::string section_bytes(std::string_view msg, const Part& root, SectionSpec spec) {
  auto r = resolve_section(root, spec);
  REQUIRE(r.has_value());
  std::string bytes(msg.substr(r->raw_offset, r->raw_length));
  if (r->filter) return filter_header_fields(bytes, spec.fields, r->filter_not);
  return bytes;
}

void check_header(const Part& p, uint64_t off, uint64_t len) {
  CHECK(p.header_raw_offset == off);
  CHECK(p.header_raw_length == len);
  CHECK(p.header_crlf_offset == off);
  CHECK(p.header_size == len);
}

void check_body(const Part& p, uint64_t off, uint64_t len, uint64_t lines) {
  CHECK(p.body_raw_offset == off);
  CHECK(p.body_raw_length == len);
  CHECK(p.body_crlf_offset == off);
  CHECK(p.body_size == len);
  CHECK(p.body_lines == lines);
}

std::string decode_stream(TransferEncoding enc, std::string_view in, size_t chunk) {
  TransferDecoder d(enc);
  std::string out;
  if (chunk == 0) {
    d.feed(in, out);
  } else {
    for (size_t i = 0; i < in.size(); i += chunk) d.feed(in.substr(i, chunk), out);
  }
  d.finish(out);
  return out;
}

}  // namespace

TEST_CASE("mime: multipart/mixed with nested alternative, base64 and QP parts") {
  std::string msg = load("mixed-alternative.eml");
  REQUIRE(msg.size() == 799);
  for_each_split(msg, [&](const Part& root) {
    REQUIRE(root.kind == PartKind::kMultipart);
    CHECK(root.size() == 799);
    check_header(root, 0, 215);
    check_body(root, 215, 584, 32);
    REQUIRE(root.children.size() == 3);
    const Part& alt = root.children[0];
    CHECK(alt.kind == PartKind::kMultipart);
    CHECK(alt.subtype == "alternative");
    check_header(alt, 234, 55);
    check_body(alt, 289, 139, 10);
    REQUIRE(alt.children.size() == 2);
    // "Hello plain" then the line end that belongs to the delimiter.
    check_header(alt.children[0], 298, 43);
    check_body(alt.children[0], 341, 11, 0);
    check_header(alt.children[1], 363, 27);
    check_body(alt.children[1], 390, 27, 2);
    const Part& png = root.children[1];
    check_header(png, 439, 178);
    check_body(png, 617, 12, 0);
    CHECK(png.type == "image");
    CHECK(png.id == "<dot@x>");
    CHECK(png.description == "a dot");
    CHECK(png.disposition == "attachment");
    const Part& qp = root.children[2];
    check_header(qp, 640, 119);
    check_body(qp, 759, 17, 1);
    CHECK(qp.language == std::vector<std::string>{"en", "fr"});
    REQUIRE(root.envelope);
    CHECK(root.envelope->subject == "nested");
    CHECK(root.envelope->message_id == "<m1@example.org>");

    CHECK(bodystructure(root) ==
          "(((\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL)"
          "(\"TEXT\" \"HTML\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 27 2 NIL NIL NIL NIL)"
          " \"ALTERNATIVE\" (\"boundary\" \"inner\") NIL NIL NIL)"
          "(\"IMAGE\" \"PNG\" (\"name\" \"dot.png\") \"<dot@x>\" \"a dot\" \"BASE64\" 12 NIL"
          " (\"attachment\" (\"filename\" \"dot.png\")) NIL NIL)"
          "(\"TEXT\" \"PLAIN\" (\"charset\" \"iso-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 17 1 NIL"
          " NIL (\"en\" \"fr\") NIL) \"MIXED\" (\"boundary\" \"outer\") NIL NIL NIL)");
    CHECK(body(root) ==
          "(((\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 11 0)"
          "(\"TEXT\" \"HTML\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 27 2) \"ALTERNATIVE\")"
          "(\"IMAGE\" \"PNG\" (\"name\" \"dot.png\") \"<dot@x>\" \"a dot\" \"BASE64\" 12)"
          "(\"TEXT\" \"PLAIN\" (\"charset\" \"iso-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 17 1)"
          " \"MIXED\")");

    CHECK(section_bytes(msg, root, {{1, 2}, SectionText::kNone, {}}) ==
          "<p>Hello</p>\r\nsecond line\r\n");
    CHECK(section_bytes(msg, root, {{1, 1}, SectionText::kMime, {}}) ==
          "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    CHECK(section_bytes(msg, root, {{2}, SectionText::kNone, {}}) == "iVBORw0KGgo=");
    CHECK(section_bytes(msg, root, {{}, SectionText::kNone, {}}) == msg);
    CHECK(section_bytes(msg, root, {{}, SectionText::kHeader, {}}) == msg.substr(0, 215));
    CHECK(section_bytes(msg, root, {{}, SectionText::kText, {}}) == msg.substr(215));
    CHECK(section_bytes(msg, root, {{}, SectionText::kHeaderFields, {"subject", "TO"}}) ==
          "To: Bob <bob@example.net>\r\nSubject: nested\r\n\r\n");
    CHECK(!resolve_section(root, {{4}, SectionText::kNone, {}}));
    CHECK(!resolve_section(root, {{0}, SectionText::kNone, {}}));
    CHECK(!resolve_section(root, {{1, 3}, SectionText::kNone, {}}));
    CHECK(!resolve_section(root, {{2}, SectionText::kHeader, {}}));
    CHECK(!resolve_section(root, {{}, SectionText::kMime, {}}));
    CHECK(!resolve_section(root, {{2, 2}, SectionText::kNone, {}}));

    std::string qp_body = section_bytes(msg, root, {{3}, SectionText::kNone, {}});
    CHECK(decode_transfer(transfer_encoding(qp.encoding), qp_body) == "caf\xE9 au lait");
    std::string png_body = section_bytes(msg, root, {{2}, SectionText::kNone, {}});
    CHECK(decode_transfer(transfer_encoding(png.encoding), png_body) ==
          std::string("\x89PNG\r\n\x1a\n", 8));
  });
}

TEST_CASE("mime: message/rfc822 attachment") {
  std::string msg = load("rfc822-attachment.eml");
  REQUIRE(msg.size() == 289);
  for_each_split(msg, [&](const Part& root) {
    REQUIRE(root.children.size() == 2);
    const Part& first = root.children[0];
    check_header(first, 99, 2);  // only the blank line: no header fields
    check_body(first, 101, 12, 0);
    const Part& m = root.children[1];
    REQUIRE(m.kind == PartKind::kMessage);
    check_header(m, 121, 32);
    check_body(m, 153, 126, 6);
    REQUIRE(m.children.size() == 1);
    const Part& inner = m.children[0];
    check_header(inner, 153, 106);
    check_body(inner, 259, 20, 1);
    REQUIRE(inner.envelope);
    CHECK(inner.envelope->subject == "inner");

    CHECK(bodystructure(root) ==
          "((\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0 NIL NIL NIL NIL)"
          "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 126 (NIL \"inner\""
          " ((\"Dave\" NIL \"dave\" \"example.com\")) ((\"Dave\" NIL \"dave\" \"example.com\"))"
          " ((\"Dave\" NIL \"dave\" \"example.com\")) ((\"Carol\" NIL \"carol\" \"example.org\"))"
          " NIL NIL NIL NIL)"
          " (\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 20 1 NIL NIL NIL NIL)"
          " 6 NIL NIL NIL NIL) \"MIXED\" (\"boundary\" \"b1\") NIL NIL NIL)");

    std::string inner_msg = msg.substr(153, 126);
    CHECK(section_bytes(msg, root, {{2}, SectionText::kNone, {}}) == inner_msg);
    CHECK(section_bytes(msg, root, {{2}, SectionText::kHeader, {}}) == inner_msg.substr(0, 106));
    CHECK(section_bytes(msg, root, {{2}, SectionText::kText, {}}) == "inner body\r\nline two");
    CHECK(section_bytes(msg, root, {{2, 1}, SectionText::kNone, {}}) == "inner body\r\nline two");
    CHECK(section_bytes(msg, root, {{2}, SectionText::kMime, {}}) ==
          "Content-Type: message/rfc822\r\n\r\n");
    CHECK(section_bytes(msg, root, {{2}, SectionText::kHeaderFieldsNot, {"from", "to"}}) ==
          "Subject: inner\r\nContent-Type: text/plain\r\n\r\n");
    CHECK(!resolve_section(root, {{1}, SectionText::kHeader, {}}));
    CHECK(!resolve_section(root, {{2, 2}, SectionText::kNone, {}}));
  });
}

TEST_CASE("mime: no headers, headers only, empty body") {
  std::string msg = load("no-headers.eml");
  for_each_split(msg, [&](const Part& root) {
    check_header(root, 0, 2);
    check_body(root, 2, 29, 2);
    CHECK(root.size() == 31);
    CHECK(body(root) == "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 29 2)");
    CHECK(envelope(*root.envelope) == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  });
  msg = load("headers-only.eml");
  REQUIRE(msg.size() == 34);
  for_each_split(msg, [&](const Part& root) {
    check_header(root, 0, 34);
    check_body(root, 34, 0, 0);
    CHECK(root.envelope->subject == "nothing else");
    REQUIRE(root.envelope->from.size() == 1);
    CHECK(root.envelope->from[0].host == "b.c");
  });
  msg = load("empty-body.eml");
  for_each_split(msg, [&](const Part& root) {
    check_header(root, 0, 18);
    check_body(root, 18, 0, 0);
  });
  for_each_split("", [&](const Part& root) {
    CHECK(root.size() == 0);
    CHECK(root.kind == PartKind::kLeaf);
    CHECK(body(root) == "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
  });
}

TEST_CASE("mime: missing final boundary") {
  std::string msg = load("missing-end-boundary.eml");
  REQUIRE(msg.size() == 137);
  for_each_split(msg, [&](const Part& root) {
    CHECK(root.kind == PartKind::kMultipart);
    REQUIRE(root.children.size() == 2);
    check_body(root.children[0], 102, 5, 0);  // "first"
    check_header(root.children[1], 115, 2);
    check_body(root.children[1], 117, 20, 1);  // "second\r\nunterminated" up to EOF
    CHECK(root.body_raw_offset + root.body_raw_length == msg.size());
  });
}

TEST_CASE("mime: LF-only storage reports CRLF sizes and raw offsets") {
  std::string msg = load("lf-only.eml");
  REQUIRE(msg.size() == 117);
  REQUIRE(msg.find('\r') == std::string::npos);
  for_each_split(msg, [&](const Part& root) {
    CHECK(root.header_raw_length == 63);
    CHECK(root.header_size == 66);
    CHECK(root.body_raw_offset == 63);
    CHECK(root.body_crlf_offset == 66);
    CHECK(root.body_raw_length == 54);
    CHECK(root.body_size == 63);
    CHECK(root.size() == 129);
    REQUIRE(root.children.size() == 2);
    const Part& a = root.children[0];
    // "--q\n" at raw 63 (CRLF 66), blank header line at raw 67 (CRLF 71).
    CHECK(a.header_raw_offset == 67);
    CHECK(a.header_crlf_offset == 71);
    CHECK(a.header_raw_length == 1);
    CHECK(a.header_size == 2);
    CHECK(a.body_raw_offset == 68);
    CHECK(a.body_crlf_offset == 73);
    CHECK(a.body_raw_length == 3);
    CHECK(a.body_size == 3);
    const Part& b = root.children[1];
    CHECK(b.header_raw_length == 25);
    CHECK(b.header_size == 27);
    CHECK(b.body_raw_length == 9);
    CHECK(b.body_size == 10);
    CHECK(b.body_lines == 1);
    CHECK(msg.substr(b.body_raw_offset, b.body_raw_length) == "<b>x</b>\n");
    CHECK(section_bytes(msg, root, {{2}, SectionText::kMime, {}}) == "Content-Type: text/html\n\n");
    CHECK(section_bytes(msg, root, {{}, SectionText::kHeaderFields, {"subject"}}) ==
          "Subject: lf\r\n\r\n");
  });
}

TEST_CASE("mime: 8-bit headers and junk bytes") {
  std::string msg = load("eight-bit-headers.eml");
  for_each_split(msg, [&](const Part& root) {
    const Envelope& e = *root.envelope;
    CHECK(e.subject ==
          "Gr\xC3\xBC\xC3\x9F"
          "e aus K\xC3\xB6ln");
    REQUIRE(e.from.size() == 1);
    CHECK(e.from[0].name == "=?iso-8859-1?q?Andr=E9?=");
    CHECK(decode_header_value(*e.from[0].name) == "Andr\xC3\xA9");
    std::string out = envelope(e);
    // 8-bit strings go out as literals.
    CHECK(out.find("{17}\r\nGr\xC3\xBC\xC3\x9F"
                   "e aus K\xC3\xB6ln") != std::string::npos);
    CHECK(out.find("({7}\r\nJ\xC3\xBCrgen NIL \"j\" \"example.org\")") != std::string::npos);
  });
  msg = load("junk-bytes.eml");
  for_each_split(msg, [&](const Part& root) {
    CHECK(root.size() == msg.size());
    CHECK(root.envelope->subject == "caf\xE9");
    CHECK(decode_header_value(*root.envelope->subject) == "caf\xC3\xA9");
    CHECK(root.body_lines == 1);
  });
}

TEST_CASE("mime: RFC 2231 parameters") {
  std::string msg = load("rfc2231-filename.eml");
  for_each_split(msg, [&](const Part& root) {
    REQUIRE(root.children.size() == 2);
    const Part& pdf = root.children[0];
    REQUIRE(pdf.param("NAME") != nullptr);
    CHECK(pdf.param("name")->value == "R\xC3\xA9sum\xC3\xA9.pdf");
    CHECK(pdf.param("name")->charset.empty());
    REQUIRE(pdf.disposition_params.size() == 1);
    CHECK(pdf.disposition_params[0].name == "filename");
    CHECK(pdf.disposition_params[0].value == "caf\xC3\xA9.pdf");
    CHECK(pdf.disposition_params[0].language == "fr");
    CHECK(root.children[1].param("title")->value == "long title");
    std::string bs = bodystructure(root);
    CHECK(bs.find("(\"name*\" \"utf-8''R%C3%A9sum%C3%A9.pdf\")") != std::string::npos);
    CHECK(bs.find("(\"attachment\" (\"filename*\" \"utf-8'fr'caf%C3%A9.pdf\"))") !=
          std::string::npos);
    CHECK(bs.find("(\"charset\" \"US-ASCII\" \"title\" \"long title\")") != std::string::npos);
  });
}

TEST_CASE("mime: address lists with groups, routes and comments") {
  std::string msg = load("groups.eml");
  for_each_split(msg, [&](const Part& root) {
    const Envelope& e = *root.envelope;
    CHECK(envelope(e) ==
          "(NIL \"groups\" ((\"Doe, John\" NIL \"john\" \"example.org\"))"
          " ((\"Doe, John\" NIL \"john\" \"example.org\"))"
          " ((\"Doe, John\" NIL \"john\" \"example.org\"))"
          " ((NIL NIL \"Friends\" NIL)(NIL NIL \"ann\" \"example.org\")"
          "(\"Bob B.\" NIL \"bob\" \"example.org\")(NIL NIL NIL NIL)"
          "(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
          " ((NIL \"@relay.example\" \"cc\" \"example.net\")"
          "(\"Plain Name\" NIL \"plain\" \"example.com\"))"
          " ((NIL NIL \"\\\"quoted local\\\"\" \"example.org\")"
          "(NIL NIL \"nodomain\" \"MISSING_DOMAIN\")) NIL NIL)");
  });
  auto list = parse_address_list("\"Smith, \\\"J\\\"\" <j@x.org>, Mary <m@y.org>");
  REQUIRE(list.size() == 2);
  CHECK(list[0].name == "Smith, \"J\"");
  CHECK(list[1].mailbox == "m");
  list = parse_address_list("John Q. Public <jqp@[10.0.0.1]>");
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "John Q. Public");
  CHECK(list[0].host == "[10.0.0.1]");
  list = parse_address_list("<>");
  CHECK(list.empty());
  list = parse_address_list("g: ;");
  REQUIRE(list.size() == 2);
  CHECK(!list[1].mailbox);
  list = parse_address_list("unterminated: a@b");
  REQUIRE(list.size() == 3);  // start, member, implied end
  CHECK(!list[2].mailbox);
  list = parse_address_list(",,, @@ <<< >>> ;;; :::");
  for (const Address& a : list) CHECK((a.mailbox || !a.host));
}

TEST_CASE("mime: deep nesting is capped") {
  std::string msg = load("deep-nesting.eml");
  for_each_split(msg, [&](const Part& root) {
    CHECK(root.size() == msg.size() + std::count(msg.begin(), msg.end(), '\n') -
                             std::count(msg.begin(), msg.end(), '\r'));
    const Part* p = &root;
    int depth = 0;
    while (p->kind == PartKind::kMultipart) {
      REQUIRE(p->children.size() == 1);
      p = &p->children[0];
      ++depth;
    }
    CHECK(depth == 100);
    CHECK(p->type == "text");
    std::string bs = bodystructure(root);
    CHECK(bs.size() > 100);
  });
  for_each_split(
      msg,
      [&](const Part& root) {
        const Part* p = &root;
        int depth = 0;
        while (p->kind == PartKind::kMultipart) {
          p = &p->children[0];
          ++depth;
        }
        CHECK(depth == 5);
        CHECK(p->body_lines > 200);  // everything inside counts as its text
      },
      Limits{5, 256 * 1024, 10000});
}

TEST_CASE("mime: base64 and quoted-printable parts decode") {
  std::string msg = load("base64-qp.eml");
  for_each_split(msg, [&](const Part& root) {
    REQUIRE(root.children.size() == 2);
    const Part& b = root.children[0];
    CHECK(b.type == "text");
    CHECK(transfer_encoding(b.encoding) == TransferEncoding::kBase64);
    std::string raw = msg.substr(b.body_raw_offset, b.body_raw_length);
    CHECK(raw == "SGVsbG8s\r\nIHdvcmxk\r\nIQ==");
    CHECK(b.body_lines == 2);
    const Part& q = root.children[1];
    CHECK(transfer_encoding(q.encoding) == TransferEncoding::kQuotedPrintable);
    std::string qraw = msg.substr(q.body_raw_offset, q.body_raw_length);
    CHECK(qraw == "a=3Db  \r\nsoft=\r\nbreak=");
    for (size_t chunk : kSplits) {
      CAPTURE(chunk);
      CHECK(decode_stream(TransferEncoding::kBase64, raw, chunk) == "Hello, world!");
      CHECK(decode_stream(TransferEncoding::kQuotedPrintable, qraw, chunk) == "a=b\r\nsoftbreak");
    }
    CHECK(bodystructure(q) ==
          "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL"
          " \"QUOTED-PRINTABLE\" 22 2 NIL NIL NIL NIL)");
  });
}

TEST_CASE("mime: multipart/digest children default to message/rfc822") {
  std::string msg = load("digest.eml");
  for_each_split(msg, [&](const Part& root) {
    REQUIRE(root.children.size() == 2);
    const Part& m = root.children[0];
    CHECK(m.kind == PartKind::kMessage);
    CHECK(m.type == "message");
    REQUIRE(m.children.size() == 1);
    CHECK(m.children[0].envelope->subject == "one");
    CHECK(m.body_size == 17);  // "Subject: one\r\n\r\n1"
    CHECK(m.body_lines == 2);
    CHECK(root.children[1].kind == PartKind::kLeaf);
    CHECK(root.children[1].type == "text");
    CHECK(section_bytes(msg, root, {{1, 1}, SectionText::kNone, {}}) == "1");
  });
}

TEST_CASE("mime: a delimiter inside a part header ends the part") {
  std::string msg = load("boundary-in-header.eml");
  for_each_split(msg, [&](const Part& root) {
    REQUIRE(root.children.size() == 2);
    const Part& a = root.children[0];
    CHECK(a.header_raw_length == 24);  // the line end before "--h" is the delimiter's
    CHECK(a.body_raw_length == 0);
    CHECK(a.type == "text");
    CHECK(root.children[1].subtype == "html");
    CHECK(root.children[1].body_size == 2);
  });
}

TEST_CASE("mime: limits on parts and header size") {
  std::string msg = load("mixed-alternative.eml");
  for_each_split(
      msg,
      [&](const Part& root) {
        // Root, the alternative and its first child; later delimiters are text.
        REQUIRE(root.children.size() == 1);
        REQUIRE(root.children[0].children.size() == 1);
        CHECK(root.size() == 799);
      },
      Limits{100, 256 * 1024, 3});
  for_each_split(
      msg,
      [&](const Part& root) {
        CHECK(root.header_truncated);
        CHECK(root.header_size == 215);
        CHECK(root.kind == PartKind::kLeaf);  // Content-Type was past the cap
        CHECK(root.envelope->subject == "nested");
      },
      Limits{100, 100, 10000});
}

TEST_CASE("mime: malformed input never breaks the tree") {
  const char* cases[] = {
      "Content-Type: multipart/mixed; boundary=\n\n--\n--\n",
      "Content-Type: multipart/mixed\n\nno boundary at all\n",
      "Content-Type: multipart/mixed; boundary=a\n\n--a\n",
      "Content-Type: multipart/mixed; boundary=a\n\n--a--\n--a\n\nafter close\n",
      "Content-Type: message/rfc822\n",
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nabc\n",
      "Content-Type: /\n\n",
      "Content-Type: text/plain; charset*0*=x; ;;; =; a=\"unterminated\n\n",
      "\r\r\n\r\n\n\n",
      "Content-Type: multipart/mixed; boundary=a\n\n--a\r\nContent-Type: multipart/mixed; "
      "boundary=b\r\n\r\n--b\r\n\r\nx\r\n--a--\r\ntrailer",
  };
  for (const char* c : cases) {
    std::string msg = c;
    CAPTURE(msg);
    for_each_split(msg, [&](const Part& root) {
      CHECK(root.raw_length() == msg.size());
      std::function<void(const Part&)> walk = [&](const Part& p) {
        CHECK(p.header_raw_offset + p.header_raw_length == p.body_raw_offset);
        CHECK(p.body_raw_offset + p.body_raw_length <= msg.size());
        if (p.kind == PartKind::kMultipart) CHECK(!p.children.empty());
        if (p.kind == PartKind::kMessage) CHECK(p.children.size() == 1);
        for (const Part& ch : p.children) {
          CHECK(ch.header_raw_offset >= p.body_raw_offset);
          CHECK(ch.body_raw_offset + ch.body_raw_length <= p.body_raw_offset + p.body_raw_length);
          walk(ch);
        }
      };
      walk(root);
      std::string bs = bodystructure(root);
      CHECK(!bs.empty());
    });
  }
  // An encoded message/rfc822 cannot be looked into.
  Part p = parse_structure(cases[5]);
  CHECK(p.type == "application");
  CHECK(p.kind == PartKind::kLeaf);
}

TEST_CASE("mime: header field filtering") {
  std::string h =
      "Subject: a\r\n folded\r\nX-Other: b\r\nsubject : second\r\nTo: c\r\n\r\nBody: no\r\n";
  CHECK(filter_header_fields(h, {"SUBJECT"}, false) ==
        "Subject: a\r\n folded\r\nsubject : second\r\n\r\n");
  CHECK(filter_header_fields(h, {"subject"}, true) == "X-Other: b\r\nTo: c\r\n\r\n");
  CHECK(filter_header_fields(h, {"nothing"}, false) == "\r\n");
  CHECK(filter_header_fields("A: 1\nB: 2\n", {"b"}, false) == "B: 2\r\n\r\n");
  auto v = header_value(h, "SUBJECT");
  REQUIRE(v);
  CHECK(*v == "a folded");
}

TEST_CASE("mime: RFC 2047 decoding") {
  CHECK(decode_header_value("=?utf-8?B?w6k=?=") == "\xC3\xA9");
  CHECK(decode_header_value("=?ISO-8859-1?Q?a_b=E9?=") == "a b\xC3\xA9");
  // Blanks between adjacent encoded-words vanish; others stay.
  CHECK(decode_header_value("=?utf-8?q?a?= \r\n =?utf-8?q?b?= c") == "ab c");
  CHECK(decode_header_value("x =?utf-8?q?a?=") == "x a");
  // A character split over two words of one charset.
  CHECK(decode_header_value("=?utf-8?B?w6?= =?utf-8?Q?=A9?=") == "\xC3\xA9");
  CHECK(decode_header_value("=?utf-8*en?q?hi?=") == "hi");
  CHECK(decode_header_value("=?unknown-x?q?hi?=") == "=?unknown-x?q?hi?=");
  CHECK(decode_header_value("=?utf-8?x?hi?=") == "=?utf-8?x?hi?=");
  CHECK(decode_header_value("=?utf-8?q?broken") == "=?utf-8?q?broken");
  CHECK(decode_header_value("plain \xE9") == "plain \xC3\xA9");
  CHECK(decode_header_value("ok \xC3\xA9") == "ok \xC3\xA9");
  // Other charsets go through iconv.
  CHECK(decode_header_value("=?koi8-r?b?8NLJ18XU?=") ==
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2"
        "\xD0\xB5\xD1\x82");
  CHECK(decode_header_value("=?windows-1252?q?=80?=") == "\xE2\x82\xAC");
  std::string out;
  CHECK(charset_to_utf8("UTF-8", "a\xFF", out));
  CHECK(out == "a\xEF\xBF\xBD");
  out.clear();
  CHECK(!charset_to_utf8("no such charset", "a", out));
}

TEST_CASE("mime: transfer decoders at every split") {
  struct Case {
    TransferEncoding enc;
    std::string in;
    std::string out;
    bool errors;
  };
  std::vector<Case> cases = {
      {TransferEncoding::kBase64, "SGVs\r\nbG8=", "Hello", false},
      {TransferEncoding::kBase64, "SGVsbG8", "Hello", false},
      {TransferEncoding::kBase64, "SG!Vs", "Hel", true},
      {TransferEncoding::kBase64, "QQ==QUI=", "AAB", false},
      {TransferEncoding::kQuotedPrintable, "a=\r\nb=20c\r\nd \t\r\ne", "ab c\r\nd\r\ne", false},
      {TransferEncoding::kQuotedPrintable, "x=ZZy=4", "x=ZZy=4", true},
      {TransferEncoding::kQuotedPrintable, "lf=\nonly\n", "lfonly\r\n", false},
      {TransferEncoding::kQuotedPrintable, "soft= \t\nnext", "softnext", false},
      {TransferEncoding::kQuotedPrintable, "bare\rcr", "bare\rcr", false},
      {TransferEncoding::kQuotedPrintable, "=c3=A9", "\xC3\xA9", false},
      {TransferEncoding::kIdentity, "a\nb\r\nc\n", "a\r\nb\r\nc\r\n", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    for (size_t chunk : kSplits) {
      CAPTURE(chunk);
      TransferDecoder d(c.enc);
      std::string out;
      for (size_t i = 0; i < c.in.size(); i += (chunk ? chunk : c.in.size())) {
        d.feed(std::string_view(c.in).substr(i, chunk ? chunk : c.in.size()), out);
      }
      d.finish(out);
      CHECK(out == c.out);
      CHECK(d.had_errors() == c.errors);
    }
  }
  CHECK(transfer_encoding(std::nullopt) == TransferEncoding::kIdentity);
  CHECK(transfer_encoding(std::string("8BIT")) == TransferEncoding::kIdentity);
  CHECK(transfer_encoding(std::string("x-uuencode")) == TransferEncoding::kUnknown);
}

TEST_CASE("mime: IMAP string writer") {
  std::string out;
  write_string(out, "plain");
  CHECK(out == "\"plain\"");
  out.clear();
  write_string(out, "a\"b\\c");
  CHECK(out == "\"a\\\"b\\\\c\"");
  out.clear();
  write_string(out, "line\r\nbreak");
  CHECK(out == "{11}\r\nline\r\nbreak");
  out.clear();
  write_string(out, "caf\xC3\xA9");
  CHECK(out == "{5}\r\ncaf\xC3\xA9");
  out.clear();
  write_string(out, std::string("a\0b", 3));
  CHECK(out == "\"ab\"");
  out.clear();
  write_nstring(out, std::nullopt);
  CHECK(out == "NIL");
}

TEST_CASE("mime: content header details") {
  std::string msg =
      "Content-Type: Text/HTML (comment); CHARSET=\"utf-8\"; format=flowed\r\n"
      "Content-Transfer-Encoding: 8Bit (why)\r\n"
      "Content-Disposition: inline\r\n"
      "Content-Language: (c) en-GB , de\r\n"
      "Content-Location: \"http://a.example/\r\n x\"\r\n"
      "Content-MD5: Q2hlY2s=\r\n"
      "\r\n"
      "hi\r\n";
  for_each_split(msg, [&](const Part& p) {
    CHECK(p.type == "text");
    CHECK(p.subtype == "html");
    CHECK(p.encoding == "8Bit");
    CHECK(bodystructure(p) ==
          "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"8BIT\" 4 1"
          " \"Q2hlY2s=\" (\"inline\" NIL) (\"en-GB\" \"de\") \"http://a.example/x\")");
  });
}
