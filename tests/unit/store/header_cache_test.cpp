// The header cache: which fields it keeps (store/store.h), and the Maildir
// backend's cache file (store/maildir/header_cache.h): answers that match
// the messages, kept across Store objects, and damage or a new UIDVALIDITY
// costing nothing but a re-read.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "maildir_fixture.h"
#include "store/maildir/header_cache.h"
#include "store/store.h"

using namespace store;
using namespace store_test;
namespace fs = std::filesystem;

namespace {

std::string cache_file(const TempDir& t, const std::string& folder = "INBOX") {
  return t.path + "/index/example.com/alice/" + folder + ".hdr";
}

std::string message(int n) {
  return "Received: from somewhere\n"
         "Subject: message " +
         std::to_string(n) +
         "\n"
         "From: Alice <alice@example.com>\n"
         "X-Mailer: not cached\n"
         "  and folded\n"
         "To: bob@example.com,\n"
         " carol@example.com\n"
         "\n"
         "Body " +
         std::to_string(n) + "\nSubject: not a header\n";
}

std::string expected(int n) {
  return "Subject: message " + std::to_string(n) +
         "\r\n"
         "From: Alice <alice@example.com>\r\n"
         "To: bob@example.com,\r\n"
         " carol@example.com\r\n"
         "\r\n";
}

std::string cur_file(const TempDir& t, uint32_t uid) {
  for (const auto& e : fs::directory_iterator(root_of(t) + "/cur")) {
    std::string n = e.path().filename().string();
    const std::string field = ",U=" + std::to_string(uid);
    size_t at = n.find(field);
    if (at == std::string::npos) continue;
    at += field.size();
    if (at == n.size() || n[at] == ',' || n[at] == ':') return e.path().string();
  }
  FAIL("no file for uid ", uid);
  return "";
}

class StringStream final : public MessageStream {
 public:
  explicit StringStream(std::string s) : s_(std::move(s)) {}
  Result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min(n, s_.size() - pos_);
    std::copy_n(s_.data() + pos_, k, buf);
    pos_ += k;
    return k;
  }
  Result<void> seek(uint64_t offset) override {
    pos_ = std::min<size_t>(offset, s_.size());
    return {};
  }
  uint64_t raw_size() const override { return s_.size(); }

 private:
  std::string s_;
  size_t pos_ = 0;
};

}  // namespace

TEST_CASE("header cache: the cached fields of a header") {
  CHECK(is_cached_header_field("Subject"));
  CHECK(is_cached_header_field("MESSAGE-ID"));
  CHECK(is_cached_header_field("references"));
  CHECK_FALSE(is_cached_header_field("Received"));
  CHECK_FALSE(is_cached_header_field("subject2"));
  CHECK(cached_header_fields(message(1)) == expected(1));
  // Lines that are not fields, and continuations of dropped fields, go.
  CHECK(cached_header_fields("  stray continuation\r\nnot a field\r\n cont\r\nDate : x\r\n y\r\n"
                             "\r\nFrom: body\r\n") == "Date : x\r\n y\r\n\r\n");
  CHECK(cached_header_fields("\r\nSubject: in the body\r\n") == "\r\n");
  CHECK(cached_header_fields("Subject: no line end") == "Subject: no line end\r\n\r\n");
}

TEST_CASE("header cache: reading a header block") {
  StringStream a(message(2));
  auto h = read_header_block(a, kMaxHeaderScan);
  REQUIRE(h);
  CHECK(h->ends_with("carol@example.com\n\n"));
  StringStream b("Subject: only a header\r\nFrom: x\r\n");
  CHECK(read_header_block(b, kMaxHeaderScan) == "Subject: only a header\r\nFrom: x\r\n");
  StringStream c("\r\nbody");
  CHECK(read_header_block(c, kMaxHeaderScan) == "");
  std::string big = "Subject: " + std::string(100000, 'x') + "\n\nbody";
  StringStream d(big);
  CHECK_FALSE(read_header_block(d, 50000));
  StringStream e(big);
  CHECK(read_header_block(e, kMaxHeaderScan)->size() == big.size() - 4);
}

