// SEARCH keys of SAVEDATE (RFC 8514) and OBJECTID (RFC 8474): parsing (at
// every input split) and evaluation over message metadata.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "imap/proto/parser.h"
#include "imap/search/search.h"

namespace proto = imap::proto;
using imap::search::Bounds;
using imap::search::days_from_civil;
using imap::search::MessageContext;
using imap::search::Program;

namespace {

int64_t day_at(int y, int m, int d, int hh = 0) {
  return days_from_civil(y, m, d) * 86400 + hh * 3600;
}

// The parsed SEARCH, or nullopt for a BAD; fed in pieces of `split` bytes.
std::optional<proto::SearchArgs> parse(const std::string& keys, size_t split = 0) {
  proto::Parser p;
  p.set_authenticated(true);
  std::string line = "a SEARCH " + keys + "\r\n";
  if (split == 0) split = line.size();
  std::optional<proto::Event> ev;
  for (size_t at = 0; at < line.size(); at += split) {
    p.feed(std::string_view(line).substr(at, split));
    if (!ev) ev = p.next();
  }
  if (!ev) ev = p.next();
  REQUIRE(ev.has_value());
  if (auto* cmd = std::get_if<proto::Command>(&*ev)) return std::get<proto::SearchArgs>(cmd->args);
  return std::nullopt;
}

std::vector<store::MessageMeta> box() {
  std::vector<store::MessageMeta> v(4);
  for (size_t i = 0; i < v.size(); ++i) {
    v[i].uid = static_cast<uint32_t>(i + 1);
    v[i].internal_date = day_at(2020, 1, 1);
    v[i].modseq = 1;
  }
  v[0].save_date = day_at(2024, 3, 1, 23);  // late on 1 March (UTC)
  v[0].email_id = "Maaa";
  v[1].save_date = day_at(2024, 3, 2, 0);
  v[1].email_id = "Mbbb";
  v[2].save_date = day_at(2024, 3, 5, 12);
  v[2].email_id = "Maaa";  // a copy of the first
  v[3].save_date = 0;      // unknown
  v[3].email_id = "";
  return v;
}

std::vector<uint32_t> search(const std::string& keys) {
  auto args = parse(keys);
  REQUIRE_MESSAGE(args.has_value(), "does not parse: " << keys);
  auto msgs = box();
  Bounds b;
  b.max_seq = static_cast<uint32_t>(msgs.size());
  b.max_uid = msgs.back().uid;
  b.now = day_at(2024, 4, 1);
  auto prog = Program::compile(args->program, args->charset, b, nullptr);
  REQUIRE(prog.has_value());
  CHECK(prog->cost() == imap::search::Cost::kMeta);
  std::vector<uint32_t> out;
  for (size_t i = 0; i < msgs.size(); ++i) {
    MessageContext m;
    m.meta = &msgs[i];
    m.seq = static_cast<uint32_t>(i + 1);
    if (prog->matches(m)) out.push_back(m.seq);
  }
  return out;
}

using V = std::vector<uint32_t>;

}  // namespace

TEST_CASE("SAVEDATE search keys parse at every split") {
  for (size_t split : {0, 100, 10, 5, 2, 1}) {
    auto a = parse(
        "SAVEDBEFORE 2-Mar-2024 SAVEDON 1-Mar-2024 SAVEDSINCE 1-Jan-2000 "
        "SAVEDATESUPPORTED EMAILID M-x_1 THREADID T1",
        split);
    REQUIRE(a.has_value());
    auto& c = a->program.children;
    REQUIRE(c.size() == 6);
    CHECK(c[0].kind == proto::SearchKey::Kind::kSavedBefore);
    CHECK(c[0].date == proto::Date{2024, 3, 2});
    CHECK(c[1].kind == proto::SearchKey::Kind::kSavedOn);
    CHECK(c[2].kind == proto::SearchKey::Kind::kSavedSince);
    CHECK(c[3].kind == proto::SearchKey::Kind::kSaveDateSupported);
    CHECK(c[4].kind == proto::SearchKey::Kind::kEmailId);
    CHECK(c[4].text == "M-x_1");
    CHECK(c[5].kind == proto::SearchKey::Kind::kThreadId);
    CHECK(c[5].text == "T1");
  }
  // Failure paths: missing or malformed arguments are BAD.
  CHECK_FALSE(parse("SAVEDBEFORE").has_value());
  CHECK_FALSE(parse("SAVEDON 32-Mar-2024").has_value());
  CHECK_FALSE(parse("SAVEDSINCE yesterday").has_value());
  CHECK_FALSE(parse("EMAILID").has_value());
  CHECK_FALSE(parse("EMAILID a.b").has_value());
  CHECK_FALSE(parse("EMAILID \"quoted\"").has_value());
  CHECK_FALSE(parse("THREADID " + std::string(256, 'x')).has_value());
  CHECK(parse("THREADID " + std::string(255, 'x')).has_value());
}

TEST_CASE("SAVEDATE search keys use the UTC day of the save date") {
  CHECK(search("SAVEDON 1-Mar-2024") == V{1});
  CHECK(search("SAVEDON 2-Mar-2024") == V{2});
  CHECK(search("SAVEDBEFORE 2-Mar-2024") == V{1});
  CHECK(search("SAVEDSINCE 2-Mar-2024") == V{2, 3});
  CHECK(search("SAVEDSINCE 1-Jan-1970") == V{1, 2, 3});
  // A message without a save date matches none of them.
  CHECK(search("SAVEDATESUPPORTED") == V{1, 2, 3});
  CHECK(search("NOT SAVEDATESUPPORTED") == V{4});
  CHECK(search("NOT SAVEDBEFORE 1-Jan-2100") == V{4});
  // The internal date is not the save date.
  CHECK(search("ON 1-Jan-2020") == V{1, 2, 3, 4});
  CHECK(search("SAVEDON 1-Jan-2020").empty());
}

TEST_CASE("EMAILID and THREADID search keys") {
  CHECK(search("EMAILID Maaa") == V{1, 3});
  CHECK(search("EMAILID Mbbb") == V{2});
  CHECK(search("EMAILID maaa").empty());  // ids are case-sensitive
  CHECK(search("EMAILID Mzzz").empty());
  CHECK(search("THREADID Maaa").empty());  // Roost has no thread ids
  CHECK(search("NOT THREADID T1") == V{1, 2, 3, 4});
  CHECK(search("OR EMAILID Mbbb SAVEDON 5-Mar-2024") == V{2, 3});
}
