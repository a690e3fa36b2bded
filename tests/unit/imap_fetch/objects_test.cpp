// Tests for the FETCH items of SAVEDATE (RFC 8514), OBJECTID (RFC 8474) and
// PREVIEW (RFC 8970): the pure preview extraction and the writer's answers.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "imap/fetch/fetch_writer.h"
#include "imap/fetch/preview.h"
#include "imap/proto/parser.h"

using namespace imap;
using imap::fetch::collapse_text;
using imap::fetch::html_to_text;
using imap::fetch::make_preview;

namespace {

// FETCH 1 <text> as parsed: the command, or nullopt with the BAD text.
std::optional<proto::FetchArgs> parse_fetch(const std::string& text, std::string* error = nullptr,
                                            size_t split = 0) {
  proto::Parser p;
  p.set_authenticated(true);
  std::string line = "a FETCH 1 " + text + "\r\n";
  std::optional<proto::Event> ev;
  if (split == 0) split = line.size();
  for (size_t at = 0; at < line.size(); at += split) {
    p.feed(std::string_view(line).substr(at, split));
    if (!ev) ev = p.next();
  }
  if (!ev) ev = p.next();
  REQUIRE(ev.has_value());
  if (auto* cmd = std::get_if<proto::Command>(&*ev)) return std::get<proto::FetchArgs>(cmd->args);
  if (error) *error = "bad";
  return std::nullopt;
}

std::string fetch_out(std::string_view msg, const std::string& att_text,
                      const store::MessageMeta& meta, fetch::Options opt = {}) {
  auto args = parse_fetch(att_text);
  REQUIRE(args.has_value());
  if (opt.seq == 0) opt.seq = 1;
  fetch::StringReader reader(msg);
  fetch::FetchWriter w(meta, args->atts, opt, &reader);
  std::string out;
  while (w.write(out)) {
  }
  return out;
}

store::MessageMeta meta() {
  store::MessageMeta m;
  m.uid = 7;
  m.size = 10;
  m.internal_date = 1704103200;  // 2024-01-01 10:00:00 UTC
  m.save_date = 1704196800;      // 2024-01-02 12:00:00 UTC
  m.email_id = "Mabc_123-x";
  m.modseq = 3;
  return m;
}

}  // namespace

TEST_CASE("parser: SAVEDATE, EMAILID, THREADID, PREVIEW and PREVIEW (LAZY)") {
  for (size_t split : {0, 100, 10, 5, 2, 1}) {
    auto a = parse_fetch("(SAVEDATE EMAILID THREADID PREVIEW (LAZY) UID)", nullptr, split);
    REQUIRE(a.has_value());
    REQUIRE(a->atts.size() == 5);
    CHECK(a->atts[0].kind == proto::FetchAtt::Kind::kSaveDate);
    CHECK(a->atts[1].kind == proto::FetchAtt::Kind::kEmailId);
    CHECK(a->atts[2].kind == proto::FetchAtt::Kind::kThreadId);
    CHECK(a->atts[3].kind == proto::FetchAtt::Kind::kPreview);
    CHECK(a->atts[3].lazy);
    CHECK(a->atts[4].kind == proto::FetchAtt::Kind::kUid);
  }
  auto plain = parse_fetch("preview");
  REQUIRE(plain.has_value());
  CHECK(plain->atts[0].kind == proto::FetchAtt::Kind::kPreview);
  CHECK_FALSE(plain->atts[0].lazy);
  auto bare_lazy = parse_fetch("PREVIEW (lazy)");
  REQUIRE(bare_lazy.has_value());
  CHECK(bare_lazy->atts[0].lazy);
  // A FETCH modifier list after a bare PREVIEW stays a FETCH modifier.
  auto changed = parse_fetch("PREVIEW (CHANGEDSINCE 5)");
  REQUIRE(changed.has_value());
  CHECK(changed->changed_since == 5u);
  CHECK_FALSE(changed->atts[0].lazy);
  // Unknown modifiers and malformed lists are BAD.
  CHECK_FALSE(parse_fetch("PREVIEW (FOO)").has_value());
  CHECK_FALSE(parse_fetch("(PREVIEW (LAZY FOO))").has_value());
  CHECK_FALSE(parse_fetch("(PREVIEW ())").has_value());
  CHECK_FALSE(parse_fetch("(PREVIEW (LAZY)").has_value());
  CHECK_FALSE(parse_fetch("SAVEDATE[]").has_value());
}

