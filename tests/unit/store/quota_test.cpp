// The running quota total: maildirsize parsing and arithmetic, recalculation
// (missing, damaged, too large, new definition, outside tools), concurrent
// writers (a second Store object and a second process), and the memory
// backend's counters.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "maildir_fixture.h"
#include "store/maildir/quota.h"
#include "store/store.h"
#include "store/store_util.h"

using namespace store;
using namespace store::maildir;
using namespace store_test;
namespace fs = std::filesystem;

namespace {

QuotaUsage usage_of(Account& a) {
  auto u = a.quota_usage();
  REQUIRE(u.ok());
  return *u;
}

// What a walk of every mailbox says (the truth).
QuotaUsage walked(const std::string& root) {
  auto u = quota_walk(root);
  REQUIRE(u.ok());
  return *u;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

size_t line_count(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST_CASE("maildirsize: definition line") {
  CHECK(format_quota_definition({1000, 20}) == "1000S,20C");
  CHECK(format_quota_definition({}) == "0S,0C");
  auto d = parse_quota_definition("1000S,20C");
  REQUIRE(d);
  CHECK(d->bytes == 1000);
  CHECK(d->messages == 20);
  d = parse_quota_definition("20C,5S");
  REQUIRE(d);
  CHECK(d->bytes == 5);
  CHECK(d->messages == 20);
  d = parse_quota_definition("77S");
  REQUIRE(d);
  CHECK(d->bytes == 77);
  CHECK(d->messages == 0);
  d = parse_quota_definition("");
  REQUIRE(d);
  CHECK(d->bytes == 0);
  CHECK_FALSE(parse_quota_definition("S"));
  CHECK_FALSE(parse_quota_definition("12X"));
  CHECK_FALSE(parse_quota_definition("1S,2S"));
  CHECK_FALSE(parse_quota_definition("1S,,2C"));
  CHECK_FALSE(parse_quota_definition("-1S"));
  CHECK_FALSE(parse_quota_definition("99999999999999999999S"));
}

TEST_CASE("maildirsize: arithmetic of change lines") {
  auto c = parse_maildirsize("1000S,10C\n100 1\n  250 2\n-100 -1\n");
  REQUIRE(c);
  CHECK(c->definition == QuotaLimits{1000, 10});
  CHECK(c->usage.bytes == 250);
  CHECK(c->usage.messages == 2);
  // Blank lines are harmless; CRLF is accepted.
  c = parse_maildirsize("0S,0C\r\n\n5 1\r\n");
  REQUIRE(c);
  CHECK(c->usage.bytes == 5);
  // An unterminated last line is a write in progress: left out.
  c = parse_maildirsize("0S,0C\n5 1\n7 1");
  REQUIRE(c);
  CHECK(c->usage.bytes == 5);
  CHECK(c->usage.messages == 1);
  // Only a definition: zero.
  c = parse_maildirsize("10S\n");
  REQUIRE(c);
  CHECK(c->usage.bytes == 0);
  CHECK(format_quota_line(-12, -1) == "-12 -1\n");
}

TEST_CASE("maildirsize: damage is detected") {
  CHECK_FALSE(parse_maildirsize(""));
  CHECK_FALSE(parse_maildirsize("1000S"));             // no end of line
  CHECK_FALSE(parse_maildirsize("bogus\n1 1\n"));      // bad definition
  CHECK_FALSE(parse_maildirsize("0S\n1 1 1\n"));       // three numbers
  CHECK_FALSE(parse_maildirsize("0S\n1\n"));           // one number
  CHECK_FALSE(parse_maildirsize("0S\nx 1\n"));         // not a number
  CHECK_FALSE(parse_maildirsize("0S\n5 1\n-6 -1\n"));  // negative sum
  CHECK_FALSE(parse_maildirsize("0S\nrecalculate\n"));
}

TEST_CASE("maildirsize: kept exact by append, copy, move, expunge, delete, rename") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  a->set_quota_limits({5000, 100});
  CHECK(usage_of(*a).bytes == 0);  // creates the file
  std::string file = root_of(t) + "/maildirsize";
  REQUIRE(fs::exists(file));
  CHECK(slurp(file) == "5000S,100C\n0 0\n");

  REQUIRE(a->create_mailbox("Work", SpecialUse::kNone).ok());
  uint32_t u1 = append(*a, "INBOX", "Subject: a\n\nhello\n");  // LF: counted as CRLF
  append(*a, "INBOX", "Subject: b\r\n\r\nworld\r\n");
  auto u = usage_of(*a);
  CHECK(u.messages == 2);
  CHECK(u.bytes == crlf_size("Subject: a\n\nhello\n") + crlf_size("Subject: b\r\n\r\nworld\r\n"));
  CHECK(u.bytes == walked(root_of(t)).bytes);
  // One line per change, after the definition and the first total.
  CHECK(line_count(slurp(file)) == 4);

  auto inbox = a->open_mailbox("INBOX", false);
  REQUIRE(inbox.ok());
  uint32_t v = 0;
  std::vector<uint32_t> one{u1};
  REQUIRE((*inbox)->copy_to(one, "Work", false, &v).ok());
  CHECK(usage_of(*a).messages == 3);
  REQUIRE((*inbox)->copy_to(one, "Work", true, &v).ok());  // move: +1 then -1
  u = usage_of(*a);
  CHECK(u.messages == 3);
  CHECK(u.bytes == walked(root_of(t)).bytes);
  CHECK(u.messages == walked(root_of(t)).messages);

  auto work = a->open_mailbox("Work", false);
  REQUIRE(work.ok());
  std::vector<uint32_t> all;
  for (const auto& m : (*work)->messages()) all.push_back(m.uid);
  REQUIRE(all.size() == 2);
  std::vector<uint32_t> first{all[0]};
  REQUIRE((*work)->expunge(first).ok());
  u = usage_of(*a);
  CHECK(u.messages == 2);
  CHECK(u.bytes == walked(root_of(t)).bytes);

  // The sum of the lines is the usage, read without a walk.
  auto parsed = parse_maildirsize(slurp(file));
  REQUIRE(parsed);
  CHECK(parsed->usage.bytes == u.bytes);

  // Renaming moves nothing in or out; deleting takes the messages out.
  REQUIRE(a->rename_mailbox("Work", "Play").ok());
  CHECK(usage_of(*a).messages == 2);
  REQUIRE(a->delete_mailbox("Play").ok());
  u = usage_of(*a);
  CHECK(u.messages == 1);
  CHECK(u.bytes == walked(root_of(t)).bytes);
  // Renaming INBOX moves its messages: still counted once.
  REQUIRE(a->rename_mailbox("INBOX", "Old").ok());
  u = usage_of(*a);
  CHECK(u.messages == 1);
  CHECK(u.bytes == walked(root_of(t)).bytes);
}

TEST_CASE("maildirsize: recalculated when missing, damaged, too large or redefined") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  append(*a, "INBOX", "Subject: x\r\n\r\n12345\r\n");
  append(*a, "INBOX", "Subject: y\r\n\r\n67\r\n");
  QuotaUsage truth = walked(root_of(t));
  REQUIRE(truth.messages == 2);
  std::string file = root_of(t) + "/maildirsize";

  SUBCASE("missing") {
    fs::remove(file);
    CHECK(usage_of(*a).bytes == truth.bytes);
    CHECK(fs::exists(file));
    // Without known limits a new file gets the empty definition.
    CHECK(slurp(file).rfind("0S,0C\n", 0) == 0);
  }
  SUBCASE("damaged") {
    spit(file, "0S,0C\n12 1\ngarbage\n");
    CHECK(usage_of(*a).bytes == truth.bytes);
    CHECK(parse_maildirsize(slurp(file)));
  }
  SUBCASE("a negative sum is damage") {
    spit(file, "0S,0C\n5 1\n-50 -3\n");
    CHECK(usage_of(*a).bytes == truth.bytes);
  }
  SUBCASE("larger than 5120 bytes") {
    std::string big = "0S,0C\n";
    big += std::to_string(truth.bytes) + " " + std::to_string(truth.messages) + "\n";
    while (big.size() <= kQuotaFileMax) big += "0 0\n";
    spit(file, big);
    CHECK(usage_of(*a).bytes == truth.bytes);
    CHECK(slurp(file).size() < 100);
  }
  SUBCASE("definition changes: rewritten, old definition kept when unknown") {
    (void)usage_of(*a);
    a->set_quota_limits({123456, 7});
    CHECK(usage_of(*a).bytes == truth.bytes);
    CHECK(slurp(file).rfind("123456S,7C\n", 0) == 0);
    // A second Store that does not know the limits keeps that definition.
    fs::remove(file);
    auto s2 = make(t);
    auto b = account(*s2);
    spit(file, "123456S,7C\nbroken\n");
    CHECK(usage_of(*b).bytes == truth.bytes);
    CHECK(slurp(file).rfind("123456S,7C\n", 0) == 0);
  }
  SUBCASE("outside tools: a delivery into new/ and a removal in cur/") {
    (void)usage_of(*a);
    auto inbox = a->open_mailbox("INBOX", false);
    REQUIRE(inbox.ok());
    spit(root_of(t) + "/new/1700000000.outside.host", "Subject: o\n\nbody\n");
    REQUIRE((*inbox)->sync().ok());  // notices and numbers it
    auto u = usage_of(*a);
    CHECK(u.messages == 3);
    CHECK(u.bytes == walked(root_of(t)).bytes);
    std::string victim;
    for (const auto& e : fs::directory_iterator(root_of(t) + "/cur")) {
      victim = e.path().string();
      break;
    }
    fs::remove(victim);
    REQUIRE((*inbox)->sync().ok());
    u = usage_of(*a);
    CHECK(u.messages == 2);
    CHECK(u.bytes == walked(root_of(t)).bytes);
  }
}

TEST_CASE("maildirsize: a second Store writing while the first reads") {
  TempDir t;
  auto s1 = make(t);
  auto s2 = make(t);
  auto a1 = account(*s1);
  auto a2 = account(*s2);
  a1->set_quota_limits({1u << 30, 0});
  a2->set_quota_limits({1u << 30, 0});
  (void)usage_of(*a1);
  constexpr int kEach = 150;  // enough lines to pass 5120 bytes: recalculation races too
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kEach; ++i) append(*a2, "INBOX", "Subject: w\r\n\r\n" + std::to_string(i));
    done = true;
  });
  uint64_t last = 0;
  int reads = 0;
  bool monotonic = true;
  for (int i = 0; i < kEach; ++i) {
    append(*a1, "INBOX", "Subject: r\r\n\r\nx");
    auto u = a1->quota_usage();
    REQUIRE(u.ok());
    if (u->messages < last) monotonic = false;
    last = u->messages;
    ++reads;
  }
  writer.join();
  CHECK(monotonic);
  CHECK(reads == kEach);
  QuotaUsage truth = walked(root_of(t));
  CHECK(truth.messages == 2 * kEach);
  CHECK(usage_of(*a1).bytes == truth.bytes);
  CHECK(usage_of(*a1).messages == truth.messages);
  CHECK(usage_of(*a2).bytes == truth.bytes);
}

