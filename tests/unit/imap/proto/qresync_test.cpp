// Unit tests for the QRESYNC (RFC 7162) parts of imap/proto/parser: the
// SELECT / EXAMINE parameters and the VANISHED fetch modifier. Every input is
// fed whole and in pieces of 100, 10, 5, 2 and 1 bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/parser.h"

namespace {

using namespace imap::proto;

constexpr size_t kSplits[] = {0, 100, 10, 5, 2, 1};

// The one event the line gives, the same at every split.
Event parse_one(std::string_view in) {
  std::vector<Event> first;
  for (size_t split : kSplits) {
    Parser p(Limits{});
    p.set_authenticated(true);
    std::vector<Event> evs;
    size_t step = split == 0 ? std::max<size_t>(in.size(), 1) : split;
    for (size_t i = 0; i < in.size(); i += step) {
      p.feed(in.substr(i, step));
      while (auto ev = p.next()) evs.push_back(std::move(*ev));
    }
    CAPTURE(split);
    REQUIRE(evs.size() == 1);
    if (split == 0) {
      first = evs;
    } else {
      CHECK(evs == first);
    }
  }
  return first.front();
}

SelectArgs select_ok(std::string_view in) {
  Event ev = parse_one(in);
  auto* c = std::get_if<Command>(&ev);
  REQUIRE(c != nullptr);
  auto* a = std::get_if<SelectArgs>(&c->args);
  REQUIRE(a != nullptr);
  return *a;
}

void select_bad(std::string_view in) {
  CAPTURE(in);
  Event ev = parse_one(in);
  CHECK(std::holds_alternative<ParseError>(ev));
}

}  // namespace

TEST_CASE("qresync: SELECT parameters") {
  auto a = select_ok("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
  REQUIRE(a.qresync);
  CHECK_FALSE(a.condstore);
  CHECK(a.qresync->uidvalidity == 67890007u);
  CHECK(a.qresync->modseq == 20050715194045000ull);
  REQUIRE(a.qresync->known_uids);
  CHECK(a.qresync->known_uids->ranges.size() == 3);
  CHECK(a.qresync->match_seqs.empty());

  a = select_ok("b EXAMINE INBOX (CONDSTORE QRESYNC (1 0 1:10 (1,5:3 1,10,8:7)))\r\n");
  CHECK(a.condstore);
  REQUIRE(a.qresync);
  CHECK(a.qresync->modseq == 0);
  CHECK(a.qresync->match_seqs == std::vector<uint32_t>{1, 5, 4, 3});
  CHECK(a.qresync->match_uids == std::vector<uint32_t>{1, 10, 8, 7});

  // seq-match-data without known-uids.
  a = select_ok("c SELECT INBOX (qresync (5 7 (2 9)))\r\n");
  REQUIRE(a.qresync);
  CHECK_FALSE(a.qresync->known_uids);
  CHECK(a.qresync->match_uids == std::vector<uint32_t>{9});

  a = select_ok("d SELECT INBOX (CONDSTORE)\r\n");
  CHECK(a.condstore);
  CHECK_FALSE(a.qresync);
  a = select_ok("e SELECT INBOX\r\n");
  CHECK_FALSE(a.qresync);
}

TEST_CASE("qresync: malformed SELECT parameters") {
  select_bad("a SELECT INBOX (QRESYNC)\r\n");
  select_bad("a SELECT INBOX (QRESYNC 1 2)\r\n");
  select_bad("a SELECT INBOX (QRESYNC ())\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (0 5))\r\n");           // UIDVALIDITY 0
  select_bad("a SELECT INBOX (QRESYNC (4294967296 5))\r\n");  // over 32 bits
  select_bad("a SELECT INBOX (QRESYNC (1 x))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n");  // over 63 bits
  select_bad("a SELECT INBOX (QRESYNC (1 5 1:*))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1 5 $))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1 5 0:3))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1 5 1:3 (1:2 5)))\r\n");  // sizes differ
  select_bad("a SELECT INBOX (QRESYNC (1 5 1:3 (1)))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1 5 1:3 (1 2) x))\r\n");
  select_bad("a SELECT INBOX (QRESYNC (1 5 1:3 (1:200000 1:200000)))\r\n");  // too large
  select_bad("a SELECT INBOX (QRESYNC (1 5) QRESYNC (1 5))\r\n");
}

TEST_CASE("qresync: FETCH VANISHED modifier") {
  Event ev = parse_one("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12 VANISHED)\r\n");
  auto* c = std::get_if<Command>(&ev);
  REQUIRE(c != nullptr);
  CHECK(c->uid);
  auto& f = std::get<FetchArgs>(c->args);
  CHECK(f.vanished);
  REQUIRE(f.changed_since);
  CHECK(*f.changed_since == 12);
}
