// Tests specific to the Maildir backend: on-disk names, the index as a cache,
// outside tools touching the Maildir, several processes (simulated by several
// Store objects on the same directories).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "maildir_fixture.h"
#include "store/maildir/cache.h"
#include "store/maildir/debug.h"
#include "store/maildir/index.h"
#include "store/maildir/names.h"
#include "store/store.h"

using namespace store;
using namespace store::maildir;
using namespace store_test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

// Outside changes made in the same clock tick as one of ours may need up to
// kRescanSeconds to show: sync until `done` or a few seconds passed.
template <class Pred>
SyncResult sync_until(Mailbox& mb, Pred done) {
  SyncResult all;
  for (int i = 0; i < 40; ++i) {
    auto r = mb.sync();
    REQUIRE(r.ok());
    all.added.insert(all.added.end(), r->added.begin(), r->added.end());
    all.expunged.insert(all.expunged.end(), r->expunged.begin(), r->expunged.end());
    all.flags_changed.insert(all.flags_changed.end(), r->flags_changed.begin(),
                             r->flags_changed.end());
    if (done(all)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return all;
}

struct Snapshot {
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 0;
  uint64_t hms = 0;
  std::vector<MessageMeta> msgs;
};

Snapshot snapshot(Account& a, const std::string& name) {
  auto mb = open(a, name);
  Snapshot s;
  s.uidvalidity = mb->status().uidvalidity;
  s.uidnext = mb->status().uidnext;
  s.hms = mb->status().highest_modseq;
  s.msgs = mb->messages();
  return s;
}

void check_same_messages(const Snapshot& a, const Snapshot& b) {
  CHECK(a.uidvalidity == b.uidvalidity);
  CHECK(b.uidnext >= a.uidnext);
  REQUIRE(a.msgs.size() == b.msgs.size());
  for (size_t i = 0; i < a.msgs.size(); ++i) {
    INFO("uid ", a.msgs[i].uid);
    CHECK(a.msgs[i].uid == b.msgs[i].uid);
    CHECK(a.msgs[i].flags == b.msgs[i].flags);
    CHECK(a.msgs[i].keywords == b.msgs[i].keywords);
    CHECK(a.msgs[i].uidl == b.msgs[i].uidl);
    CHECK(a.msgs[i].hidden == b.msgs[i].hidden);
    CHECK(a.msgs[i].size == b.msgs[i].size);
    CHECK(a.msgs[i].internal_date == b.msgs[i].internal_date);
  }
}

}  // namespace

TEST_CASE("maildir: message file names") {
  MessageName m = parse_message_name("1700000000.M12P34Q5.host,S=10,W=12,U=7,H:2,FSac");
  CHECK(m.base == "1700000000.M12P34Q5.host");
  CHECK(m.raw_size() == 10u);
  CHECK(m.crlf_size() == 12u);
  CHECK(m.uid() == 7u);
  CHECK(m.hidden());
  CHECK(m.has_info);
  CHECK(m.info == "FSac");
  CHECK(m.str() == "1700000000.M12P34Q5.host,S=10,W=12,U=7,H:2,FSac");

  MessageName plain = parse_message_name("1700000001.V801I2M3.mx.example");
  CHECK(plain.base == "1700000001.V801I2M3.mx.example");
  CHECK_FALSE(plain.has_info);
  CHECK_FALSE(plain.uid());
  CHECK_FALSE(plain.crlf_size());
  CHECK_FALSE(plain.hidden());
  plain.set_field('U', "42");
  plain.set_field('W', "100");
  plain.set_field('S', "98");
  CHECK(plain.str() == "1700000001.V801I2M3.mx.example,S=98,W=100,U=42:2,");
  plain.set_hidden(true);
  CHECK(plain.str() == "1700000001.V801I2M3.mx.example,S=98,W=100,U=42,H:2,");
  plain.set_hidden(false);
  plain.set_field('U', "43");
  CHECK(parse_message_name(plain.str()).uid() == 43u);

  // Unknown fields are kept; U=0 and junk are not UIDs.
  MessageName odd = parse_message_name("b,X=1,U=0:2,S");
  CHECK(odd.fields == std::vector<std::string>{"X=1", "U=0"});
  CHECK_FALSE(odd.uid());
  CHECK_FALSE(parse_message_name("b,U=12a:2,").uid());
  CHECK_FALSE(parse_message_name("b,U=4294967296:2,").uid());
  CHECK(parse_message_name("b,U=4294967295:2,").uid() == 4294967295u);

  // Flags: DFRST known, P and unknown keyword letters preserved, ASCII order.
  CHECK(flags_from_info("DFPRST") == kAllFlags);
  CHECK(keyword_bits_from_info("Sacz") == ((1u << 0) | (1u << 2) | (1u << 25)));
  CHECK(merge_info("PSaz", kSeen | kDeleted | kDraft, 1u << 1, 0x3) == "DPSTbz");
  CHECK(merge_info("", 0, 0, 0).empty());

  // UIDL: the base when printable and short, else a stable hash.
  CHECK(uidl_for_base("1700000000.M12P34Q5.host") == "1700000000.M12P34Q5.host");
  std::string long_base(80, 'x');
  std::string h = uidl_for_base(long_base);
  CHECK(h.size() == 33);
  CHECK(h[0] == 'X');
  CHECK(h == uidl_for_base(long_base));
  CHECK(h != uidl_for_base(std::string(81, 'x')));
  CHECK(uidl_for_base("with space").size() == 33);
  CHECK(sanitize_host("mx1.example/a:b,c") == "mx1.example_a_b_c");
}

TEST_CASE("maildir: modified UTF-7 folder names") {
  // One component: modified UTF-7 (core/util/utf7.h) with '.' in the runs too.
  CHECK(folder_for_mailbox("Sent") == ".Sent");
  CHECK(folder_for_mailbox("Éléments envoyés") == ".&AMk-l&AOk-ments envoy&AOk-s");
  CHECK(folder_for_mailbox("日本語") == ".&ZeVnLIqe-");
  CHECK(folder_for_mailbox("a&b") == ".a&-b");
  CHECK(folder_for_mailbox("a.b") == ".a&AC4-b");
  CHECK(folder_for_mailbox("é.é") == ".&AOkALgDp-");  // one run, '.' inside it
  CHECK_FALSE(folder_for_mailbox("\xC3"));
  for (std::string s : {"Sent", "Éléments envoyés", "日本語", "a&b", "a.b", "emoji 📬", "&AMk-lo",
                        "Ελληνικά & co", "[Gmail]", "x.y.é", "é.é", "a-.&-b"}) {
    INFO(s);
    auto f = folder_for_mailbox(s);
    REQUIRE(f);
    CHECK(f->rfind('.') == 0);
    CHECK(f->find('/') == std::string::npos);
    CHECK(mailbox_for_folder(*f) == s);
  }
  // Only the canonical encoding of a component is a folder of ours.
  CHECK_FALSE(mailbox_for_folder(".&AGE-"));            // 'a' needlessly encoded
  CHECK_FALSE(mailbox_for_folder(".a.&AGE-"));          // same, in a later component
  CHECK_FALSE(mailbox_for_folder(".&AMk"));             // unterminated
  CHECK_FALSE(mailbox_for_folder(".&AMk-&AOk-"));       // two runs where one would do
  CHECK_FALSE(mailbox_for_folder(".&AOk-&AC4-&AOk-"));  // same, with an encoded '.'
  CHECK_FALSE(mailbox_for_folder(".&2D0-x"));           // a lone surrogate
  CHECK_FALSE(mailbox_for_folder(".&AOkA-"));           // a spare base64 character
  CHECK_FALSE(mailbox_for_folder(".&AOl-"));            // non-zero padding bits
  CHECK_FALSE(mailbox_for_folder(".a\tb"));
  CHECK_FALSE(mailbox_for_folder(".a&AC8-b"));  // would decode to "a/b"
  CHECK(mailbox_for_folder(".a&-b") == "a&b");
  CHECK(mailbox_for_folder(".&AMk-l&AOk-ments envoy&AOk-s") == "Éléments envoyés");

  CHECK(folder_for_mailbox("INBOX") == "");
  CHECK(folder_for_mailbox("inbox") == "");
  CHECK(folder_for_mailbox("inbox/Sub") == ".INBOX.Sub");
  CHECK(folder_for_mailbox("a/b.c") == ".a.b&AC4-c");
  CHECK(folder_for_mailbox("Éléments envoyés/2024") == ".&AMk-l&AOk-ments envoy&AOk-s.2024");
  CHECK_FALSE(folder_for_mailbox(std::string(251, 'x')));
  CHECK(mailbox_for_folder(".a.b&AC4-c") == "a/b.c");
  CHECK(mailbox_for_folder(".INBOX.Sub") == "INBOX/Sub");
  CHECK_FALSE(mailbox_for_folder(".inbox.Sub"));  // not what we would write
  CHECK_FALSE(mailbox_for_folder("..x"));
  CHECK_FALSE(mailbox_for_folder(".a..b"));
  CHECK_FALSE(mailbox_for_folder(".a."));
  CHECK_FALSE(mailbox_for_folder("."));
  CHECK_FALSE(mailbox_for_folder("nodot"));
  CHECK_FALSE(mailbox_for_folder(".&AC4-"));    // would decode to "."
  CHECK_FALSE(mailbox_for_folder(".&AC4AL-"));  // ".." (and not canonical)
}

TEST_CASE("maildir: layout on disk") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  std::string root = root_of(t);
  REQUIRE(a->create_mailbox("Lists/dev.team", SpecialUse::kNone).ok());
  REQUIRE(a->create_mailbox("Sent", SpecialUse::kSent).ok());
  uint32_t uid = append(*a, "Lists/dev.team", "Subject: x\n\nhi\n", kSeen | kFlagged, {"$Work"});
  CHECK(uid == 1);
  for (const char* d : {"cur", "new", "tmp", ".Lists", ".Lists.dev&AC4-team", ".Sent"}) {
    INFO(d);
    CHECK(fs::is_directory(root + "/" + d));
  }
  CHECK(fs::exists(root + "/.Lists.dev&AC4-team/maildirfolder"));
  CHECK(fs::exists(root + "/.Sent/maildirfolder"));
  std::string uids = read_file(root + "/.Lists.dev&AC4-team/roost-uids");
  CHECK(uids.rfind("roost-uids 1\n", 0) == 0);
  CHECK(read_file(root + "/.Lists.dev&AC4-team/roost-keywords") == "a $Work\n");
  CHECK(read_file(root + "/roost-special-use") == "sent Sent\n");
  auto files = list(root + "/.Lists.dev&AC4-team/cur");
  REQUIRE(files.size() == 1);
  MessageName m = parse_message_name(files[0]);
  CHECK(m.uid() == 1u);
  CHECK(m.raw_size() == 15u);
  CHECK(m.crlf_size() == 18u);
  CHECK(m.info == "FSa");
  CHECK(list(root + "/.Lists.dev&AC4-team/tmp").empty());
  REQUIRE(a->set_subscribed("Lists/dev.team", true).ok());
  CHECK(read_file(root + "/subscriptions") == "Lists/dev.team\n");
  // Hidden is a field before ":2,", not a flag letter.
  auto mb = open(*a, "Lists/dev.team");
  REQUIRE(mb->set_hidden(std::vector<uint32_t>{uid}, true).ok());
  files = list(root + "/.Lists.dev&AC4-team/cur");
  REQUIRE(files.size() == 1);
  CHECK(files[0].find(",H:2,FSa") != std::string::npos);
  // The UIDL is the base name.
  CHECK(mb->messages()[0].uidl == m.base);
  // Too many keywords for one mailbox.
  std::vector<std::string> kws;
  for (int i = 0; i < 25; ++i) kws.push_back("k" + std::to_string(i));
  auto r = mb->store_flags(std::vector<uint32_t>{uid}, FlagChange{FlagOp::kAdd, 0, kws, 0});
  REQUIRE(r.ok());
  r = mb->store_flags(std::vector<uint32_t>{uid}, FlagChange{FlagOp::kAdd, 0, {"one-more"}, 0});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::kNoPermission);
  CHECK(mb->messages()[0].keywords.size() == 26);
}