TEST_CASE("maildirsize: another process appends and expunges while we read") {
  TempDir t;
  {
    auto s = make(t);
    auto a = account(*s);
    (void)usage_of(*a);
  }
  constexpr int kChild = 120;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: its own Store (as `roost deliver` would be), no doctest.
    auto s = make_maildir_store({t.path + "/mail/{domain}/{user}", t.path + "/index", false});
    auto a = s->open_account("example.com", "alice");
    if (!a) ::_exit(2);
    std::vector<uint32_t> uids;
    for (int i = 0; i < kChild; ++i) {
      auto tx = (*a)->begin_append("INBOX", 0, {}, 0);
      if (!tx || !(*tx)->write("Subject: c\n\n" + std::string(static_cast<size_t>(i), 'z')) ||
          !(*tx)->commit()) {
        ::_exit(3);
      }
      if (i % 3 == 0) {
        auto mb = (*a)->open_mailbox("INBOX", false);
        if (!mb) ::_exit(4);
        std::vector<uint32_t> one{(*mb)->messages().front().uid};
        if (!(*mb)->expunge(one)) ::_exit(5);
      }
    }
    ::_exit(0);
  }
  auto s = make(t);
  auto a = account(*s);
  auto inbox = a->open_mailbox("INBOX", false);
  REQUIRE(inbox.ok());
  for (int i = 0; i < 80; ++i) {
    append(*a, "INBOX", "Subject: p\r\n\r\nparent");
    REQUIRE(a->quota_usage().ok());
    REQUIRE((*inbox)->sync().ok());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE((*inbox)->sync().ok());
  QuotaUsage truth = walked(root_of(t));
  CHECK(truth.messages == 80 + kChild - kChild / 3);
  auto u = usage_of(*a);
  CHECK(u.messages == truth.messages);
  CHECK(u.bytes == truth.bytes);
  // And the total agrees with the mailbox's own STATUS SIZE.
  auto st = a->mailbox_status("INBOX");
  REQUIRE(st.ok());
  CHECK(st->size == u.bytes);
}