TEST_CASE("writer: SAVEDATE, EMAILID, THREADID") {
  store::MessageMeta m = meta();
  CHECK(
      fetch_out("x", "(SAVEDATE EMAILID THREADID)", m) ==
      "* 1 FETCH (SAVEDATE \" 2-Jan-2024 12:00:00 +0000\" EMAILID (Mabc_123-x) THREADID NIL)\r\n");
  m.save_date = 0;
  m.email_id.clear();
  CHECK(fetch_out("x", "(SAVEDATE EMAILID)", m) == "* 1 FETCH (SAVEDATE NIL EMAILID NIL)\r\n");
  // None of them reads the message.
  auto three = parse_fetch("(SAVEDATE EMAILID THREADID)");
  REQUIRE(three.has_value());
  for (auto& a : three->atts) CHECK_FALSE(fetch::needs_message(a));
  auto preview = parse_fetch("PREVIEW");
  REQUIRE(preview.has_value());
  CHECK(fetch::needs_message(preview->atts[0]));
}

TEST_CASE("writer: PREVIEW quoted, literal, UTF-8 mode") {
  std::string ascii = "Subject: hi\r\n\r\nHello   there,\r\n  world.\r\n";
  CHECK(fetch_out(ascii, "(PREVIEW)", meta()) == "* 1 FETCH (PREVIEW \"Hello there, world.\")\r\n");
  CHECK(fetch_out(ascii, "(PREVIEW (LAZY))", meta()) ==
        "* 1 FETCH (PREVIEW \"Hello there, world.\")\r\n");
  std::string quote = "Subject: hi\r\n\r\nSay \"yes\" \\ no\r\n";
  CHECK(fetch_out(quote, "PREVIEW", meta()) ==
        "* 1 FETCH (PREVIEW \"Say \\\"yes\\\" \\\\ no\")\r\n");
  std::string latin = "Content-Type: text/plain; charset=utf-8\r\n\r\nCaf\xC3\xA9 ouvert\r\n";
  CHECK(fetch_out(latin, "PREVIEW", meta()) ==
        "* 1 FETCH (PREVIEW {12}\r\nCaf\xC3\xA9 ouvert)\r\n");
  fetch::Options utf8;
  utf8.utf8 = proto::Utf8Mode::kOn;
  CHECK(fetch_out(latin, "PREVIEW", meta(), utf8) ==
        "* 1 FETCH (PREVIEW \"Caf\xC3\xA9 ouvert\")\r\n");
  std::string empty = "Content-Type: application/pdf\r\n\r\nJVBERi0x\r\n";
  CHECK(fetch_out(empty, "PREVIEW", meta()) == "* 1 FETCH (PREVIEW \"\")\r\n");
}

TEST_CASE("preview: plain text, whitespace collapsed and trimmed") {
  CHECK(make_preview("Subject: a\r\n\r\n  first line\r\n\r\n\tsecond\tline  \r\n") ==
        "first line second line");
  CHECK(make_preview("Subject: a\n\nLF only\nmessage\n") == "LF only message");
  CHECK(make_preview("Subject: no body\r\n\r\n") == "");
  CHECK(make_preview("") == "");
  CHECK(make_preview("Subject: blank\r\n\r\n \r\n\t\r\n") == "");
}

