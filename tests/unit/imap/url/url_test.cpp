// Unit tests for imap/url: a table of valid and invalid IMAP URLs (RFC 5092)
// as CATENATE / URL-PARTIAL use them, sections, percent-encoding, modified
// UTF-7 and UTF-8 mailbox names, PARTIAL bounds.
#include "imap/url/url.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using imap::url::MessageUrl;
using imap::url::parse_message_url;

MessageUrl good(std::string_view s) {
  std::string why;
  auto u = parse_message_url(s, &why);
  INFO("url: " << std::string(s) << " why: " << why);
  REQUIRE(u.has_value());
  return *u;
}

std::string bad(std::string_view s) {
  std::string why;
  auto u = parse_message_url(s, &why);
  INFO("url: " << std::string(s));
  CHECK_FALSE(u.has_value());
  CHECK_FALSE(why.empty());
  return why;
}

}  // namespace

TEST_CASE("absolute-path URLs") {
  auto u = good("/INBOX;UIDVALIDITY=785799047/;UID=113330");
  CHECK_FALSE(u.absolute);
  REQUIRE(u.mailbox.has_value());
  CHECK(*u.mailbox == "INBOX");
  CHECK(u.uidvalidity == 785799047u);
  CHECK(u.uid == 113330u);
  CHECK_FALSE(u.section.has_value());
  CHECK_FALSE(u.partial.has_value());

  u = good("/Work/Projects/;UID=7");
  CHECK(*u.mailbox == "Work/Projects");
  CHECK_FALSE(u.uidvalidity.has_value());

  u = good("/INBOX;uidvalidity=1/;uid=2/;section=1.2.MIME/;partial=10.20");
  CHECK(*u.section == "1.2.MIME");
  CHECK(u.spec.parts == std::vector<uint32_t>{1, 2});
  CHECK(u.spec.text == imap::mime::SectionText::kMime);
  REQUIRE(u.partial.has_value());
  CHECK(u.partial->offset == 10u);
  CHECK(u.partial->length == 20u);

  u = good("/INBOX/;UID=2/;PARTIAL=0");
  CHECK(u.partial->offset == 0u);
  CHECK_FALSE(u.partial->length.has_value());
  u = good("/INBOX/;UID=2/;PARTIAL=4294967295.4294967295");
  CHECK(u.partial->offset == 4294967295u);
}

TEST_CASE("relative ;UID= URLs name the selected mailbox") {
  auto u = good(";UID=20/;SECTION=HEADER.FIELDS%20(From%20%22To%22)");
  CHECK_FALSE(u.mailbox.has_value());
  CHECK(u.uid == 20u);
  CHECK(*u.section == "HEADER.FIELDS (From \"To\")");
  CHECK(u.spec.text == imap::mime::SectionText::kHeaderFields);
  CHECK(u.spec.fields == std::vector<std::string>{"From", "To"});
  u = good(";UID=1/;SECTION=2.HEADER.FIELDS.NOT%20(X-A)/;PARTIAL=1.1");
  CHECK(u.spec.text == imap::mime::SectionText::kHeaderFieldsNot);
  CHECK(u.spec.parts == std::vector<uint32_t>{2});
  CHECK(u.partial->length == 1u);
  u = good(";UID=1/;SECTION=TEXT");
  CHECK(u.spec.text == imap::mime::SectionText::kText);
  CHECK(u.spec.parts.empty());
}

TEST_CASE("imap:// URLs") {
  auto u = good("imap://alice@mail.example.test/Drafts;UIDVALIDITY=3/;UID=1");
  CHECK(u.absolute);
  CHECK(u.user == "alice");
  CHECK(u.host == "mail.example.test");
  CHECK_FALSE(u.port.has_value());
  CHECK(*u.mailbox == "Drafts");
  u = good("IMAP://alice%40example.test;AUTH=*@LocalHost:143/INBOX/;UID=1");
  CHECK(u.user == "alice@example.test");
  CHECK(u.host == "localhost");
  CHECK(u.port == uint16_t{143});
  u = good("imap://[::1]/INBOX/;UID=1");
  CHECK(u.host == "[::1]");
  CHECK(u.user.empty());
}

