// The memory of expunged UIDs behind QRESYNC (Mailbox::expunged_since): own
// expunges, another handle's, files removed from outside, another process,
// persistence across a reopen, and the floor after retention, a rebuild
// without an index and a lost or damaged roost-expunged file.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "conformance.h"
#include "store/maildir/expunged.h"
#include "store/store.h"

using namespace store;
namespace fs = std::filesystem;

namespace {

using Uids = std::vector<uint32_t>;

struct TempDir {
  TempDir() {
    std::string p = (fs::temp_directory_path() / "roost-expunged-test-XXXXXX").string();
    REQUIRE(::mkdtemp(p.data()) != nullptr);
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

std::unique_ptr<Store> make(const TempDir& t, int64_t memory = 30 * 86400) {
  MaildirOptions o;
  o.path_template = t.path + "/mail/{domain}/{user}";
  o.index_dir = t.path + "/index";
  o.fsync = false;
  o.expunge_memory_seconds = memory;
  return make_maildir_store(o);
}

std::string inbox_dir(const TempDir& t) {
  return t.path + "/mail/example.com/alice";
}
std::string file_of(const TempDir& t) {
  return inbox_dir(t) + "/roost-expunged";
}

std::shared_ptr<Account> account(Store& s) {
  auto a = s.open_account("example.com", "alice");
  REQUIRE(a.ok());
  return *a;
}

uint32_t append(Account& a, const std::string& body = "Subject: x\r\n\r\nbody\r\n") {
  auto tx = a.begin_append("INBOX", 0, {}, 0);
  REQUIRE(tx.ok());
  REQUIRE((*tx)->write(body).ok());
  auto uid = (*tx)->commit();
  REQUIRE(uid.ok());
  return *uid;
}

std::unique_ptr<Mailbox> open(Account& a) {
  auto mb = a.open_mailbox("INBOX", false);
  REQUIRE(mb.ok());
  return std::move(*mb);
}

std::optional<Uids> since(Mailbox& mb, uint64_t m) {
  auto r = mb.expunged_since(m);
  REQUIRE(r.ok());
  return *r;
}

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

std::string cur_file_of(const TempDir& t, uint32_t uid) {
  std::string want = ",U=" + std::to_string(uid);
  for (const auto& e : fs::directory_iterator(inbox_dir(t) + "/cur")) {
    std::string n = e.path().filename().string();
    std::string prefix = n.substr(0, n.find(':'));
    if (prefix.size() >= want.size() &&
        (prefix.find(want + ",") != std::string::npos ||
         prefix.compare(prefix.size() - want.size(), want.size(), want) == 0)) {
      return e.path().string();
    }
  }
  return {};
}

}  // namespace

TEST_CASE("expunge memory: uid list and file codec") {
  using namespace store::maildir;
  CHECK(encode_uid_list({1, 2, 3, 5, 7, 8}) == "1:3,5,7:8");
  CHECK(encode_uid_list({42}) == "42");
  Uids u;
  CHECK(decode_uid_list("1:3,5,7:8", &u));
  CHECK(u == Uids{1, 2, 3, 5, 7, 8});
  for (const char* bad :
       {"", "0", "3:1", "1,1", "2,1", "1,", "a", "1:", ":2", "1 2", "5:4294967296"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_uid_list(bad, &u));
  }
  std::vector<ExpungeRecord> recs = {{10, 1000, {1, 2, 3}}, {12, 2000, {9}}};
  std::string f = encode_expunged_file(77, 5, recs);
  CHECK(f == "roost-expunged 1 77 5\n10 1000 1:3\n12 2000 9\n");
  uint32_t v = 0;
  uint64_t floor = 0;
  std::vector<ExpungeRecord> back;
  REQUIRE(decode_expunged_file(f, &v, &floor, &back));
  CHECK(v == 77);
  CHECK(floor == 5);
  REQUIRE(back.size() == 2);
  CHECK(back[1].uids == Uids{9});
  CHECK_FALSE(decode_expunged_file(f.substr(0, f.size() - 1), &v, &floor, &back));  // cut short
  CHECK_FALSE(decode_expunged_file("roost-expunged 1 0 5\n", &v, &floor, &back));
  CHECK_FALSE(decode_expunged_file("roost-expunged 2 7 5\n", &v, &floor, &back));
  CHECK_FALSE(decode_expunged_file("roost-expunged 1 7 5\n0 1 2\n", &v, &floor, &back));
  CHECK_FALSE(decode_expunged_file("roost-expunged 1 7 5\n1 1 2 3\n", &v, &floor, &back));
  CHECK_FALSE(decode_expunged_file("", &v, &floor, &back));
}

TEST_CASE("expunge memory: every backend, own expunge and another handle's") {
  for (const auto& backend : store_test::store_backends()) {
    CAPTURE(backend.name);
    auto st = backend.make();
    auto acct = account(*st);
    for (int i = 0; i < 5; ++i) append(*acct);
    auto a = open(*acct);
    auto b = open(*acct);
    uint64_t m0 = a->status().highest_modseq;

    REQUIRE(a->expunge(Uids{2, 4}).ok());
    uint64_t m1 = a->status().highest_modseq;
    CHECK(m1 > m0);  // an expunge takes a modseq
    CHECK(since(*a, m0) == Uids{2, 4});
    CHECK(since(*a, m1) == Uids{});
    CHECK(since(*a, m1 + 100) == Uids{});

    // b still shows 2 and 4 until it syncs: not reported to it yet.
    CHECK(since(*b, m0) == Uids{});
    auto r = b->sync();
    REQUIRE(r.ok());
    CHECK(r->expunged == Uids{2, 4});
    CHECK(b->status().highest_modseq >= m1);
    CHECK(since(*b, m0) == Uids{2, 4});

    // b expunges 5; a learns it with its sync, at a higher modseq.
    REQUIRE(b->expunge(Uids{5}).ok());
    uint64_t m2 = b->status().highest_modseq;
    CHECK(m2 > m1);
    CHECK(since(*a, m1) == Uids{});
    REQUIRE(a->sync().ok());
    CHECK(a->status().highest_modseq == m2);
    CHECK(since(*a, m1) == Uids{5});
    CHECK(since(*a, m0) == Uids{2, 4, 5});
    // Expunging nothing changes nothing.
    REQUIRE(a->expunge(Uids{99}).ok());
    CHECK(a->status().highest_modseq == m2);
  }
}

TEST_CASE("expunge memory: memory backend retention") {
  auto st = make_memory_store(0);  // remembers nothing
  auto acct = account(*st);
  append(*acct);
  append(*acct);
  auto mb = open(*acct);
  uint64_t m0 = mb->status().highest_modseq;
  REQUIRE(mb->expunge(Uids{1}).ok());
  uint64_t m1 = mb->status().highest_modseq;
  CHECK_FALSE(since(*mb, m0).has_value());
  CHECK(since(*mb, m1) == Uids{});

  auto st2 = make_memory_store();  // the default: everything since creation
  auto acct2 = account(*st2);
  append(*acct2);
  auto mb2 = open(*acct2);
  REQUIRE(mb2->expunge(Uids{1}).ok());
  CHECK(since(*mb2, 0) == Uids{1});
}

TEST_CASE("expunge memory: maildir persists across a reopen") {
  TempDir t;
  uint64_t m0 = 0, m1 = 0;
  {
    auto st = make(t);
    auto acct = account(*st);
    for (int i = 0; i < 4; ++i) append(*acct);
    auto mb = open(*acct);
    m0 = mb->status().highest_modseq;
    REQUIRE(mb->expunge(Uids{1, 3}).ok());
    m1 = mb->status().highest_modseq;
    CHECK(fs::exists(file_of(t)));
  }
  auto st = make(t);
  auto acct = account(*st);
  auto mb = open(*acct);
  CHECK(mb->status().highest_modseq >= m1);
  CHECK(since(*mb, m0) == Uids{1, 3});
  CHECK(since(*mb, m1) == Uids{});
  // A fresh mailbox remembers from its first load on.
  uint64_t now = mb->status().highest_modseq;
  CHECK(since(*mb, now) == Uids{});
}

TEST_CASE("expunge memory: maildir file removed from outside and another process") {
  TempDir t;
  auto st = make(t);
  auto acct = account(*st);
  for (int i = 0; i < 4; ++i) append(*acct);
  auto mb = open(*acct);
  uint64_t m0 = mb->status().highest_modseq;

  // An outside tool deletes message 2's file.
  std::string f = cur_file_of(t, 2);
  REQUIRE(!f.empty());
  fs::remove(f);
  auto r = mb->sync();
  REQUIRE(r.ok());
  CHECK(r->expunged == Uids{2});
  uint64_t m1 = mb->status().highest_modseq;
  CHECK(m1 > m0);
  CHECK(since(*mb, m0) == Uids{2});
  CHECK(since(*mb, m1) == Uids{});

  // Another process (another Store object on the same directories) expunges 4.
  {
    auto st2 = make(t);
    auto acct2 = account(*st2);
    auto mb2 = open(*acct2);
    REQUIRE(mb2->expunge(Uids{4}).ok());
  }
  r = mb->sync();
  REQUIRE(r.ok());
  CHECK(r->expunged == Uids{4});
  uint64_t m2 = mb->status().highest_modseq;
  CHECK(m2 > m1);
  CHECK(since(*mb, m1) == Uids{4});
  CHECK(since(*mb, m0) == Uids{2, 4});
}

TEST_CASE("expunge memory: maildir floor after retention") {
  TempDir t;
  uint32_t validity = 0;
  {
    auto st = make(t);
    auto acct = account(*st);
    for (int i = 0; i < 3; ++i) append(*acct);
    auto mb = open(*acct);
    validity = mb->status().uidvalidity;
  }
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  // One record from long ago, one from now (UIDs 50 and 60 are not in the mailbox).
  write_all(file_of(t), "roost-expunged 1 " + std::to_string(validity) + " 1\n100 1000 50\n200 " +
                            std::to_string(now) + " 60\n");
  {
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    CHECK_FALSE(since(*mb, 1).has_value());
    CHECK_FALSE(since(*mb, 99).has_value());
    CHECK(since(*mb, 100) == Uids{60});
    CHECK(since(*mb, 200) == Uids{});
  }
  // The expired line is gone from the file; the floor is in its header.
  std::string content = read_all(file_of(t));
  CHECK(content.find(" 100\n") != std::string::npos);
  CHECK(content.find("1000 50") == std::string::npos);
  CHECK(content.find(" 60\n") != std::string::npos);

  // With a retention of 0, an expunge is forgotten at once: the floor follows.
  auto st = make(t, 0);
  auto acct = account(*st);
  auto mb = open(*acct);
  uint64_t m0 = mb->status().highest_modseq;
  REQUIRE(mb->expunge(Uids{1}).ok());
  uint64_t m1 = mb->status().highest_modseq;
  CHECK_FALSE(since(*mb, m0).has_value());
  CHECK(since(*mb, m1) == Uids{});
}

TEST_CASE("expunge memory: maildir compacts a grown file") {
  TempDir t;
  uint32_t validity = 0;
  {
    auto st = make(t);
    auto acct = account(*st);
    for (int i = 0; i < 3; ++i) append(*acct);
    auto mb = open(*acct);
    validity = mb->status().uidvalidity;
  }
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  // 400 fresh lines (kept) written by "another process": then, with a
  // short retention, they expire and the file is rewritten small.
  std::string f = "roost-expunged 1 " + std::to_string(validity) + " 1\n";
  for (int i = 0; i < 400; ++i) {
    f += std::to_string(10 + i) + " " + std::to_string(now - 5) + " " + std::to_string(100 + i) +
         "\n";
  }
  write_all(file_of(t), f);
  auto st = make(t, 3);  // the 5-second-old lines are expired at load
  auto acct = account(*st);
  auto mb = open(*acct);
  uint64_t before = mb->status().highest_modseq;
  CHECK_FALSE(since(*mb, 400).has_value());
  CHECK(since(*mb, 409) == Uids{});
  REQUIRE(mb->expunge(Uids{2}).ok());
  CHECK(since(*mb, before) == Uids{2});
  std::string content = read_all(file_of(t));
  CHECK(std::count(content.begin(), content.end(), '\n') == 2);  // header + the new line
}

TEST_CASE("expunge memory: maildir floor after a rebuild and after damage") {
  TempDir t;
  uint64_t m0 = 0, m1 = 0;
  {
    auto st = make(t);
    auto acct = account(*st);
    for (int i = 0; i < 4; ++i) append(*acct);
    auto mb = open(*acct);
    m0 = mb->status().highest_modseq;
    REQUIRE(mb->expunge(Uids{1}).ok());
    m1 = mb->status().highest_modseq;
  }
  SUBCASE("index lost: rebuilt, floor at the new HIGHESTMODSEQ") {
    fs::remove_all(t.path + "/index");
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    uint64_t hms = mb->status().highest_modseq;
    CHECK(hms > m1);
    CHECK_FALSE(since(*mb, m0).has_value());
    CHECK_FALSE(since(*mb, m1).has_value());
    CHECK(since(*mb, hms) == Uids{});
  }
  SUBCASE("file lost") {
    fs::remove(file_of(t));
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    CHECK_FALSE(since(*mb, m0).has_value());
    CHECK(since(*mb, mb->status().highest_modseq) == Uids{});
    CHECK(fs::exists(file_of(t)));  // written again with the new floor
  }
  SUBCASE("file damaged") {
    write_all(file_of(t), "roost-expunged 1 garbage\n");
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    CHECK_FALSE(since(*mb, m0).has_value());
    CHECK(since(*mb, mb->status().highest_modseq) == Uids{});
  }
  SUBCASE("last line cut short") {
    std::string content = read_all(file_of(t));
    write_all(file_of(t), content + "123 456 7");
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    CHECK_FALSE(since(*mb, m0).has_value());
  }
  SUBCASE("file of another UIDVALIDITY") {
    std::string content = read_all(file_of(t));
    auto sp1 = content.find(' ', std::string("roost-expunged 1 ").size());
    write_all(file_of(t), "roost-expunged 1 1" + content.substr(sp1));
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    CHECK_FALSE(since(*mb, m0).has_value());
  }
  SUBCASE("file removed while the mailbox is open") {
    auto st = make(t);
    auto acct = account(*st);
    auto mb = open(*acct);
    CHECK(since(*mb, m0) == Uids{1});
    fs::remove(file_of(t));
    REQUIRE(mb->expunge(Uids{2}).ok());
    CHECK(since(*mb, m0) == Uids{1, 2});
    // What this process knew is written back whole.
    std::string content = read_all(file_of(t));
    CHECK(content.find(" 1\n") != std::string::npos);
    CHECK(content.find(" 2\n") != std::string::npos);
  }
}