TEST_CASE("maildir: deleting the index keeps UIDs, UIDVALIDITY, UIDLs, flags") {
  TempDir t;
  Snapshot before_inbox, before_sub;
  {
    auto s = make(t);
    auto a = account(*s);
    REQUIRE(a->create_mailbox("Sub").ok());
    for (int i = 0; i < 6; ++i) {
      append(*a, "INBOX", "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n", i % 2 ? kSeen : 0u,
             i == 3 ? std::vector<std::string>{"$Label1", "x"} : std::vector<std::string>{},
             1600000000 + i);
    }
    append(*a, "Sub", "Subject: sub\n\nbody\n", kDraft);
    auto mb = open(*a, "INBOX");
    REQUIRE(mb->set_hidden(std::vector<uint32_t>{2, 4}, true).ok());
    REQUIRE(mb->expunge(std::vector<uint32_t>{1}).ok());
    REQUIRE(
        mb->store_flags(std::vector<uint32_t>{5}, FlagChange{FlagOp::kAdd, kAnswered, {}, 0}).ok());
    before_inbox = snapshot(*a, "INBOX");
    before_sub = snapshot(*a, "Sub");
  }
  REQUIRE(fs::exists(t.path + "/index/example.com/alice/INBOX.idx"));
  fs::remove_all(t.path + "/index");
  auto reads = counters().message_reads;
  auto s = make(t);
  auto a = account(*s);
  Snapshot after = snapshot(*a, "INBOX");
  check_same_messages(before_inbox, after);
  CHECK(after.hms >= before_inbox.hms);
  check_same_messages(before_sub, snapshot(*a, "Sub"));
  CHECK(counters().message_reads == reads);  // sizes come from the names
  // Appending after the rebuild continues above every UID.
  uint32_t next = append(*a, "INBOX", "Subject: new\r\n\r\n");
  CHECK(next >= before_inbox.uidnext);
}

