// quota_status::Parser at every split of the input.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "quota_status/parser.h"

using quota_status::Parser;
using quota_status::ParserLimits;
using quota_status::Request;

namespace {

// Feeds `input` in pieces of `step` bytes (0 = whole).
std::vector<Request> run(const std::string& input, size_t step, ParserLimits limits = {}) {
  Parser p(limits);
  std::vector<Request> out;
  if (step == 0) step = input.size() ? input.size() : 1;
  for (size_t i = 0; i < input.size(); i += step) {
    p.feed(std::string_view(input).substr(i, step), &out);
  }
  return out;
}

// The same result at every split: whole, 100, 10, 5, 2, 1 bytes.
std::vector<Request> run_all(const std::string& input, ParserLimits limits = {}) {
  auto whole = run(input, 0, limits);
  for (size_t step : {100, 10, 5, 2, 1}) {
    auto got = run(input, step, limits);
    REQUIRE(got.size() == whole.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].attributes == whole[i].attributes);
      CHECK(got[i].bad == whole[i].bad);
      CHECK(got[i].reason == whole[i].reason);
    }
  }
  return whole;
}

const std::string kPostfix =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=192.0.2.1\n"
    "helo_name=mx.example.net\n"
    "sender=bob@example.net\n"
    "recipient=alice@example.com\n"
    "recipient_count=0\n"
    "queue_id=\n"
    "instance=123.456.7\n"
    "size=12345\n"
    "ccert_subject=\n"
    "\n";

}  // namespace

TEST_CASE("a Postfix request") {
  auto r = run_all(kPostfix);
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].bad);
  CHECK(r[0].attributes.size() == 12);
  CHECK(r[0].get("request") == "smtpd_access_policy");
  CHECK(r[0].get("recipient") == "alice@example.com");
  CHECK(r[0].get("size") == "12345");
  CHECK(r[0].get("queue_id") == "");  // empty values are values
  CHECK_FALSE(r[0].get("nope"));
}

TEST_CASE("pipelined requests, CRLF, '=' inside values, last one wins") {
  std::string in = kPostfix +
                   "request=smtpd_access_policy\r\nrecipient=a=b@example.com\r\n"
                   "recipient=c@example.com\n\r\n" +
                   kPostfix;
  auto r = run_all(in);
  REQUIRE(r.size() == 3);
  CHECK(r[1].get("recipient") == "c@example.com");
  CHECK(r[1].attributes[1].second == "a=b@example.com");
  CHECK_FALSE(r[2].bad);
}

TEST_CASE("an unfinished request gives nothing yet") {
  auto r = run_all("request=smtpd_access_policy\nrecipient=x@example.com\n");
  CHECK(r.empty());
  Parser p;
  std::vector<Request> out;
  p.feed("request=x\n", &out);
  CHECK(p.pending() == 10);
  p.feed("\n", &out);
  CHECK(out.size() == 1);
  CHECK(p.pending() == 0);
}

TEST_CASE("malformed requests are read to their end and flagged") {
  SUBCASE("line without '='") {
    auto r = run_all("request=smtpd_access_policy\nhello\nrecipient=a@b\n\n" + kPostfix);
    REQUIRE(r.size() == 2);
    CHECK(r[0].bad);
    CHECK(r[0].reason == "line without '='");
    CHECK_FALSE(r[1].bad);
  }
  SUBCASE("empty name") {
    auto r = run_all("=x\n\n");
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == "empty attribute name");
  }
  SUBCASE("NUL") {
    auto r = run_all(std::string("a=b\0c\n\n", 7));
    REQUIRE(r.size() == 1);
    CHECK(r[0].reason == "NUL in a line");
  }
  SUBCASE("an empty request") {
    auto r = run_all("\n" + kPostfix);
    REQUIRE(r.size() == 2);
    CHECK(r[0].reason == "empty request");
    CHECK_FALSE(r[1].bad);
  }
}

TEST_CASE("limits: line, request size, attribute count") {
  ParserLimits lim;
  lim.max_line = 20;
  lim.max_request = 100;
  lim.max_attributes = 4;
  SUBCASE("a line at the limit is fine, one over is skipped without buffering") {
    std::string ok = "a=" + std::string(18, 'x');  // 20
    auto r = run_all(ok + "\n\n", lim);
    REQUIRE(r.size() == 1);
    CHECK_FALSE(r[0].bad);
    r = run_all(ok + "\r\n\n", lim);  // the CR does not count
    REQUIRE(r.size() == 1);
    CHECK_FALSE(r[0].bad);
    std::string big = "a=" + std::string(5000, 'x');
    r = run_all(big + "\nb=c\n\n" + "request=x\n\n", lim);
    REQUIRE(r.size() == 2);
    CHECK(r[0].bad);
    CHECK(r[0].reason == "line too long");
    CHECK_FALSE(r[1].bad);
    Parser p(lim);
    std::vector<Request> out;
    p.feed(big, &out);  // no LF yet: nothing kept but counters
    CHECK(out.empty());
  }
  SUBCASE("too many attributes") {
    auto r = run_all("a=1\nb=2\nc=3\nd=4\ne=5\n\nf=6\n\n", lim);
    REQUIRE(r.size() == 2);
    CHECK(r[0].reason == "too many attributes");
    CHECK_FALSE(r[1].bad);
  }
  SUBCASE("request too large") {
    lim.max_attributes = 1000;
    std::string in;
    for (int i = 0; i < 10; ++i) in += "k" + std::to_string(i) + "=0123456789abcd\n";
    auto r = run_all(in + "\nx=y\n\n", lim);
    REQUIRE(r.size() == 2);
    CHECK(r[0].reason == "request too large");
    CHECK(r[0].attributes.empty());
    CHECK_FALSE(r[1].bad);
  }
}
