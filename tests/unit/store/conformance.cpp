// The store conformance suite. Every TEST_CASE runs its check once per backend
// of store_backends(), each time with a fresh store. Only the contract of
// store/store.h is tested here; backend-specific tests live in their own files.
#include "conformance.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

using namespace store;

namespace store_test {
namespace {

struct Fixture {
  std::string backend;
  std::unique_ptr<Store> store;
  std::shared_ptr<Account> account;
};

// Runs `check` once per backend, with a fresh store and the account
// alice@example.com opened in it.
template <class F>
void for_each_backend(F&& check) {
  for (const auto& backend : store_backends()) {
    INFO("backend: ", backend.name);
    Fixture f;
    f.backend = backend.name;
    f.store = backend.make();
    REQUIRE(f.store != nullptr);
    auto acct = f.store->open_account("example.com", "alice");
    REQUIRE(acct.ok());
    f.account = *acct;
    REQUIRE(f.account != nullptr);
    check(f);
  }
}

std::string errc_name(Errc c) {
  switch (c) {
    case Errc::kNotFound:
      return "kNotFound";
    case Errc::kAlreadyExists:
      return "kAlreadyExists";
    case Errc::kInvalidName:
      return "kInvalidName";
    case Errc::kNoPermission:
      return "kNoPermission";
    case Errc::kHasChildren:
      return "kHasChildren";
    case Errc::kOverQuota:
      return "kOverQuota";
    case Errc::kTooBig:
      return "kTooBig";
    case Errc::kLocked:
      return "kLocked";
    case Errc::kIo:
      return "kIo";
    case Errc::kCorrupt:
      return "kCorrupt";
  }
  return "?";
}

// The error code of a failed result, or "ok".
template <class R>
std::string code_of(const R& r) {
  return r.ok() ? std::string("ok") : errc_name(r.error().code);
}

template <class R>
void require_ok(const R& r) {
  if (!r.ok()) FAIL_CHECK("unexpected error ", errc_name(r.error().code), ": ", r.error().message);
  REQUIRE(r.ok());
}

uint32_t append(Account& acct, const std::string& mailbox, std::string_view body,
                uint32_t flags = 0, std::vector<std::string> keywords = {},
                int64_t internal_date = 0) {
  auto tx = acct.begin_append(mailbox, flags, std::move(keywords), internal_date);
  require_ok(tx);
  // Write in a few chunks, as a front-end streaming a literal would.
  for (size_t pos = 0; pos < body.size(); pos += 7) require_ok((*tx)->write(body.substr(pos, 7)));
  auto uid = (*tx)->commit();
  require_ok(uid);
  REQUIRE(*uid > 0);
  return *uid;
}

std::unique_ptr<Mailbox> open(Account& acct, const std::string& name, bool read_only = false) {
  auto mb = acct.open_mailbox(name, read_only);
  require_ok(mb);
  REQUIRE(*mb != nullptr);
  return std::move(*mb);
}

SyncResult sync(Mailbox& mb) {
  auto r = mb.sync();
  require_ok(r);
  return *r;
}

std::vector<uint32_t> uids_of(const Mailbox& mb) {
  std::vector<uint32_t> out;
  for (const auto& m : mb.messages()) out.push_back(m.uid);
  return out;
}

const MessageMeta* meta_of(const Mailbox& mb, uint32_t uid) {
  for (const auto& m : mb.messages()) {
    if (m.uid == uid) return &m;
  }
  return nullptr;
}

std::string read_all(Mailbox& mb, uint32_t uid, size_t chunk = 5) {
  auto s = mb.open_message(uid);
  require_ok(s);
  std::string out;
  std::vector<char> buf(chunk);
  for (;;) {
    auto n = (*s)->read(buf.data(), buf.size());
    require_ok(n);
    if (*n == 0) break;
    out.append(buf.data(), *n);
  }
  CHECK(out.size() == (*s)->raw_size());
  return out;
}

// Backends may store LF or CRLF line ends; compare with CRLF turned into LF.
std::string lf(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out.push_back(s[i]);
  }
  return out;
}

std::vector<MailboxInfo> list(Account& acct) {
  auto r = acct.list_mailboxes();
  require_ok(r);
  return *r;
}

const MailboxInfo* find_info(const std::vector<MailboxInfo>& infos, const std::string& name) {
  for (const auto& i : infos) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

bool exists(Account& acct, const std::string& name) {
  auto infos = list(acct);
  const MailboxInfo* i = find_info(infos, name);
  return i != nullptr && !i->noselect;
}

MailboxStatus status(Account& acct, const std::string& name) {
  auto r = acct.mailbox_status(name);
  require_ok(r);
  return *r;
}

std::string message(int i) {
  return "From: a@example.com\r\nTo: b@example.com\r\nSubject: test " + std::to_string(i) +
         "\r\n\r\nbody " + std::to_string(i) + "\r\n";
}

// Waits (briefly) until a counter becomes non-zero: callbacks may come from
// another thread.
bool eventually(const std::atomic<int>& counter) {
  for (int i = 0; i < 200 && counter.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return counter.load() != 0;
}

}  // namespace

// --- Accounts ------------------------------------------------------------------

TEST_CASE("store conformance: accounts and INBOX") {
  for_each_backend([](Fixture& f) {
    auto infos = list(*f.account);
    REQUIRE(find_info(infos, "INBOX") != nullptr);
    CHECK_FALSE(find_info(infos, "INBOX")->noselect);
    for (const char* spelling : {"INBOX", "inbox", "InBoX"}) {
      auto mb = open(*f.account, spelling);
      CHECK(mb->messages().empty());
      auto st = f.account->mailbox_status(spelling);
      require_ok(st);
      CHECK(st->uidvalidity != 0);
    }
    // Opening the same account again shares the data.
    uint32_t uid = append(*f.account, "INBOX", message(1));
    auto again = f.store->open_account("example.com", "alice");
    require_ok(again);
    CHECK(status(**again, "INBOX").messages == 1);
    auto mb = open(**again, "INBOX");
    CHECK(uids_of(*mb) == std::vector<uint32_t>{uid});
    // Another account is separate.
    auto bob = f.store->open_account("example.com", "bob");
    require_ok(bob);
    CHECK(status(**bob, "INBOX").messages == 0);
    auto other_domain = f.store->open_account("example.org", "alice");
    require_ok(other_domain);
    CHECK(status(**other_domain, "INBOX").messages == 0);
  });
}

// --- Append, read, sizes ----------------------------------------------------------

TEST_CASE("store conformance: append is invisible until commit") {
  for_each_backend([](Fixture& f) {
    auto mb = open(*f.account, "INBOX");
    {
      auto tx = f.account->begin_append("INBOX", 0, {}, 0);
      require_ok(tx);
      require_ok((*tx)->write(message(1)));
      CHECK(status(*f.account, "INBOX").messages == 0);
      auto r = sync(*mb);
      CHECK(r.added.empty());
      CHECK(mb->messages().empty());
      auto uid = (*tx)->commit();
      require_ok(uid);
      CHECK(status(*f.account, "INBOX").messages == 1);
      r = sync(*mb);
      CHECK(r.added == std::vector<uint32_t>{*uid});
    }
    {
      // Destroyed without commit: discarded.
      auto tx = f.account->begin_append("INBOX", kSeen, {}, 0);
      require_ok(tx);
      require_ok((*tx)->write(message(2)));
    }
    CHECK(status(*f.account, "INBOX").messages == 1);
    CHECK(sync(*mb).added.empty());
    CHECK(f.account->quota_usage()->messages == 1);
    // Appending to a missing mailbox or a bad name fails.
    CHECK(code_of(f.account->begin_append("Nope", 0, {}, 0)) == "kNotFound");
    CHECK(code_of(f.account->begin_append("a/../b", 0, {}, 0)) == "kInvalidName");
  });
}

TEST_CASE("store conformance: append metadata, sizes and UIDL") {
  for_each_backend([](Fixture& f) {
    const std::string crlf = "Subject: x\r\n\r\nline one\r\nline two\r\n";
    const std::string bare = "Subject: x\n\nline one\nline two\n";
    const int64_t date = 1700000000;
    uint32_t u1 = append(*f.account, "INBOX", crlf, kSeen | kFlagged, {"$Label1"}, date);
    uint32_t u2 = append(*f.account, "INBOX", bare, 0, {"foo", "FOO", "bar", "\\Recent"}, 0);
    time_t after = std::time(nullptr);
    CHECK(u2 > u1);
    auto mb = open(*f.account, "INBOX");
    REQUIRE(mb->messages().size() == 2);
    const MessageMeta* m1 = meta_of(*mb, u1);
    const MessageMeta* m2 = meta_of(*mb, u2);
    REQUIRE(m1);
    REQUIRE(m2);
    // Sizes count CRLF line ends: both messages have the same CRLF size.
    CHECK(m1->size == crlf.size());
    CHECK(m2->size == crlf.size());
    CHECK(m1->flags == (kSeen | kFlagged));
    CHECK(m1->keywords == std::vector<std::string>{"$Label1"});
    CHECK(m1->internal_date == date);
    CHECK(m2->flags == 0);
    // Case-insensitive unique, sorted, and "\Recent" is not a keyword.
    REQUIRE(m2->keywords.size() == 2);
    CHECK(std::is_sorted(m2->keywords.begin(), m2->keywords.end()));
    CHECK(m2->keywords[0] == "bar");
    CHECK((m2->keywords[1] == "foo" || m2->keywords[1] == "FOO"));
    // internal_date 0 = now.
    CHECK(m2->internal_date > after - 60);
    CHECK(m2->internal_date <= after + 1);
    CHECK(m1->modseq >= 1);
    CHECK(m2->modseq >= 1);
    CHECK_FALSE(m1->hidden);
    // Raw bytes round-trip (modulo the line-end convention on disk).
    CHECK(lf(read_all(*mb, u1)) == lf(crlf));
    CHECK(lf(read_all(*mb, u2, 3)) == lf(bare));
    // UIDL: printable, at most 70, distinct, stable.
    std::set<std::string> uidls;
    for (const auto& m : mb->messages()) {
      CHECK_FALSE(m.uidl.empty());
      CHECK(m.uidl.size() <= 70);
      for (char c : m.uidl) CHECK((c >= 0x21 && c <= 0x7e));
      uidls.insert(m.uidl);
    }
    CHECK(uidls.size() == 2);
    auto mb2 = open(*f.account, "INBOX", true);
    REQUIRE(mb2->messages().size() == 2);
    CHECK(mb2->messages()[0].uidl == mb->messages()[0].uidl);
    CHECK(mb2->messages()[1].uidl == mb->messages()[1].uidl);
    // Status counts.
    MailboxStatus st = status(*f.account, "INBOX");
    CHECK(st.messages == 2);
    CHECK(st.unseen == 1);
    CHECK(st.deleted == 0);
    CHECK(st.size == 2 * crlf.size());
    CHECK(st.uidnext > u2);
    CHECK(st.highest_modseq >= std::max(m1->modseq, m2->modseq));
    MailboxStatus hs = mb->status();
    CHECK(hs.messages == 2);
    CHECK(hs.unseen == 1);
    CHECK(hs.size == st.size);
    CHECK(hs.uidvalidity == st.uidvalidity);
    // An empty message and one without a final line end are fine too.
    uint32_t u3 = append(*f.account, "INBOX", "");
    uint32_t u4 = append(*f.account, "INBOX", "a\nb");
    sync(*mb);
    CHECK(meta_of(*mb, u3)->size == 0);
    CHECK(meta_of(*mb, u4)->size == 4);
    CHECK(read_all(*mb, u3).empty());
  });
}

TEST_CASE("store conformance: message streams read and seek") {
  for_each_backend([](Fixture& f) {
    std::string body = "Subject: big\r\n\r\n";
    for (int i = 0; i < 5000; ++i) body += "line " + std::to_string(i) + " of a larger message\r\n";
    uint32_t uid = append(*f.account, "INBOX", body);
    auto mb = open(*f.account, "INBOX");
    std::string raw = read_all(*mb, uid, 4096);
    CHECK(lf(raw) == lf(body));
    CHECK(meta_of(*mb, uid)->size == body.size());
    auto s = mb->open_message(uid);
    require_ok(s);
    CHECK((*s)->raw_size() == raw.size());
    char buf[16];
    require_ok((*s)->seek(raw.size() - 10));
    auto n = (*s)->read(buf, sizeof buf);
    require_ok(n);
    CHECK(std::string(buf, *n) == raw.substr(raw.size() - 10));
    auto end = (*s)->read(buf, sizeof buf);
    require_ok(end);
    CHECK(*end == 0);
    require_ok((*s)->seek(0));
    n = (*s)->read(buf, 9);
    require_ok(n);
    CHECK(std::string(buf, *n) == "Subject: ");
    require_ok((*s)->seek(raw.size()));
    end = (*s)->read(buf, sizeof buf);
    require_ok(end);
    CHECK(*end == 0);
    require_ok((*s)->seek(1000));
    n = (*s)->read(buf, 10);
    require_ok(n);
    CHECK(std::string(buf, *n) == raw.substr(1000, 10));
    CHECK(code_of(mb->open_message(uid + 1000)) == "kNotFound");
  });
}

// --- UIDs and modseq ----------------------------------------------------------------

TEST_CASE("store conformance: UIDs are never reused") {
  for_each_backend([](Fixture& f) {
    std::vector<uint32_t> uids;
    for (int i = 0; i < 5; ++i) uids.push_back(append(*f.account, "INBOX", message(i)));
    CHECK(std::is_sorted(uids.begin(), uids.end()));
    CHECK(std::adjacent_find(uids.begin(), uids.end()) == uids.end());
    MailboxStatus before = status(*f.account, "INBOX");
    CHECK(before.uidvalidity != 0);
    CHECK(before.uidnext > uids.back());
    auto mb = open(*f.account, "INBOX");
    // Expunge the highest UID, then append: the new UID is above it.
    uint32_t top = uids.back();
    require_ok(mb->expunge(std::span<const uint32_t>(&top, 1)));
    MailboxStatus mid = status(*f.account, "INBOX");
    CHECK(mid.uidnext > top);
    CHECK(mid.messages == 4);
    CHECK(mid.uidvalidity == before.uidvalidity);
    uint32_t next = append(*f.account, "INBOX", message(9));
    CHECK(next > top);
    CHECK(next >= before.uidnext);
    // Expunge everything, append again.
    sync(*mb);
    std::vector<uint32_t> all = uids_of(*mb);
    require_ok(mb->expunge(all));
    CHECK(mb->messages().empty());
    uint32_t again = append(*f.account, "INBOX", message(10));
    CHECK(again > next);
    CHECK(status(*f.account, "INBOX").uidvalidity == before.uidvalidity);
    // UIDs of other mailboxes are independent but follow the same rules.
    require_ok(f.account->create_mailbox("Other"));
    uint32_t o1 = append(*f.account, "Other", message(1));
    uint32_t o2 = append(*f.account, "Other", message(2));
    CHECK(o2 > o1);
    CHECK(status(*f.account, "Other").uidvalidity != 0);
  });
}

TEST_CASE("store conformance: every change bumps the modseq") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    uint32_t u2 = append(*f.account, "INBOX", message(2));
    auto mb = open(*f.account, "INBOX");
    uint64_t h0 = status(*f.account, "INBOX").highest_modseq;
    CHECK(h0 >= meta_of(*mb, u2)->modseq);
    uint64_t m1 = meta_of(*mb, u1)->modseq;

    FlagChange add_seen{FlagOp::kAdd, kSeen, {}, 0};
    auto r = mb->store_flags(std::vector<uint32_t>{u1}, add_seen);
    require_ok(r);
    uint64_t h1 = status(*f.account, "INBOX").highest_modseq;
    CHECK(h1 > h0);
    CHECK(meta_of(*mb, u1)->modseq > m1);
    CHECK(meta_of(*mb, u1)->modseq <= h1);
    CHECK(mb->status().highest_modseq >= meta_of(*mb, u1)->modseq);

    require_ok(mb->set_hidden(std::vector<uint32_t>{u2}, true));
    uint64_t h2 = status(*f.account, "INBOX").highest_modseq;
    CHECK(h2 > h1);
    CHECK(meta_of(*mb, u2)->modseq > h1);

    require_ok(mb->expunge(std::vector<uint32_t>{u2}));
    uint64_t h3 = status(*f.account, "INBOX").highest_modseq;
    CHECK(h3 > h2);

    uint32_t u3 = append(*f.account, "INBOX", message(3));
    uint64_t h4 = status(*f.account, "INBOX").highest_modseq;
    CHECK(h4 > h3);
    sync(*mb);
    CHECK(meta_of(*mb, u3)->modseq > h3);
    CHECK(meta_of(*mb, u3)->modseq <= h4);
  });
}