TEST_CASE("header cache: Maildir answers from its cache file, across Store objects") {
  TempDir t;
  std::vector<uint32_t> uids;
  {
    auto s = make(t);
    auto a = account(*s);
    for (int i = 0; i < 5; ++i) uids.push_back(append(*a, "INBOX", message(i)));
    auto mb = open(*a, "INBOX");
    auto got = mb->cached_headers(uids);
    REQUIRE(got.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(got[i] == expected(i));
    CHECK(fs::exists(cache_file(t)));
  }
  // The message files change behind the cache's back (no client may do
  // that; it proves the answer now comes from the cache file).
  for (int i = 0; i < 5; ++i) {
    std::ofstream(cur_file(t, uids[i]), std::ios::binary) << "Subject: changed\n\nbody\n";
  }
  auto s = make(t);
  auto a = account(*s);
  auto mb = open(*a, "INBOX");
  auto got = mb->cached_headers(uids);
  for (int i = 0; i < 5; ++i) CHECK(got[i] == expected(i));
  // A UID not in the mailbox has no answer.
  std::vector<uint32_t> none = {uids.back() + 100};
  CHECK_FALSE(mb->cached_headers(none)[0]);
}

TEST_CASE("header cache: a damaged file costs only a re-read") {
  TempDir t;
  std::vector<uint32_t> uids;
  {
    auto s = make(t);
    auto a = account(*s);
    for (int i = 0; i < 4; ++i) uids.push_back(append(*a, "INBOX", message(i)));
    auto mb = open(*a, "INBOX");
    (void)mb->cached_headers(uids);
  }
  const auto full = fs::file_size(cache_file(t));
  SUBCASE("torn tail") {
    fs::resize_file(cache_file(t), full - 7);
  }
  SUBCASE("flipped byte in the second record") {
    std::fstream f(cache_file(t), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(maildir::kHeaderCacheFileHeader +
                                        maildir::kHeaderCacheRecordHeader + expected(0).size() +
                                        maildir::kHeaderCacheRecordHeader + 3));
    f.put('#');
  }
  SUBCASE("not a cache file") {
    std::ofstream(cache_file(t), std::ios::binary) << "garbage that is long enough to look at";
  }
  auto s = make(t);
  auto a = account(*s);
  auto mb = open(*a, "INBOX");
  auto got = mb->cached_headers(uids);
  for (int i = 0; i < 4; ++i) CHECK(got[i] == expected(i));
  // What was re-read is appended after the good records, so a later reader
  // finds every message again.
  auto s2 = make(t);
  auto a2 = account(*s2);
  auto mb2 = open(*a2, "INBOX");
  for (uint32_t uid : uids) {
    std::ofstream(cur_file(t, uid), std::ios::binary) << "Subject: changed\n\nbody\n";
  }
  got = mb2->cached_headers(uids);
  for (int i = 0; i < 4; ++i) CHECK(got[i] == expected(i));
}

TEST_CASE("header cache: a mailbox created again does not see the old one's headers") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  REQUIRE(a->create_mailbox("Work").ok());
  uint32_t uid = append(*a, "Work", message(1));
  {
    auto mb = open(*a, "Work");
    std::vector<uint32_t> u = {uid};
    CHECK(mb->cached_headers(u)[0] == expected(1));
  }
  REQUIRE(a->delete_mailbox("Work").ok());
  REQUIRE(a->create_mailbox("Work").ok());
  uint32_t again = append(*a, "Work", message(2));
  REQUIRE(again == uid);  // the same UID in a new UIDVALIDITY
  auto mb = open(*a, "Work");
  std::vector<uint32_t> u = {again};
  CHECK(mb->cached_headers(u)[0] == expected(2));
}

TEST_CASE("header cache: renaming a mailbox takes its cache along") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  REQUIRE(a->create_mailbox("Old").ok());
  uint32_t uid = append(*a, "Old", message(3));
  {
    auto mb = open(*a, "Old");
    std::vector<uint32_t> u = {uid};
    CHECK(mb->cached_headers(u)[0] == expected(3));
  }
  REQUIRE(a->rename_mailbox("Old", "New").ok());
  CHECK(fs::exists(t.path + "/index/example.com/alice/.New.hdr"));
  CHECK_FALSE(fs::exists(t.path + "/index/example.com/alice/.Old.hdr"));
  auto mb = open(*a, "New");
  std::vector<uint32_t> u = {uid};
  CHECK(mb->cached_headers(u)[0] == expected(3));
}

TEST_CASE("header cache: records of expunged messages are dropped when there are many") {
  TempDir t;
  std::vector<uint32_t> uids;
  const int n = static_cast<int>(maildir::kHeaderCacheSlack) * 2 + 10;
  {
    auto s = make(t);
    auto a = account(*s);
    for (int i = 0; i < n; ++i) uids.push_back(append(*a, "INBOX", message(i)));
    auto mb = open(*a, "INBOX");
    (void)mb->cached_headers(uids);
    std::vector<uint32_t> gone(uids.begin(), uids.end() - 10);
    REQUIRE(mb->expunge(gone).ok());
  }
  const auto before = fs::file_size(cache_file(t));
  auto s = make(t);
  auto a = account(*s);
  auto mb = open(*a, "INBOX");
  std::vector<uint32_t> kept(uids.end() - 10, uids.end());
  auto got = mb->cached_headers(kept);
  for (int i = 0; i < 10; ++i) CHECK(got[i] == expected(n - 10 + i));
  CHECK(fs::file_size(cache_file(t)) < before / 10);
}

TEST_CASE("header cache: the memory backend gives the same answers") {
  auto s = make_memory_store();
  auto a = s->open_account("example.com", "alice");
  REQUIRE(a.ok());
  uint32_t uid = append(**a, "INBOX", message(4));
  auto mb = open(**a, "INBOX");
  std::vector<uint32_t> u = {uid, uid + 1};
  auto got = mb->cached_headers(u);
  CHECK(got[0] == expected(4));
  CHECK_FALSE(got[1]);
}