TEST_CASE("preview: quoted-printable, base64 and ISO-8859-1") {
  std::string qp =
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Caf=E9 cr=E8me, a very long line that is soft=\r\n"
      " broken.\r\n";
  CHECK(make_preview(qp) == "Caf\xC3\xA9 cr\xC3\xA8me, a very long line that is soft broken.");
  std::string b64 =
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "SGVsbG8gd8O2cmxkIQ==\r\n";  // "Hello wörld!"
  CHECK(make_preview(b64) == "Hello w\xC3\xB6rld!");
  std::string latin1 = "Content-Type: text/plain; charset=ISO-8859-1\r\n\r\nna\xEFve \xE0 la\r\n";
  CHECK(make_preview(latin1) == "na\xC3\xAFve \xC3\xA0 la");
  // No charset and bytes that are not UTF-8: read as ISO-8859-1.
  CHECK(make_preview("Subject: x\r\n\r\nd\xE9j\xE0\r\n") == "d\xC3\xA9j\xC3\xA0");
  // No charset and valid UTF-8: kept.
  CHECK(make_preview("Subject: x\r\n\r\n\xE6\x97\xA5\xE6\x9C\xAC\r\n") ==
        "\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST_CASE("preview: HTML without a text/plain part") {
  std::string html =
      "Content-Type: text/html; charset=utf-8\r\n\r\n"
      "<html><head><title>Title here</title><style>p { color: red; }</style></head>"
      "<body><script type=\"text/javascript\">var a = '<p>';</script>"
      "<p>Hello&nbsp;<b>big</b>&amp;<i>small</i> world</p><!-- a comment -->"
      "<div>Price: 5 &lt; 6 &euro; &#233;&#xE8; &unknown; a <3</div></body></html>\r\n";
  CHECK(make_preview(html) ==
        "Hello big&small world Price: 5 < 6 \xE2\x82\xAC \xC3\xA9\xC3\xA8 &unknown; a <3");
  CHECK(html_to_text("a<br>b<br/>c") == "a b c");
  CHECK(html_to_text("<a href=\"x>y\">link</a>") == "link");
  CHECK(html_to_text("<SCRIPT>alert(1)</SCRIPT>ok") == " ok");
  CHECK(html_to_text("unterminated <style>x") == "unterminated  ");
  CHECK(html_to_text("&#0; &#xD800; &#99999999; &#123456789;") ==
        "\xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD &#123456789;");
}

TEST_CASE("preview: multipart/alternative prefers text/plain") {
  std::string alt =
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/html\r\n\r\n<p>HTML version</p>\r\n"
      "--b1\r\nContent-Type: text/plain\r\n\r\nPlain version\r\n"
      "--b1--\r\n";
  CHECK(make_preview(alt) == "Plain version");
  std::string only_html =
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
      "--b1\r\nContent-Type: text/html\r\n\r\n<p>Only <em>HTML</em></p>\r\n"
      "--b1--\r\n";
  CHECK(make_preview(only_html) == "Only HTML");
}

TEST_CASE("preview: nested multipart/mixed with an attachment first") {
  std::string msg =
      "Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n"
      "--out\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n"
      "Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
      "attached text, not the preview\r\n"
      "--out\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "JVBERi0xLjQK\r\n"
      "--out\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\n\r\nforwarded body, not the preview\r\n"
      "--out\r\nContent-Type: multipart/alternative; boundary=\"in\"\r\n\r\n"
      "--in\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "The real =C3=A9 body\r\n"
      "--in\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
      "--in--\r\n"
      "--out--\r\n";
  CHECK(make_preview(msg) == "The real \xC3\xA9 body");
  std::string only_attachments =
      "Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n"
      "--out\r\nContent-Type: image/png\r\n\r\nPNG\r\n--out--\r\n";
  CHECK(make_preview(only_attachments) == "");
}

TEST_CASE("preview: long text cut at 256 characters, never inside one") {
  std::string word = "\xC3\xA9t\xC3\xA9 ";  // "été " = 4 characters
  std::string body;
  for (int i = 0; i < 200; ++i) body += word;
  std::string p = make_preview("Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n");
  // 64 words of 3 letters + 63 spaces = 255 characters; a 256th would be a space.
  size_t chars = 0;
  for (unsigned char c : p) chars += (c & 0xC0) != 0x80;
  CHECK(chars == 255);
  CHECK(p.back() != ' ');
  CHECK(p.substr(p.size() - 5) == "\xC3\xA9t\xC3\xA9");
  std::string digits(1000, '7');
  CHECK(make_preview("Subject: x\r\n\r\n" + digits) == std::string(256, '7'));
  CHECK(collapse_text("abc", 2) == "ab");
  CHECK(collapse_text("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 2) == "\xE6\x97\xA5\xE6\x9C\xAC");
  CHECK(collapse_text("a\xC3", 10) == "a\xEF\xBF\xBD");
  CHECK(collapse_text("a\x01\x7F\xC2\xA0 b", 10) == "a b");
}