// --- Flags ------------------------------------------------------------------------------

TEST_CASE("store conformance: flag and keyword changes") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    uint32_t u2 = append(*f.account, "INBOX", message(2), kSeen);
    auto mb = open(*f.account, "INBOX");
    std::vector<uint32_t> both{u1, u2};

    // kAdd: only messages that change are reported.
    auto r = mb->store_flags(both, FlagChange{FlagOp::kAdd, kSeen, {}, 0});
    require_ok(r);
    CHECK(*r == std::vector<uint32_t>{u1});
    CHECK(meta_of(*mb, u1)->flags == kSeen);

    r = mb->store_flags(both, FlagChange{FlagOp::kAdd, kFlagged, {"Work", "$Important"}, 0});
    require_ok(r);
    CHECK(*r == both);
    for (uint32_t u : both) {
      const MessageMeta* m = meta_of(*mb, u);
      CHECK(m->flags == (kSeen | kFlagged));
      CHECK(m->keywords == std::vector<std::string>{"$Important", "Work"});
    }
    // Adding an existing keyword in another case changes nothing.
    r = mb->store_flags(both, FlagChange{FlagOp::kAdd, 0, {"work"}, 0});
    require_ok(r);
    CHECK(r->empty());
    CHECK(meta_of(*mb, u1)->keywords.size() == 2);

    // kRemove, keywords matched without regard to case.
    r = mb->store_flags(std::vector<uint32_t>{u2}, FlagChange{FlagOp::kRemove, kSeen, {"WORK"}, 0});
    require_ok(r);
    CHECK(*r == std::vector<uint32_t>{u2});
    CHECK(meta_of(*mb, u2)->flags == kFlagged);
    CHECK(meta_of(*mb, u2)->keywords == std::vector<std::string>{"$Important"});
    CHECK(meta_of(*mb, u1)->keywords.size() == 2);

    // kReplace.
    r = mb->store_flags(both,
                        FlagChange{FlagOp::kReplace, kAnswered | kDraft, {"zeta", "alpha"}, 0});
    require_ok(r);
    CHECK(*r == both);
    for (uint32_t u : both) {
      const MessageMeta* m = meta_of(*mb, u);
      CHECK(m->flags == (kAnswered | kDraft));
      CHECK(m->keywords == std::vector<std::string>{"alpha", "zeta"});
    }
    r = mb->store_flags(both,
                        FlagChange{FlagOp::kReplace, kAnswered | kDraft, {"alpha", "zeta"}, 0});
    require_ok(r);
    CHECK(r->empty());
    r = mb->store_flags(both, FlagChange{FlagOp::kReplace, 0, {}, 0});
    require_ok(r);
    CHECK(*r == both);
    CHECK(meta_of(*mb, u1)->flags == 0);
    CHECK(meta_of(*mb, u1)->keywords.empty());

    // Every system flag round-trips.
    r = mb->store_flags(std::vector<uint32_t>{u1}, FlagChange{FlagOp::kAdd, kAllFlags, {}, 0});
    require_ok(r);
    CHECK(meta_of(*mb, u1)->flags == kAllFlags);
    MailboxStatus st = status(*f.account, "INBOX");
    CHECK(st.deleted == 1);
    CHECK(st.unseen == 1);

    // UIDs that are not in the mailbox are skipped.
    r = mb->store_flags(std::vector<uint32_t>{u2 + 100, u2},
                        FlagChange{FlagOp::kAdd, kSeen, {}, 0});
    require_ok(r);
    CHECK(*r == std::vector<uint32_t>{u2});

    // What the handle shows is what another handle reads.
    auto other = open(*f.account, "INBOX", true);
    CHECK(meta_of(*other, u1)->flags == kAllFlags);
    CHECK(meta_of(*other, u2)->flags == kSeen);
  });
}