TEST_CASE("memory store: exact usage counters") {
  auto s = make_memory_store();
  auto acc = s->open_account("example.com", "bob");
  REQUIRE(acc.ok());
  auto& a = **acc;
  REQUIRE(a.create_mailbox("A", SpecialUse::kNone).ok());
  append(a, "INBOX", "123\n");  // 5 CRLF octets
  uint32_t uid = append(a, "INBOX", "1234567");
  CHECK(usage_of(a).bytes == 12);
  CHECK(usage_of(a).messages == 2);
  auto inbox = a.open_mailbox("INBOX", false);
  REQUIRE(inbox.ok());
  std::vector<uint32_t> one{uid};
  uint32_t v = 0;
  REQUIRE((*inbox)->copy_to(one, "A", false, &v).ok());
  CHECK(usage_of(a).bytes == 19);
  REQUIRE((*inbox)->copy_to(one, "A", true, &v).ok());
  CHECK(usage_of(a).bytes == 19);
  CHECK(usage_of(a).messages == 3);
  REQUIRE(a.rename_mailbox("INBOX", "Old").ok());
  CHECK(usage_of(a).messages == 3);
  REQUIRE(a.delete_mailbox("A").ok());
  CHECK(usage_of(a).bytes == 5);
  CHECK(usage_of(a).messages == 1);
}