TEST_CASE("maildir: expunging the highest UID then losing the index") {
  TempDir t;
  uint32_t top = 0;
  {
    auto s = make(t);
    auto a = account(*s);
    for (int i = 0; i < 3; ++i) top = append(*a, "INBOX", "Subject: x\r\n\r\n");
    auto mb = open(*a, "INBOX");
    REQUIRE(mb->expunge(std::vector<uint32_t>{top}).ok());
  }
  fs::remove_all(t.path + "/index");
  auto s = make(t);
  auto a = account(*s);
  auto st = a->mailbox_status("INBOX");
  REQUIRE(st.ok());
  CHECK(st->uidnext > top);
  CHECK(st->messages == 2);
  CHECK(append(*a, "INBOX", "Subject: y\r\n\r\n") > top);
}

TEST_CASE("maildir: a damaged index is rebuilt") {
  TempDir t;
  Snapshot before;
  {
    auto s = make(t);
    auto a = account(*s);
    for (int i = 0; i < 5; ++i) append(*a, "INBOX", "Subject: x\r\n\r\n", kFlagged);
    before = snapshot(*a, "INBOX");
  }
  std::string idx = t.path + "/index/example.com/alice/INBOX.idx";
  std::string good = read_file(idx);
  REQUIRE(good.size() > kIndexHeaderSize);
  IndexHeader h;
  std::vector<IndexEntry> ents;
  REQUIRE(decode_index(good, &h, &ents));
  CHECK(ents.size() == 5);
  CHECK(h.uidvalidity == before.uidvalidity);

  std::vector<std::string> damaged;
  std::string flipped = good;
  flipped[kIndexHeaderSize + 20] ^= 0x40;  // inside a record
  damaged.push_back(flipped);
  flipped = good;
  flipped[30] ^= 1;  // inside the header
  damaged.push_back(flipped);
  damaged.push_back(good.substr(0, good.size() - 3));  // truncated
  damaged.push_back(good.substr(0, 50));
  damaged.push_back("");
  damaged.push_back("garbage that is not an index at all");
  for (const auto& bad : damaged) {
    CHECK_FALSE(decode_index(bad, &h, &ents));
    write_file(idx, bad);
    auto loads = counters().index_loads;
    auto s = make(t);
    auto a = account(*s);
    check_same_messages(before, snapshot(*a, "INBOX"));
    CHECK(counters().index_loads == loads);  // the damaged file was not used
  }
}