TEST_CASE("store conformance: unchanged_since") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    uint32_t u2 = append(*f.account, "INBOX", message(2));
    auto mb = open(*f.account, "INBOX");
    uint64_t m1 = meta_of(*mb, u1)->modseq;
    // Change u2 so its modseq rises above what we remember of u1.
    require_ok(mb->store_flags(std::vector<uint32_t>{u2}, FlagChange{FlagOp::kAdd, kSeen, {}, 0}));
    uint64_t m2 = meta_of(*mb, u2)->modseq;
    REQUIRE(m2 > m1);

    std::vector<uint32_t> failed;
    auto r = mb->store_flags(std::vector<uint32_t>{u1, u2},
                             FlagChange{FlagOp::kAdd, kFlagged, {}, m1}, &failed);
    require_ok(r);
    CHECK(*r == std::vector<uint32_t>{u1});
    CHECK(failed == std::vector<uint32_t>{u2});
    CHECK((meta_of(*mb, u1)->flags & kFlagged) != 0);
    CHECK((meta_of(*mb, u2)->flags & kFlagged) == 0);

    // A modseq at or above the message's passes.
    failed.clear();
    r = mb->store_flags(std::vector<uint32_t>{u2},
                        FlagChange{FlagOp::kAdd, kFlagged, {}, meta_of(*mb, u2)->modseq}, &failed);
    require_ok(r);
    CHECK(*r == std::vector<uint32_t>{u2});
    CHECK(failed.empty());
  });
}

TEST_CASE("store conformance: hidden messages") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    uint32_t u2 = append(*f.account, "INBOX", message(2));
    auto a = open(*f.account, "INBOX");
    auto b = open(*f.account, "INBOX");
    require_ok(a->set_hidden(std::vector<uint32_t>{u1}, true));
    CHECK(meta_of(*a, u1)->hidden);
    CHECK_FALSE(meta_of(*a, u2)->hidden);
    CHECK_FALSE(meta_of(*b, u1)->hidden);  // stable until sync
    auto r = sync(*b);
    CHECK(r.flags_changed == std::vector<uint32_t>{u1});
    CHECK(meta_of(*b, u1)->hidden);
    // Still counted everywhere else.
    CHECK(status(*f.account, "INBOX").messages == 2);
    CHECK(b->messages().size() == 2);
    auto c = open(*f.account, "INBOX");
    CHECK(meta_of(*c, u1)->hidden);
    // Flags do not disturb it.
    require_ok(a->store_flags(std::vector<uint32_t>{u1}, FlagChange{FlagOp::kAdd, kSeen, {}, 0}));
    CHECK(meta_of(*a, u1)->hidden);
    require_ok(a->set_hidden(std::vector<uint32_t>{u1}, false));
    CHECK_FALSE(meta_of(*a, u1)->hidden);
    CHECK((meta_of(*a, u1)->flags & kSeen) != 0);
  });
}

// --- Expunge, copy, move --------------------------------------------------------