TEST_CASE("mailbox names: percent-encoding, UTF-8 and modified UTF-7") {
  CHECK(*good("/Entw%C3%BCrfe/;UID=1").mailbox ==
        "Entw\xC3\xBC"
        "rfe");
  CHECK(*good("/Entw&APw-rfe/;UID=1").mailbox ==
        "Entw\xC3\xBC"
        "rfe");
  CHECK(*good("/R&D/;UID=1").mailbox == "R&D");  // not modified UTF-7: as is
  CHECK(*good("/A&-B/;UID=1").mailbox == "A&B");
  CHECK(*good("/a%3Bb%20c/;UID=1").mailbox == "a;b c");
  bad("/Entw%FCrfe/;UID=1");  // Latin-1, not UTF-8
  bad("/bad%2/;UID=1");
  bad("/bad%zz/;UID=1");
}

TEST_CASE("invalid and unsupported URLs") {
  const char* kBad[] = {
      "",
      "INBOX/;UID=1",                                  // relative path with a name
      "/INBOX",                                        // no message
      "/INBOX;UIDVALIDITY=1",                          // no message
      "/INBOX;UIDVALIDITY=0/;UID=1",                   // zero UIDVALIDITY
      "/INBOX;UIDVALIDITY=x/;UID=1",                   //
      "/INBOX/;UID=0",                                 // zero UID
      "/INBOX/;UID=",                                  //
      "/INBOX/;UID=99999999999",                       // over 32 bits
      "/;UID=1",                                       // empty name
      "/INBOX/;UID=1/;PARTIAL=5.0",                    // zero length
      "/INBOX/;UID=1/;PARTIAL=.5",                     //
      "/INBOX/;UID=1/;PARTIAL=4294967296",             // over 32 bits
      "/INBOX/;UID=1/;SECTION=",                       //
      "/INBOX/;UID=1/;SECTION=0",                      // part 0
      "/INBOX/;UID=1/;SECTION=1..2",                   //
      "/INBOX/;UID=1/;SECTION=MIME",                   // MIME needs a part
      "/INBOX/;UID=1/;SECTION=HEADER.FIELDS",          // no list
      "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20()",     // empty list
      "/INBOX/;UID=1/;SECTION=BODY",                   //
      "/INBOX/;UID=1;URLAUTH=anonymous:internal:abc",  // URLAUTH
      "/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=user+a:internal:x",
      "/INBOX/;UID=1?x",                   //
      "/INBOX/;UID=1/;UNKNOWN=1",          //
      "/IN BOX/;UID=1",                    // unencoded space
      "/INBOX?SUBJECT%20x",                // message list
      "//host/INBOX/;UID=1",               // network path
      "http://example.test/INBOX/;UID=1",  //
      "imap://",                           //
      "imap://host",                       //
      "imap://@/INBOX/;UID=1",             // no host
      "imap://a;FOO=b@host/INBOX/;UID=1",  //
      "imap://host:99999/INBOX/;UID=1",    //
      ";SECTION=1",                        // no UID
      "\xC3\xA9/;UID=1",                   // 8-bit
  };
  for (const char* s : kBad) bad(s);
  CHECK(bad("/INBOX/;UID=1;URLAUTH=anonymous:internal:abc").find("URLAUTH") != std::string::npos);
}

TEST_CASE("sections") {
  using imap::url::parse_section;
  CHECK(parse_section("1")->parts == std::vector<uint32_t>{1});
  CHECK(parse_section("1.2.3.TEXT")->text == imap::mime::SectionText::kText);
  CHECK(parse_section("header")->text == imap::mime::SectionText::kHeader);
  CHECK(parse_section("HEADER.FIELDS (A)")->fields == std::vector<std::string>{"A"});
  CHECK_FALSE(parse_section("1.").has_value());
  CHECK_FALSE(parse_section("HEADER ").has_value());
  CHECK_FALSE(parse_section("HEADER.FIELDS (A").has_value());
  CHECK_FALSE(parse_section("HEADER.FIELDS (\"A)").has_value());
  CHECK_FALSE(parse_section("1.MIME.TEXT").has_value());
}

TEST_CASE("percent decoding and the response-code form") {
  CHECK(*imap::url::percent_decode("a%20b%2F") == "a b/");
  CHECK_FALSE(imap::url::percent_decode("%").has_value());
  CHECK_FALSE(imap::url::percent_decode("%4").has_value());
  CHECK(imap::url::for_response_code("/a]b c\x01") == "/a%5Db%20c%01");
  CHECK(imap::url::for_response_code("/INBOX/;UID=1") == "/INBOX/;UID=1");
}