TEST_CASE("maildir: a file dropped into new/ by an MTA") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  uint32_t first = append(*a, "INBOX", "Subject: a\r\n\r\n");
  auto mb = open(*a, "INBOX");
  std::string root = root_of(t);
  // As an MTA delivers: write in tmp/, rename into new/. LF line ends.
  std::string body = "From: x@example.net\nSubject: outside\n\nline\n";
  write_file(root + "/tmp/1700000005.V801I99M1.mx.example", body);
  struct timespec ts[2] = {{1700000005, 0}, {1700000005, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (root + "/tmp/1700000005.V801I99M1.mx.example").c_str(), ts, 0) ==
          0);
  fs::rename(root + "/tmp/1700000005.V801I99M1.mx.example",
             root + "/new/1700000005.V801I99M1.mx.example");
  auto reads = counters().message_reads;
  auto r = sync_until(*mb, [](const SyncResult& x) { return !x.added.empty(); });
  REQUIRE(r.added.size() == 1);
  uint32_t uid = r.added[0];
  CHECK(uid > first);
  CHECK(counters().message_reads == reads + 1);  // its size had to be counted
  const MessageMeta& m = mb->messages().back();
  CHECK(m.size == body.size() + 4);
  CHECK(m.internal_date == 1700000005);
  CHECK(m.uidl == "1700000005.V801I99M1.mx.example");
  CHECK(m.flags == 0);
  CHECK(list(root + "/new").empty());
  auto cur = list(root + "/cur");
  CHECK(std::count_if(cur.begin(), cur.end(), [&](const std::string& n) {
          return n.rfind("1700000005.V801I99M1.mx.example,", 0) == 0 &&
                 n.find(",U=" + std::to_string(uid) + ":2,") != std::string::npos;
        }) == 1);
  // The status of a mailbox nobody has open sees new mail too.
  write_file(root + "/new/1700000006.V801I98M1.mx.example", "Subject: two\n\n");
  auto st = a->mailbox_status("INBOX");
  REQUIRE(st.ok());
  CHECK(st->messages == 3);
  // A file put into cur/ without a UID gets one; so does a copy of a file
  // that already has one (with its own UIDL).
  write_file(root + "/cur/1700000007.plain.host:2,S", "Subject: cur\n\n");
  auto names = list(root + "/cur");
  std::string with_uid;
  for (const auto& n : names) {
    if (n.rfind("1700000005.", 0) == 0) with_uid = n;
  }
  REQUIRE(!with_uid.empty());
  fs::copy_file(root + "/cur/" + with_uid,
                root + "/cur/copy-of-it,U=" + std::to_string(uid) + ":2,F");
  r = sync_until(*mb, [](const SyncResult& x) { return x.added.size() >= 3; });
  CHECK(r.added.size() == 3);
  std::set<std::string> uidls;
  std::set<uint32_t> uids;
  for (const auto& msg : mb->messages()) {
    uidls.insert(msg.uidl);
    uids.insert(msg.uid);
  }
  CHECK(uidls.size() == mb->messages().size());
  CHECK(uids.size() == mb->messages().size());
}