TEST_CASE("store conformance: expunge") {
  for_each_backend([](Fixture& f) {
    std::vector<uint32_t> uids;
    for (int i = 0; i < 4; ++i) uids.push_back(append(*f.account, "INBOX", message(i)));
    auto mb = open(*f.account, "INBOX");
    std::vector<uint32_t> gone{uids[1], uids[3], uids[3] + 50};
    require_ok(mb->expunge(gone));
    CHECK(uids_of(*mb) == std::vector<uint32_t>{uids[0], uids[2]});
    CHECK(status(*f.account, "INBOX").messages == 2);
    CHECK(mb->status().messages == 2);
    CHECK(sync(*mb).expunged.empty());
    CHECK(code_of(mb->open_message(uids[1])) == "kNotFound");
    CHECK(lf(read_all(*mb, uids[2])) == lf(message(2)));
    require_ok(mb->expunge(std::vector<uint32_t>{}));
    CHECK(f.account->quota_usage()->messages == 2);
  });
}

TEST_CASE("store conformance: copy and move") {
  for_each_backend([](Fixture& f) {
    require_ok(f.account->create_mailbox("Dest"));
    uint32_t d0 = append(*f.account, "Dest", message(0));
    std::vector<uint32_t> src;
    for (int i = 1; i <= 4; ++i) {
      src.push_back(append(*f.account, "INBOX", message(i), i == 2 ? kSeen | kAnswered : 0,
                           i == 3 ? std::vector<std::string>{"$Label"} : std::vector<std::string>{},
                           1600000000 + i));
    }
    auto mb = open(*f.account, "INBOX");
    MailboxStatus dest_before = status(*f.account, "Dest");

    // Copy (given out of order, with a missing UID): pairs in source order.
    uint32_t uidvalidity = 0;
    std::vector<uint32_t> ask{src[2], src[0], src[1], src[3] + 100};
    auto r = mb->copy_to(ask, "Dest", false, &uidvalidity);
    require_ok(r);
    REQUIRE(r->size() == 3);
    CHECK(uidvalidity == dest_before.uidvalidity);
    CHECK((*r)[0].first == src[0]);
    CHECK((*r)[1].first == src[1]);
    CHECK((*r)[2].first == src[2]);
    CHECK((*r)[0].second > d0);
    CHECK((*r)[0].second >= dest_before.uidnext);
    CHECK((*r)[1].second > (*r)[0].second);
    CHECK((*r)[2].second > (*r)[1].second);
    CHECK(mb->messages().size() == 4);  // copy leaves the source alone
    CHECK(status(*f.account, "INBOX").messages == 4);

    auto dest = open(*f.account, "Dest");
    CHECK(dest->messages().size() == 4);
    for (size_t i = 0; i < 3; ++i) {
      const MessageMeta* s = meta_of(*mb, (*r)[i].first);
      const MessageMeta* d = meta_of(*dest, (*r)[i].second);
      REQUIRE(s);
      REQUIRE(d);
      CHECK(d->flags == s->flags);
      CHECK(d->keywords == s->keywords);
      CHECK(d->internal_date == s->internal_date);
      CHECK(d->size == s->size);
      CHECK(lf(read_all(*dest, d->uid)) == lf(read_all(*mb, s->uid)));
    }
    std::set<std::string> uidls;
    for (const auto& m : dest->messages()) uidls.insert(m.uidl);
    CHECK(uidls.size() == dest->messages().size());

    // Move: new UIDs in the destination, gone from the source at once.
    uidvalidity = 0;
    auto mv = mb->copy_to(std::vector<uint32_t>{src[3], src[1]}, "Dest", true, &uidvalidity);
    require_ok(mv);
    REQUIRE(mv->size() == 2);
    CHECK(uidvalidity == dest_before.uidvalidity);
    CHECK((*mv)[0].first == src[1]);
    CHECK((*mv)[1].first == src[3]);
    CHECK((*mv)[0].second > (*r)[2].second);
    CHECK((*mv)[1].second > (*mv)[0].second);
    CHECK(uids_of(*mb) == std::vector<uint32_t>{src[0], src[2]});
    CHECK(status(*f.account, "INBOX").messages == 2);
    auto sr = sync(*dest);
    CHECK(sr.added == std::vector<uint32_t>{(*mv)[0].second, (*mv)[1].second});
    CHECK(meta_of(*dest, (*mv)[0].second)->flags == (kSeen | kAnswered));
    CHECK(lf(read_all(*dest, (*mv)[1].second)) == lf(message(4)));
    CHECK(f.account->quota_usage()->messages == 8);  // INBOX 2, Dest 6

    // Errors.
    CHECK(code_of(mb->copy_to(std::vector<uint32_t>{src[0]}, "Missing", false, &uidvalidity)) ==
          "kNotFound");
    CHECK(code_of(mb->copy_to(std::vector<uint32_t>{src[0]}, "Missing", true, &uidvalidity)) ==
          "kNotFound");
    CHECK(code_of(mb->copy_to(std::vector<uint32_t>{src[0]}, "../x", false, &uidvalidity)) ==
          "kInvalidName");
    CHECK(uids_of(*mb) == std::vector<uint32_t>{src[0], src[2]});

    // Nothing to copy: an empty map.
    auto none = mb->copy_to(std::vector<uint32_t>{src[3] + 1000}, "Dest", false, &uidvalidity);
    require_ok(none);
    CHECK(none->empty());

    // Copy into the same mailbox.
    auto self = mb->copy_to(std::vector<uint32_t>{src[0]}, "INBOX", false, &uidvalidity);
    require_ok(self);
    REQUIRE(self->size() == 1);
    CHECK((*self)[0].second > src[3]);
    CHECK(uidvalidity == status(*f.account, "INBOX").uidvalidity);
    sync(*mb);
    CHECK(mb->messages().size() == 3);

    // Copy out of a UTF-8 named mailbox into another.
    require_ok(f.account->create_mailbox("Éléments envoyés"));
    auto u8 = mb->copy_to(std::vector<uint32_t>{src[0]}, "Éléments envoyés", false, &uidvalidity);
    require_ok(u8);
    CHECK(u8->size() == 1);
    CHECK(status(*f.account, "Éléments envoyés").messages == 1);
  });
}

// --- Several handles -------------------------------------------------------------------

TEST_CASE("store conformance: two handles see each other's changes") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    uint32_t u2 = append(*f.account, "INBOX", message(2));
    auto a = open(*f.account, "INBOX");
    auto b = open(*f.account, "INBOX");
    std::atomic<int> a_calls{0}, b_calls{0};
    a->on_change([&] { ++a_calls; });
    b->on_change([&] { ++b_calls; });

    // An append (from no handle) wakes both; views stay put until sync.
    uint32_t u3 = append(*f.account, "INBOX", message(3));
    CHECK(eventually(a_calls));
    CHECK(eventually(b_calls));
    CHECK(a->messages().size() == 2);
    CHECK(b->messages().size() == 2);
    auto r = sync(*a);
    CHECK(r.added == std::vector<uint32_t>{u3});
    CHECK(r.expunged.empty());
    CHECK(r.flags_changed.empty());
    CHECK_FALSE(r.uidvalidity_changed);
    CHECK(a->messages().size() == 3);
    CHECK(sync(*b).added == std::vector<uint32_t>{u3});
    CHECK(sync(*a).added.empty());

    // A flag change through a wakes b only.
    a_calls = 0;
    b_calls = 0;
    auto fr = a->store_flags(std::vector<uint32_t>{u2}, FlagChange{FlagOp::kAdd, kSeen, {}, 0});
    require_ok(fr);
    CHECK(eventually(b_calls));
    CHECK(a_calls == 0);
    CHECK((meta_of(*a, u2)->flags & kSeen) != 0);
    CHECK((meta_of(*b, u2)->flags & kSeen) == 0);
    r = sync(*b);
    CHECK(r.flags_changed == std::vector<uint32_t>{u2});
    CHECK(r.added.empty());
    CHECK(r.expunged.empty());
    CHECK((meta_of(*b, u2)->flags & kSeen) != 0);
    CHECK(meta_of(*b, u2)->modseq == meta_of(*a, u2)->modseq);
    CHECK(sync(*a).flags_changed.empty());  // a's own change is already in its view

    // An expunge through b wakes a only; a keeps the message until it syncs.
    a_calls = 0;
    b_calls = 0;
    require_ok(b->expunge(std::vector<uint32_t>{u1}));
    CHECK(eventually(a_calls));
    CHECK(b_calls == 0);
    CHECK(uids_of(*b) == std::vector<uint32_t>{u2, u3});
    CHECK(uids_of(*a) == std::vector<uint32_t>{u1, u2, u3});
    r = sync(*a);
    CHECK(r.expunged == std::vector<uint32_t>{u1});
    CHECK(uids_of(*a) == std::vector<uint32_t>{u2, u3});
    CHECK(sync(*b).expunged.empty());

    // Several changes between two syncs are reported together.
    uint32_t u4 = append(*f.account, "INBOX", message(4));
    uint32_t u5 = append(*f.account, "INBOX", message(5));
    require_ok(b->expunge(std::vector<uint32_t>{u2}));
    require_ok(
        b->store_flags(std::vector<uint32_t>{u3}, FlagChange{FlagOp::kAdd, kFlagged, {"x"}, 0}));
    r = sync(*a);
    CHECK(r.expunged == std::vector<uint32_t>{u2});
    CHECK(r.flags_changed == std::vector<uint32_t>{u3});
    CHECK(r.added == std::vector<uint32_t>{u4, u5});
    CHECK(uids_of(*a) == std::vector<uint32_t>{u3, u4, u5});
    CHECK(meta_of(*a, u3)->keywords == std::vector<std::string>{"x"});

    // A move out of the mailbox looks like an expunge to the other handle.
    require_ok(f.account->create_mailbox("Elsewhere"));
    uint32_t dv = 0;
    sync(*b);  // a front-end only names UIDs of its own view
    require_ok(b->copy_to(std::vector<uint32_t>{u4}, "Elsewhere", true, &dv));
    r = sync(*a);
    CHECK(r.expunged == std::vector<uint32_t>{u4});

    // Replacing and clearing callbacks.
    std::atomic<int> second{0};
    a_calls = 0;
    a->on_change([&] { ++second; });
    append(*f.account, "INBOX", message(6));
    CHECK(eventually(second));
    CHECK(a_calls == 0);
    a->on_change(nullptr);
    second = 0;
    b_calls = 0;
    append(*f.account, "INBOX", message(7));
    CHECK(eventually(b_calls));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(second == 0);
    b->on_change(nullptr);
  });
}

// Handles opened while nothing changed may share one list of messages
// (maildir does): a change through one, or a later open, must never show in
// another's view before that one syncs.
TEST_CASE("store conformance: views opened together stay apart") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    uint32_t u2 = append(*f.account, "INBOX", message(2));
    auto a = open(*f.account, "INBOX");
    auto b = open(*f.account, "INBOX");
    require_ok(a->store_flags(std::vector<uint32_t>{u1}, FlagChange{FlagOp::kAdd, kSeen, {}, 0}));
    auto c = open(*f.account, "INBOX");
    CHECK((meta_of(*a, u1)->flags & kSeen) != 0);
    CHECK((meta_of(*b, u1)->flags & kSeen) == 0);
    CHECK((meta_of(*c, u1)->flags & kSeen) != 0);
    auto d = open(*f.account, "INBOX");
    require_ok(c->expunge(std::vector<uint32_t>{u2}));
    CHECK(uids_of(*c) == std::vector<uint32_t>{u1});
    CHECK(uids_of(*d) == std::vector<uint32_t>{u1, u2});
    CHECK(uids_of(*b) == std::vector<uint32_t>{u1, u2});
    CHECK(sync(*d).expunged == std::vector<uint32_t>{u2});
    auto r = sync(*b);
    CHECK(r.expunged == std::vector<uint32_t>{u2});
    CHECK(r.flags_changed == std::vector<uint32_t>{u1});
    CHECK((meta_of(*b, u1)->flags & kSeen) != 0);
    a.reset();
    b.reset();
    c.reset();
    d.reset();
    auto e = open(*f.account, "INBOX");
    CHECK(uids_of(*e) == std::vector<uint32_t>{u1});
    CHECK((meta_of(*e, u1)->flags & kSeen) != 0);
  });
}

TEST_CASE("store conformance: no callback after a handle is destroyed") {
  for_each_backend([](Fixture& f) {
    auto calls = std::make_shared<std::atomic<int>>(0);
    {
      auto mb = open(*f.account, "INBOX");
      mb->on_change([calls] { ++*calls; });
    }
    append(*f.account, "INBOX", message(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(*calls == 0);
  });
}

TEST_CASE("store conformance: read-only handles refuse changes") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1));
    require_ok(f.account->create_mailbox("Dest"));
    auto ro = open(*f.account, "INBOX", true);
    CHECK(ro->read_only());
    CHECK_FALSE(open(*f.account, "INBOX")->read_only());
    std::vector<uint32_t> one{u1};
    CHECK(code_of(ro->store_flags(one, FlagChange{FlagOp::kAdd, kSeen, {}, 0})) == "kNoPermission");
    CHECK(code_of(ro->set_hidden(one, true)) == "kNoPermission");
    CHECK(code_of(ro->expunge(one)) == "kNoPermission");
    uint32_t uv = 0;
    CHECK(code_of(ro->copy_to(one, "Dest", true, &uv)) == "kNoPermission");
    CHECK(meta_of(*ro, u1)->flags == 0);
    CHECK(status(*f.account, "INBOX").messages == 1);
    CHECK(status(*f.account, "Dest").messages == 0);
    // Copying out of a read-only mailbox changes nothing in it: allowed.
    auto c = ro->copy_to(one, "Dest", false, &uv);
    require_ok(c);
    CHECK(c->size() == 1);
    CHECK(status(*f.account, "Dest").messages == 1);
    // Reading works.
    CHECK(lf(read_all(*ro, u1)) == lf(message(1)));
    CHECK(sync(*ro).added.empty());
  });
}