TEST_CASE("maildir: flags changed and files removed by an outside tool") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  uint32_t u1 = append(*a, "INBOX", "Subject: 1\r\n\r\n");
  uint32_t u2 = append(*a, "INBOX", "Subject: 2\r\n\r\n", kSeen);
  auto mb = open(*a, "INBOX");
  std::string cur = root_of(t) + "/cur";
  auto files = list(cur);
  REQUIRE(files.size() == 2);
  std::string f1, f2;
  for (const auto& f : files) {
    (parse_message_name(f).uid() == u1 ? f1 : f2) = f;
  }
  // A mail client working on the Maildir marks u1 seen and flagged
  // (with the 'P' flag we do not map, kept as is).
  std::string renamed = f1.substr(0, f1.find(':')) + ":2,FPS";
  fs::rename(cur + "/" + f1, cur + "/" + renamed);
  auto r = sync_until(*mb, [](const SyncResult& x) { return !x.flags_changed.empty(); });
  CHECK(r.flags_changed == std::vector<uint32_t>{u1});
  CHECK(mb->messages()[0].flags == (kSeen | kFlagged));
  // Our own change keeps the unknown 'P'.
  REQUIRE(
      mb->store_flags(std::vector<uint32_t>{u1}, FlagChange{FlagOp::kAdd, kDeleted, {}, 0}).ok());
  files = list(cur);
  CHECK(std::count_if(files.begin(), files.end(), [](const std::string& n) {
          return n.size() > 7 && n.substr(n.size() - 7) == ":2,FPST";
        }) == 1);
  // Deleted from outside: an expunge.
  fs::remove(cur + "/" + f2);
  r = sync_until(*mb, [](const SyncResult& x) { return !x.expunged.empty(); });
  CHECK(r.expunged == std::vector<uint32_t>{u2});
  CHECK(mb->messages().size() == 1);
}