TEST_CASE("store conformance: concurrent appends from two threads") {
  for_each_backend([](Fixture& f) {
    constexpr int kPerThread = 200;
    std::vector<std::vector<uint32_t>> got(2);
    std::atomic<int> errors{0};
    std::atomic<bool> done{false};
    auto watcher = open(*f.account, "INBOX");
    std::atomic<int> wakeups{0};
    watcher->on_change([&] { ++wakeups; });
    auto worker = [&](int t) {
      auto acct = f.store->open_account("example.com", "alice");
      if (!acct) {
        ++errors;
        return;
      }
      auto mb = (*acct)->open_mailbox("INBOX", false);
      if (!mb) {
        ++errors;
        return;
      }
      for (int i = 0; i < kPerThread; ++i) {
        std::string body =
            "Subject: t" + std::to_string(t) + " n" + std::to_string(i) + "\r\n\r\nx\r\n";
        auto tx = (*acct)->begin_append("INBOX", 0, {}, 0);
        if (!tx || !(*tx)->write(body)) {
          ++errors;
          continue;
        }
        auto uid = (*tx)->commit();
        if (!uid) {
          ++errors;
          continue;
        }
        got[t].push_back(*uid);
        // Each thread also syncs and changes flags on its own handle.
        if (i % 10 == 0) {
          if (!(*mb)->sync()) ++errors;
          if (!(*mb)->store_flags(std::vector<uint32_t>{*uid},
                                  FlagChange{FlagOp::kAdd, kSeen, {}, 0}))
            ++errors;
        }
      }
    };
    std::thread reader([&] {
      // A third thread keeps syncing the watcher handle meanwhile.
      while (!done) {
        if (!watcher->sync()) ++errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    std::thread t0(worker, 0), t1(worker, 1);
    t0.join();
    t1.join();
    done = true;
    reader.join();
    CHECK(errors == 0);
    for (const auto& g : got) {
      CHECK(g.size() == kPerThread);
      CHECK(std::is_sorted(g.begin(), g.end()));
    }
    std::set<uint32_t> all(got[0].begin(), got[0].end());
    all.insert(got[1].begin(), got[1].end());
    CHECK(all.size() == 2 * kPerThread);
    CHECK(wakeups > 0);
    auto mb = open(*f.account, "INBOX");
    std::vector<uint32_t> uids = uids_of(*mb);
    CHECK(uids.size() == 2 * kPerThread);
    CHECK(std::is_sorted(uids.begin(), uids.end()));
    CHECK(std::set<uint32_t>(uids.begin(), uids.end()) == all);
    CHECK(status(*f.account, "INBOX").uidnext > *all.rbegin());
    watcher->on_change(nullptr);
    sync(*watcher);
    CHECK(uids_of(*watcher) == uids);
    CHECK(status(*f.account, "INBOX").unseen == 2 * kPerThread - 40);
    // Each message has its own body.
    std::set<std::string> bodies;
    for (uint32_t u : uids) bodies.insert(read_all(*mb, u, 64));
    CHECK(bodies.size() == 2 * kPerThread);
  });
}

// --- Mailbox management -----------------------------------------------------------

TEST_CASE("store conformance: create and list") {
  for_each_backend([](Fixture& f) {
    require_ok(f.account->create_mailbox("Work"));
    CHECK(code_of(f.account->create_mailbox("Work")) == "kAlreadyExists");
    CHECK(code_of(f.account->create_mailbox("INBOX")) == "kAlreadyExists");
    CHECK(code_of(f.account->create_mailbox("inbox")) == "kAlreadyExists");
    // Nested: the parents appear (real or \Noselect), with has_children.
    require_ok(f.account->create_mailbox("Projects/2024/Q1"));
    auto infos = list(*f.account);
    REQUIRE(find_info(infos, "Projects") != nullptr);
    REQUIRE(find_info(infos, "Projects/2024") != nullptr);
    REQUIRE(find_info(infos, "Projects/2024/Q1") != nullptr);
    CHECK(find_info(infos, "Projects")->has_children);
    CHECK(find_info(infos, "Projects/2024")->has_children);
    CHECK_FALSE(find_info(infos, "Projects/2024/Q1")->has_children);
    CHECK_FALSE(find_info(infos, "Projects/2024/Q1")->noselect);
    CHECK_FALSE(find_info(infos, "Work")->has_children);
    CHECK(find_info(infos, "Work")->special_use == SpecialUse::kNone);
    // Creating a parent that exists only as \Noselect makes it real, or it
    // already was real.
    auto cp = f.account->create_mailbox("Projects");
    CHECK((cp.ok() || cp.error().code == Errc::kAlreadyExists));
    CHECK(exists(*f.account, "Projects"));
    // Children of INBOX.
    require_ok(f.account->create_mailbox("INBOX/Receipts"));
    append(*f.account, "INBOX/Receipts", message(1));
    CHECK(status(*f.account, "INBOX/Receipts").messages == 1);
    CHECK(status(*f.account, "INBOX").messages == 0);
    // Names are unique in the list.
    infos = list(*f.account);
    std::set<std::string> names;
    for (const auto& i : infos) names.insert(i.name);
    CHECK(names.size() == infos.size());
    // Names are case-sensitive except INBOX.
    require_ok(f.account->create_mailbox("work"));
    append(*f.account, "work", message(2));
    CHECK(status(*f.account, "Work").messages == 0);
    CHECK(status(*f.account, "work").messages == 1);
    // Special use at creation.
    require_ok(f.account->create_mailbox("Old mail", SpecialUse::kArchive));
    infos = list(*f.account);
    REQUIRE(find_info(infos, "Old mail") != nullptr);
    CHECK(find_info(infos, "Old mail")->special_use == SpecialUse::kArchive);
    // Missing mailboxes.
    CHECK(code_of(f.account->open_mailbox("Nope", false)) == "kNotFound");
    CHECK(code_of(f.account->mailbox_status("Nope")) == "kNotFound");
  });
}

TEST_CASE("store conformance: UTF-8 names") {
  for_each_backend([](Fixture& f) {
    const std::string names[] = {"Éléments envoyés",
                                 "Éléments envoyés/Archivé 2024",
                                 "日本語",
                                 "Ελληνικά & co",
                                 "emoji 📬",
                                 "a.b",
                                 "[Gmail]/All Mail",
                                 "with \"quotes\" and %*",
                                 "&AMk-lo",
                                 "-dash",
                                 "~tilde"};
    for (const auto& n : names) {
      INFO("name: ", n);
      require_ok(f.account->create_mailbox(n));
      uint32_t uid = append(*f.account, n, message(1));
      auto mb = open(*f.account, n);
      CHECK(mb->name() == n);
      CHECK(uids_of(*mb) == std::vector<uint32_t>{uid});
      CHECK(lf(read_all(*mb, uid)) == lf(message(1)));
    }
    auto infos = list(*f.account);
    for (const auto& n : names) {
      INFO("name: ", n);
      REQUIRE(find_info(infos, n) != nullptr);
      CHECK_FALSE(find_info(infos, n)->noselect);
      CHECK(status(*f.account, n).messages == 1);
    }
    CHECK(find_info(infos, "Éléments envoyés")->has_children);
    CHECK(find_info(infos, "[Gmail]") != nullptr);
    // "a.b" is one name: no mailbox "a" appears because of it.
    CHECK(find_info(infos, "a") == nullptr);
    CHECK(find_info(infos, "&AMk-lo")->name == "&AMk-lo");
  });
}

TEST_CASE("store conformance: invalid names are rejected") {
  for_each_backend([](Fixture& f) {
    const std::string bad[] = {"",
                               "/",
                               "/a",
                               "a/",
                               "a//b",
                               ".",
                               "..",
                               "a/./b",
                               "a/../b",
                               "../a",
                               "a\tb",
                               "a\nb",
                               "a\rb",
                               "a\x7f",
                               "a\\b",
                               "\xC3",
                               "\xFF",
                               "a\xC0\xAF",
                               "\xED\xA0\x80",
                               std::string(256, 'x'),
                               std::string(1025, 'y'),
                               std::string(250, 'a') + "/" + std::string(250, 'b') + "/" +
                                   std::string(250, 'c') + "/" + std::string(250, 'd') + "/" +
                                   std::string(250, 'e')};
    for (const auto& n : bad) {
      INFO("name: ", n);
      CHECK(code_of(f.account->create_mailbox(n)) == "kInvalidName");
      CHECK(code_of(f.account->open_mailbox(n, false)) == "kInvalidName");
      CHECK(code_of(f.account->mailbox_status(n)) == "kInvalidName");
      CHECK(code_of(f.account->delete_mailbox(n)) == "kInvalidName");
      CHECK(code_of(f.account->rename_mailbox("INBOX", n)) == "kInvalidName");
      CHECK(code_of(f.account->begin_append(n, 0, {}, 0)) == "kInvalidName");
      CHECK(code_of(f.account->set_subscribed(n, true)) == "kInvalidName");
    }
    std::string nul("a\0b", 3);
    CHECK(code_of(f.account->create_mailbox(nul)) == "kInvalidName");
    // Nothing was created on the way.
    auto infos = list(*f.account);
    CHECK(infos.size() == 1);
  });
}

TEST_CASE("store conformance: delete") {
  for_each_backend([](Fixture& f) {
    CHECK(code_of(f.account->delete_mailbox("INBOX")) == "kNoPermission");
    CHECK(code_of(f.account->delete_mailbox("Inbox")) == "kNoPermission");
    CHECK(code_of(f.account->delete_mailbox("Nope")) == "kNotFound");
    CHECK(exists(*f.account, "INBOX"));

    require_ok(f.account->create_mailbox("Trashme"));
    uint32_t old_uid = append(*f.account, "Trashme", message(1));
    append(*f.account, "Trashme", message(2));
    MailboxStatus old = status(*f.account, "Trashme");
    auto handle = open(*f.account, "Trashme");
    std::atomic<int> calls{0};
    handle->on_change([&] { ++calls; });
    uint64_t before_usage = f.account->quota_usage()->messages;
    require_ok(f.account->delete_mailbox("Trashme"));
    CHECK(f.account->quota_usage()->messages == before_usage - 2);
    CHECK(find_info(list(*f.account), "Trashme") == nullptr);
    CHECK(code_of(f.account->mailbox_status("Trashme")) == "kNotFound");
    CHECK(code_of(f.account->open_mailbox("Trashme", false)) == "kNotFound");
    CHECK(code_of(f.account->begin_append("Trashme", 0, {}, 0)) == "kNotFound");
    CHECK(code_of(f.account->delete_mailbox("Trashme")) == "kNotFound");
    // The open handle learns that everything is gone.
    CHECK(eventually(calls));
    auto r = handle->sync();
    if (r.ok()) {
      CHECK((r->uidvalidity_changed || r->expunged.size() == 2));
      CHECK(handle->messages().empty());
    } else {
      CHECK(r.error().code == Errc::kNotFound);
    }
    handle->on_change(nullptr);
    handle.reset();

    // Recreated: either a new UIDVALIDITY, or UIDs above the old ones.
    require_ok(f.account->create_mailbox("Trashme"));
    uint32_t fresh = append(*f.account, "Trashme", message(3));
    MailboxStatus now = status(*f.account, "Trashme");
    CHECK(now.messages == 1);
    CHECK((now.uidvalidity != old.uidvalidity || (fresh >= old.uidnext && fresh > old_uid)));

    // A mailbox with children: refused with kHasChildren, or deleted while
    // the children stay.
    require_ok(f.account->create_mailbox("Parent"));
    require_ok(f.account->create_mailbox("Parent/Child"));
    append(*f.account, "Parent/Child", message(4));
    auto d = f.account->delete_mailbox("Parent");
    if (d.ok()) {
      auto infos = list(*f.account);
      REQUIRE(find_info(infos, "Parent/Child") != nullptr);
      const MailboxInfo* p = find_info(infos, "Parent");
      CHECK((p == nullptr || p->noselect));
    } else {
      CHECK(d.error().code == Errc::kHasChildren);
      CHECK(exists(*f.account, "Parent"));
    }
    CHECK(status(*f.account, "Parent/Child").messages == 1);
    // Children first, then the parent.
    require_ok(f.account->delete_mailbox("Parent/Child"));
    auto dp = f.account->delete_mailbox("Parent");
    CHECK((dp.ok() || dp.error().code == Errc::kNotFound));
    CHECK(find_info(list(*f.account), "Parent") == nullptr);
  });
}

TEST_CASE("store conformance: rename") {
  for_each_backend([](Fixture& f) {
    // Parents created first: a backend may keep implicit parents \Noselect.
    require_ok(f.account->create_mailbox("Alpha"));
    require_ok(f.account->create_mailbox("Alpha/Sub"));
    require_ok(f.account->create_mailbox("Alpha/Sub/Deep"));
    uint32_t a1 = append(*f.account, "Alpha", message(1), kSeen, {"kw"});
    uint32_t s1 = append(*f.account, "Alpha/Sub", message(2));
    append(*f.account, "Alpha/Sub/Deep", message(3));
    require_ok(f.account->create_mailbox("Alphabet"));  // shares a prefix, not a child
    append(*f.account, "Alphabet", message(4));
    require_ok(f.account->create_mailbox("Other"));

    CHECK(code_of(f.account->rename_mailbox("Nope", "X")) == "kNotFound");
    CHECK(code_of(f.account->rename_mailbox("Alpha", "Other")) == "kAlreadyExists");
    CHECK(code_of(f.account->rename_mailbox("Alpha", "INBOX")) == "kAlreadyExists");
    CHECK(code_of(f.account->rename_mailbox("Alpha", "Alpha/Sub/New")) == "kNoPermission");
    CHECK(code_of(f.account->rename_mailbox("Alpha", "Alpha/New")) == "kNoPermission");

    require_ok(f.account->rename_mailbox("Alpha", "Beta"));
    auto infos = list(*f.account);
    CHECK(find_info(infos, "Alpha") == nullptr);
    CHECK(find_info(infos, "Alpha/Sub") == nullptr);
    CHECK(find_info(infos, "Alpha/Sub/Deep") == nullptr);
    REQUIRE(find_info(infos, "Beta") != nullptr);
    REQUIRE(find_info(infos, "Beta/Sub") != nullptr);
    REQUIRE(find_info(infos, "Beta/Sub/Deep") != nullptr);
    CHECK(find_info(infos, "Beta")->has_children);
    REQUIRE(find_info(infos, "Alphabet") != nullptr);
    CHECK(status(*f.account, "Alphabet").messages == 1);
    CHECK(status(*f.account, "Beta").messages == 1);
    CHECK(status(*f.account, "Beta/Sub").messages == 1);
    CHECK(status(*f.account, "Beta/Sub/Deep").messages == 1);
    auto beta = open(*f.account, "Beta");
    const MessageMeta* m = meta_of(*beta, a1);
    REQUIRE(m);  // UIDs survive a rename
    CHECK(m->flags == kSeen);
    CHECK(m->keywords == std::vector<std::string>{"kw"});
    CHECK(lf(read_all(*beta, a1)) == lf(message(1)));
    auto sub = open(*f.account, "Beta/Sub");
    CHECK(uids_of(*sub) == std::vector<uint32_t>{s1});

    // Into a new hierarchy: the parents appear.
    require_ok(f.account->rename_mailbox("Beta/Sub", "New/Place/Sub"));
    infos = list(*f.account);
    REQUIRE(find_info(infos, "New") != nullptr);
    REQUIRE(find_info(infos, "New/Place") != nullptr);
    REQUIRE(find_info(infos, "New/Place/Sub") != nullptr);
    REQUIRE(find_info(infos, "New/Place/Sub/Deep") != nullptr);
    CHECK(find_info(infos, "Beta/Sub") == nullptr);
    CHECK(status(*f.account, "New/Place/Sub/Deep").messages == 1);

    // UTF-8 and the case of a name.
    require_ok(f.account->rename_mailbox("Other", "Éléments envoyés"));
    CHECK(exists(*f.account, "Éléments envoyés"));
    require_ok(f.account->rename_mailbox("Éléments envoyés", "éléments envoyés"));
    CHECK(exists(*f.account, "éléments envoyés"));
    CHECK_FALSE(exists(*f.account, "Éléments envoyés"));
    // Appending after a rename goes to the new name.
    append(*f.account, "Beta", message(5));
    CHECK(status(*f.account, "Beta").messages == 2);
  });
}

TEST_CASE("store conformance: rename INBOX") {
  for_each_backend([](Fixture& f) {
    uint32_t u1 = append(*f.account, "INBOX", message(1), kFlagged);
    uint32_t u2 = append(*f.account, "INBOX", message(2));
    auto handle = open(*f.account, "INBOX");
    require_ok(f.account->rename_mailbox("INBOX", "Old INBOX"));
    CHECK(exists(*f.account, "INBOX"));
    CHECK(status(*f.account, "INBOX").messages == 0);
    MailboxStatus moved = status(*f.account, "Old INBOX");
    CHECK(moved.messages == 2);
    auto old = open(*f.account, "Old INBOX");
    REQUIRE(old->messages().size() == 2);
    CHECK(old->messages()[0].flags == kFlagged);
    CHECK(lf(read_all(*old, old->messages()[1].uid)) == lf(message(2)));
    // The handle on INBOX learns that its messages went.
    auto r = handle->sync();
    require_ok(r);
    CHECK((r->uidvalidity_changed || r->expunged == std::vector<uint32_t>{u1, u2}));
    CHECK(handle->messages().empty());
    // INBOX keeps working.
    uint32_t u3 = append(*f.account, "inbox", message(3));
    CHECK(status(*f.account, "INBOX").messages == 1);
    r = handle->sync();
    require_ok(r);
    CHECK(uids_of(*handle) == std::vector<uint32_t>{u3});
    CHECK(code_of(f.account->rename_mailbox("inbox", "Old INBOX")) == "kAlreadyExists");
  });
}

TEST_CASE("store conformance: default and special-use mailboxes") {
  for_each_backend([](Fixture& f) {
    require_ok(f.account->ensure_defaults(SpecialUseNames{}));
    require_ok(f.account->ensure_defaults(SpecialUseNames{}));  // a second time changes nothing
    auto infos = list(*f.account);
    CHECK(infos.size() == 6);
    const std::pair<const char*, SpecialUse> want[] = {
        {"INBOX", SpecialUse::kNone}, {"Drafts", SpecialUse::kDrafts},
        {"Sent", SpecialUse::kSent},  {"Trash", SpecialUse::kTrash},
        {"Junk", SpecialUse::kJunk},  {"Archive", SpecialUse::kArchive}};
    for (const auto& [name, use] : want) {
      INFO("mailbox: ", name);
      const MailboxInfo* i = find_info(infos, name);
      REQUIRE(i != nullptr);
      CHECK(i->special_use == use);
      CHECK_FALSE(i->noselect);
    }

    // Per-domain names, including UTF-8, and a mailbox that already exists.
    auto other = f.store->open_account("example.fr", "jean");
    require_ok(other);
    Account& fr = **other;
    require_ok(fr.create_mailbox("Corbeille"));
    append(fr, "Corbeille", message(1));
    SpecialUseNames names;
    names.sent = "Éléments envoyés";
    names.trash = "Corbeille";
    names.drafts = "Brouillons";
    require_ok(fr.ensure_defaults(names));
    require_ok(fr.ensure_defaults(names));
    auto fr_infos = list(fr);
    CHECK(fr_infos.size() == 6);
    REQUIRE(find_info(fr_infos, "Éléments envoyés") != nullptr);
    CHECK(find_info(fr_infos, "Éléments envoyés")->special_use == SpecialUse::kSent);
    REQUIRE(find_info(fr_infos, "Corbeille") != nullptr);
    CHECK(find_info(fr_infos, "Corbeille")->special_use == SpecialUse::kTrash);
    CHECK(status(fr, "Corbeille").messages == 1);
    REQUIRE(find_info(fr_infos, "Brouillons") != nullptr);
    CHECK(find_info(fr_infos, "Brouillons")->special_use == SpecialUse::kDrafts);
    CHECK(find_info(fr_infos, "Sent") == nullptr);
    CHECK(find_info(fr_infos, "Junk") != nullptr);
    // The mark is kept across a new open of the account.
    auto again = f.store->open_account("example.fr", "jean");
    require_ok(again);
    auto again_infos = list(**again);
    REQUIRE(find_info(again_infos, "Corbeille") != nullptr);
    CHECK(find_info(again_infos, "Corbeille")->special_use == SpecialUse::kTrash);
  });
}

TEST_CASE("store conformance: subscriptions") {
  for_each_backend([](Fixture& f) {
    require_ok(f.account->create_mailbox("Lists/Dev"));
    require_ok(f.account->set_subscribed("Lists/Dev", true));
    require_ok(f.account->set_subscribed("INBOX", true));
    require_ok(f.account->set_subscribed("Not there", true));  // allowed without a mailbox
    require_ok(f.account->set_subscribed("Lists/Dev", true));  // twice is fine
    auto subs = f.account->subscriptions();
    require_ok(subs);
    std::set<std::string> s(subs->begin(), subs->end());
    CHECK(s == std::set<std::string>{"INBOX", "Lists/Dev", "Not there"});
    CHECK(subs->size() == 3);
    auto infos = list(*f.account);
    CHECK(find_info(infos, "Lists/Dev")->subscribed);
    CHECK(find_info(infos, "INBOX")->subscribed);
    CHECK_FALSE(find_info(infos, "Lists")->subscribed);
    CHECK(find_info(infos, "Not there") == nullptr);
    // A subscription outlives its mailbox.
    require_ok(f.account->delete_mailbox("Lists/Dev"));
    subs = f.account->subscriptions();
    require_ok(subs);
    CHECK(std::count(subs->begin(), subs->end(), "Lists/Dev") == 1);
    require_ok(f.account->set_subscribed("Lists/Dev", false));
    require_ok(f.account->set_subscribed("Never subscribed", false));
    subs = f.account->subscriptions();
    require_ok(subs);
    CHECK(std::set<std::string>(subs->begin(), subs->end()) ==
          std::set<std::string>{"INBOX", "Not there"});
    // UTF-8 names.
    require_ok(f.account->set_subscribed("Éléments envoyés", true));
    subs = f.account->subscriptions();
    require_ok(subs);
    CHECK(std::count(subs->begin(), subs->end(), "Éléments envoyés") == 1);
  });
}

TEST_CASE("store conformance: quota usage") {
  for_each_backend([](Fixture& f) {
    auto q = f.account->quota_usage();
    require_ok(q);
    CHECK(q->bytes == 0);
    CHECK(q->messages == 0);
    require_ok(f.account->create_mailbox("A"));
    require_ok(f.account->create_mailbox("A/B"));
    const std::string m1 = "Subject: one\r\n\r\nhello\r\n";
    const std::string m2 = "Subject: two\n\nhello there\n";
    uint32_t u1 = append(*f.account, "INBOX", m1);
    append(*f.account, "A", m2);
    append(*f.account, "A/B", m1);
    q = f.account->quota_usage();
    require_ok(q);
    CHECK(q->messages == 3);
    CHECK(q->bytes == 2 * m1.size() + m2.size() + 3);  // m2: 3 bare LFs count 2 each
    auto mb = open(*f.account, "INBOX");
    require_ok(mb->expunge(std::vector<uint32_t>{u1}));
    q = f.account->quota_usage();
    require_ok(q);
    CHECK(q->messages == 2);
    CHECK(q->bytes == m1.size() + m2.size() + 3);
  });
}

TEST_CASE("store conformance: leases") {
  for_each_backend([](Fixture& f) {
    auto l1 = f.account->try_lease("pop3");
    require_ok(l1);
    CHECK(code_of(f.account->try_lease("pop3")) == "kLocked");
    // Through another Account object for the same account too.
    auto same = f.store->open_account("example.com", "alice");
    require_ok(same);
    CHECK(code_of((*same)->try_lease("pop3")) == "kLocked");
    // Other names and other accounts are independent.
    auto l2 = f.account->try_lease("other");
    require_ok(l2);
    auto bob = f.store->open_account("example.com", "bob");
    require_ok(bob);
    auto l3 = (*bob)->try_lease("pop3");
    require_ok(l3);
    // Released by destruction.
    l1->reset();
    auto l4 = (*same)->try_lease("pop3");
    require_ok(l4);
    CHECK(code_of(f.account->try_lease("pop3")) == "kLocked");
    // Contended from threads: exactly one winner at a time.
    l4->reset();
    std::atomic<int> holders{0}, max_holders{0}, wins{0};
    auto contend = [&] {
      auto acct = f.store->open_account("example.com", "alice");
      if (!acct) return;
      for (int i = 0; i < 200; ++i) {
        auto l = (*acct)->try_lease("pop3");
        if (!l) continue;
        int h = ++holders;
        int m = max_holders.load();
        while (h > m && !max_holders.compare_exchange_weak(m, h)) {
        }
        ++wins;
        --holders;
      }
    };
    std::thread a(contend), b(contend);
    a.join();
    b.join();
    CHECK(max_holders == 1);
    CHECK(wins > 0);
  });
}

}  // namespace store_test