TEST_CASE("maildir: two processes append to the same mailbox") {
  TempDir t;
  constexpr int kEach = 60;
  std::vector<std::vector<uint32_t>> got(2);
  auto worker = [&](int k) {
    auto s = make(t);  // its own Store: shares nothing in memory with the other
    auto a = s->open_account("example.com", "alice");
    if (!a) return;
    auto mb = (*a)->open_mailbox("INBOX", false);
    for (int i = 0; i < kEach; ++i) {
      auto tx = (*a)->begin_append("INBOX", 0, {}, 0);
      if (!tx || !(*tx)->write("Subject: p" + std::to_string(k) + "\r\n\r\n")) continue;
      auto uid = (*tx)->commit();
      if (uid) got[static_cast<size_t>(k)].push_back(*uid);
      if (mb && i % 7 == 0) (void)(*mb)->sync();
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  REQUIRE(got[0].size() == kEach);
  REQUIRE(got[1].size() == kEach);
  std::set<uint32_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  CHECK(all.size() == 2 * kEach);
  auto s = make(t);
  auto a = account(*s);
  auto mb = open(*a, "INBOX");
  std::vector<uint32_t> uids;
  for (const auto& m : mb->messages()) uids.push_back(m.uid);
  CHECK(std::set<uint32_t>(uids.begin(), uids.end()) == all);
}

TEST_CASE("maildir: a 20,000-message mailbox opens from the index alone") {
  TempDir t;
  constexpr int kCount = 20000;
  std::string root = root_of(t);
  {
    auto s = make(t);
    auto a = account(*s);
    REQUIRE(a->mailbox_status("INBOX").ok());  // creates roost-uids
  }
  // Files as Roost names them, written directly (faster than 20,000 appends).
  std::string body = "Subject: bulk\r\n\r\nx\r\n";
  for (int i = 1; i <= kCount; ++i) {
    std::string n = "1700000000.M" + std::to_string(i) +
                    "P1Q1.bulk,S=" + std::to_string(body.size()) +
                    ",W=" + std::to_string(body.size()) + ",U=" + std::to_string(i) + ":2," +
                    (i % 3 ? "S" : "");
    int fd = ::open((root + "/cur/" + n).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
    ::close(fd);
  }
  // Let cur/ look old, so its mtime is trusted at once.
  struct timespec old[2] = {{1700000000, 0}, {1700000000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (root + "/cur").c_str(), old, 0) == 0);
  Counters c0 = counters();
  {
    auto s = make(t);
    auto a = account(*s);
    auto mb = open(*a, "INBOX");
    CHECK(mb->messages().size() == kCount);
    CHECK(mb->messages().back().uid == kCount);
  }  // the index is written when the last handle goes
  Counters c1 = counters();
  CHECK(c1.message_reads == c0.message_reads);  // sizes from the names
  CHECK(c1.index_writes > c0.index_writes);
  auto start = std::chrono::steady_clock::now();
  auto s = make(t);
  auto a = account(*s);
  auto mb = open(*a, "INBOX");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Counters c2 = counters();
  CHECK(mb->messages().size() == kCount);
  CHECK(c2.index_loads == c1.index_loads + 1);
  CHECK(c2.cur_scans == c1.cur_scans);  // not even a listing of cur/
  CHECK(c2.message_reads == c1.message_reads);
  CHECK(secs < 2.0);
  auto st = a->mailbox_status("INBOX");
  REQUIRE(st.ok());
  CHECK(st->messages == kCount);
  CHECK(st->unseen == kCount / 3);
  // A sync with nothing new lists nothing.
  auto r = mb->sync();
  REQUIRE(r.ok());
  CHECK(r->added.empty());
  CHECK(counters().cur_scans == c2.cur_scans);
}

TEST_CASE("maildir: a closed mailbox stays loaded within the mailbox cache") {
  TempDir t;
  size_t old_limit = mailbox_cache_limit();
  set_mailbox_cache_limit(1000);
  auto s = make(t);
  auto a = account(*s);
  for (int i = 0; i < 3; ++i) append(*a, "INBOX", "Subject: m\r\n\r\nbody\r\n");
  { auto mb = open(*a, "INBOX"); }
  std::string root = root_of(t);
  // Let cur/ settle, so that only a real change makes it be listed again.
  struct timespec old_ts[2] = {{1700000000, 0}, {1700000000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (root + "/cur").c_str(), old_ts, 0) == 0);
  { auto mb = open(*a, "INBOX"); }

  SUBCASE("reopened without reading the index or listing cur/") {
    auto loads = counters().index_loads;
    auto scans = counters().cur_scans;
    auto mb = open(*a, "INBOX");
    CHECK(mb->messages().size() == 3);
    CHECK(counters().index_loads == loads);
    CHECK(counters().cur_scans == scans);
  }
  SUBCASE("changes made while nobody had it open are seen on reopening") {
    auto cur = list(root + "/cur");
    REQUIRE(cur.size() == 3);
    std::string victim = cur[0];
    fs::remove(root + "/cur/" + victim);  // an outside tool removes one
    write_file(root + "/new/1700000009.V1I1M1.mx.example", "Subject: new\n\nx\n");
    auto mb = open(*a, "INBOX");
    CHECK(mb->messages().size() == 3);  // one gone, one new
    for (const auto& m : mb->messages()) CHECK(victim.rfind(m.uidl, 0) != 0);
  }
  SUBCASE("with a limit of 0 nothing is kept") {
    set_mailbox_cache_limit(0);
    { auto mb = open(*a, "INBOX"); }  // closed with the limit at 0
    auto loads = counters().index_loads;
    auto mb = open(*a, "INBOX");
    CHECK(mb->messages().size() == 3);
    CHECK(counters().index_loads == loads + 1);  // loaded from the index again
  }
  set_mailbox_cache_limit(old_limit);
}

TEST_CASE("maildir: store.exclusive trusts cur/ after Roost's own changes") {
  // Two accounts' stores, one promising that only Roost changes its Maildir.
  TempDir t_shared, t_excl;
  auto shared = make(t_shared);
  auto excl = make_maildir_store(
      {t_excl.path + "/mail/{domain}/{user}", t_excl.path + "/index", false, true});
  auto a_shared = account(*shared);
  auto a_excl = account(*excl);
  for (int i = 0; i < 3; ++i) {
    append(*a_shared, "INBOX", "Subject: m\r\n\r\nbody\r\n");
    append(*a_excl, "INBOX", "Subject: m\r\n\r\nbody\r\n");
  }
  auto mb_shared = open(*a_shared, "INBOX");
  auto mb_excl = open(*a_excl, "INBOX");
  FlagChange seen{FlagOp::kAdd, kSeen, {}, 0};
  REQUIRE(mb_shared->store_flags(std::vector<uint32_t>{1}, seen).ok());
  REQUIRE(mb_excl->store_flags(std::vector<uint32_t>{1}, seen).ok());
  // Past kSettleSeconds: the stamps taken after those changes are settled.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));

  auto scans = counters().cur_scans;
  REQUIRE(mb_shared->sync().ok());
  CHECK(counters().cur_scans == scans + 1);  // an outside tool might have changed it meanwhile
  REQUIRE(mb_excl->sync().ok());
  CHECK(counters().cur_scans == scans + 1);  // trusted: nobody else changes it
  REQUIRE(mb_excl->sync().ok());
  CHECK(counters().cur_scans == scans + 1);

  // A rename in a later tick still shows in the mtime and is seen.
  std::string root = t_excl.path + "/mail/example.com/alice/cur/";
  auto cur = list(root);
  REQUIRE(cur.size() == 3);
  std::string victim;
  for (const auto& n : cur) {
    if (n.find(",U=2:") != std::string::npos) victim = n;
  }
  REQUIRE(!victim.empty());
  fs::rename(root + victim, root + victim + "F");
  auto r = sync_until(*mb_excl, [](const SyncResult& s) { return !s.flags_changed.empty(); });
  REQUIRE(r.flags_changed.size() == 1);
  CHECK(r.flags_changed[0] == 2);
  CHECK((mb_excl->messages()[1].flags & kFlagged) != 0);
}

TEST_CASE("maildir: poll_due lets one handle's check serve the others") {
  TempDir t;
  auto s = make(t);
  auto a = account(*s);
  append(*a, "INBOX", "Subject: a\n\nx\n");
  auto h1 = open(*a, "INBOX");
  auto h2 = open(*a, "INBOX");
  REQUIRE(h1->sync().ok());
  CHECK_FALSE(h2->poll_due(60000));  // h1 just looked and h2's view is current
  CHECK(h2->poll_due(0));
  // Another program drops a message: nobody has looked since.
  write_file(root_of(t) + "/new/1700000000.outside.host", "Subject: b\n\ny\n");
  CHECK_FALSE(h2->poll_due(60000));
  bool woken = false;
  h2->on_change([&woken] { woken = true; });
  auto found = sync_until(*h1, [](const SyncResult& r) { return !r.added.empty(); });
  REQUIRE(found.added.size() == 1);
  CHECK(woken);                // h1's check tells h2 ...
  CHECK(h2->poll_due(60000));  // ... whose view is now behind
  REQUIRE(h2->sync()->added.size() == 1);
  CHECK_FALSE(h2->poll_due(60000));
  h2->on_change(nullptr);
}
