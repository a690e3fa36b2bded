// Tests of the backend-independent helpers: store/store.cpp and store_util.h.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store/store_util.h"

using namespace store;

namespace {

bool valid(std::string_view name) {
  return validate_mailbox_name(name).ok();
}

}  // namespace

TEST_CASE("validate_mailbox_name accepts ordinary names") {
  for (const char* n : {"INBOX", "inbox", "Sent", "a/b/c", "Éléments envoyés", "日本語/子", "a.b",
                        ".hidden", "a..b", "...", "[Gmail]/All Mail", "with space",
                        "trailing space ", "&AMk-", "%*", "emoji 📬", "INBOX/child"}) {
    INFO(n);
    CHECK(valid(n));
  }
  CHECK(valid(std::string(255, 'x')));
  std::string long_ok = std::string(255, 'a') + "/" + std::string(255, 'b') + "/" +
                        std::string(255, 'c') + "/" + std::string(255, 'd');  // 1023 bytes
  CHECK(long_ok.size() == 1023);
  CHECK(valid(long_ok));
  std::string exact = std::string(255, 'a') + "/" + std::string(255, 'b') + "/" +
                      std::string(255, 'c') + "/" + std::string(254, 'd') + "/e";
  CHECK(exact.size() == 1024);
  CHECK(valid(exact));
  CHECK_FALSE(valid(exact + "e"));   // 1025 bytes, every component short enough
  CHECK(valid("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST_CASE("validate_mailbox_name rejects bad names") {
  const std::string bad[] = {"",
                             "/",
                             "/a",
                             "a/",
                             "a//b",
                             ".",
                             "..",
                             "a/.",
                             "./a",
                             "a/../b",
                             "a\x01",
                             "a\x1f",
                             "a\x7f",
                             "\t",
                             "a\\b",
                             "\xC3",
                             "\xC3(",
                             "\x80",
                             "\xC0\x80",
                             "\xC1\xBF",
                             "\xE0\x80\xAF",
                             "\xED\xA0\x80",
                             "\xF0\x80\x80\xAF",
                             "\xF4\x90\x80\x80",
                             "\xF5\x80\x80\x80",
                             "\xFE",
                             "\xFF",
                             std::string(256, 'x'),
                             std::string(1, '\0'),
                             std::string("a\0b", 3)};
  for (const auto& n : bad) {
    INFO(n);
    auto r = validate_mailbox_name(n);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::kInvalidName);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("is_inbox and canonical names") {
  CHECK(is_inbox("INBOX"));
  CHECK(is_inbox("inbox"));
  CHECK(is_inbox("InBox"));
  CHECK_FALSE(is_inbox("INBOX/child"));
  CHECK_FALSE(is_inbox("INBOX2"));
  CHECK_FALSE(is_inbox("INBO"));
  CHECK_FALSE(is_inbox(""));
  CHECK(canonical_mailbox_name("inbox") == "INBOX");
  CHECK(canonical_mailbox_name("Inbox/Sub/x") == "INBOX/Sub/x");
  CHECK(canonical_mailbox_name("Inboxes") == "Inboxes");
  CHECK(canonical_mailbox_name("Sent/inbox") == "Sent/inbox");
  CHECK(parent_mailbox_name("a/b/c") == "a/b");
  CHECK(parent_mailbox_name("a") == "");
  CHECK(is_descendant_mailbox("a/b", "a"));
  CHECK(is_descendant_mailbox("a/b/c", "a"));
  CHECK_FALSE(is_descendant_mailbox("ab", "a"));
  CHECK_FALSE(is_descendant_mailbox("a", "a"));
  CHECK_FALSE(is_descendant_mailbox("a/", "a"));
  CHECK(mailbox_ancestors("a/b/c") == std::vector<std::string>{"a", "a/b"});
  CHECK(mailbox_ancestors("a").empty());
}

TEST_CASE("keywords") {
  CHECK(is_valid_keyword("$Forwarded"));
  CHECK(is_valid_keyword("NonJunk"));
  CHECK(is_valid_keyword("a.b-c_d"));
  CHECK_FALSE(is_valid_keyword(""));
  CHECK_FALSE(is_valid_keyword("\\Seen"));
  CHECK_FALSE(is_valid_keyword("\\Recent"));
  CHECK_FALSE(is_valid_keyword("two words"));
  for (const char* bad : {"a(", "a)", "a{", "a%", "a*", "a\"", "a]", "\x01", "\x7f", "é"}) {
    INFO(bad);
    CHECK_FALSE(is_valid_keyword(bad));
  }
  CHECK(is_valid_keyword(std::string(kMaxKeywordLength, 'k')));
  CHECK_FALSE(is_valid_keyword(std::string(kMaxKeywordLength + 1, 'k')));

  std::vector<std::string> k{"zeta", "Alpha", "\\Recent", "ALPHA", "beta", "bad word", "Zeta"};
  normalize_keywords(k);
  CHECK(k == std::vector<std::string>{"Alpha", "beta", "zeta"});
  CHECK(equals_ignore_case("$Junk", "$JUNK"));
  CHECK_FALSE(equals_ignore_case("$Junk", "$Junk2"));
}

TEST_CASE("apply_flag_change") {
  MessageMeta m;
  m.flags = kSeen;
  m.keywords = {"Work"};
  CHECK_FALSE(apply_flag_change(m, FlagChange{FlagOp::kAdd, kSeen, {"work"}, 0}));
  CHECK(m.keywords == std::vector<std::string>{"Work"});
  CHECK(apply_flag_change(m, FlagChange{FlagOp::kAdd, kFlagged | 0x100u, {"$a", "\\Seen"}, 0}));
  CHECK(m.flags == (kSeen | kFlagged));  // bits outside kAllFlags are ignored
  CHECK(m.keywords == std::vector<std::string>{"$a", "Work"});
  CHECK(apply_flag_change(m, FlagChange{FlagOp::kRemove, kSeen, {"WORK"}, 0}));
  CHECK(m.flags == kFlagged);
  CHECK(m.keywords == std::vector<std::string>{"$a"});
  CHECK_FALSE(apply_flag_change(m, FlagChange{FlagOp::kRemove, kDraft, {"nope"}, 0}));
  CHECK(apply_flag_change(m, FlagChange{FlagOp::kReplace, kDeleted, {"$A", "x"}, 0}));
  CHECK(m.flags == kDeleted);
  CHECK(m.keywords == std::vector<std::string>{"$a", "x"});  // existing spelling kept
  CHECK_FALSE(apply_flag_change(m, FlagChange{FlagOp::kReplace, kDeleted, {"x", "$a"}, 0}));
  CHECK(apply_flag_change(m, FlagChange{FlagOp::kReplace, 0, {}, 0}));
  CHECK(m.flags == 0);
  CHECK(m.keywords.empty());

  MessageMeta n;
  n.modseq = 10;
  CHECK_FALSE(fails_unchanged_since(n, FlagChange{FlagOp::kAdd, kSeen, {}, 0}));
  CHECK_FALSE(fails_unchanged_since(n, FlagChange{FlagOp::kAdd, kSeen, {}, 10}));
  CHECK(fails_unchanged_since(n, FlagChange{FlagOp::kAdd, kSeen, {}, 9}));
}

TEST_CASE("CRLF sizes at every split") {
  struct Case {
    std::string in;
    uint64_t size;
  };
  const Case cases[] = {
      {"", 0},           {"a", 1},
      {"\n", 2},         {"\r\n", 2},
      {"\r", 1},         {"a\nb\n", 6},
      {"a\r\nb\r\n", 6}, {"a\r\r\n", 4},
      {"\n\n\r\n\n", 8}, {"Subject: x\n\nbody\nmore", 24},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(crlf_size(c.in) == c.size);
    for (size_t split : {100, 10, 5, 2, 1}) {
      CrlfSizeCounter counter;
      for (size_t pos = 0; pos < c.in.size(); pos += split) {
        counter.feed(std::string_view(c.in).substr(pos, split));
      }
      CHECK(counter.size() == c.size);
    }
  }
}

TEST_CASE("diff_views and compute_status") {
  auto meta = [](uint32_t uid, uint32_t flags, uint64_t modseq) {
    MessageMeta m;
    m.uid = uid;
    m.flags = flags;
    m.modseq = modseq;
    m.size = 10;
    return m;
  };
  std::vector<MessageMeta> old{meta(1, 0, 1), meta(2, 0, 2), meta(3, kSeen, 3), meta(5, 0, 5)};
  std::vector<MessageMeta> now{meta(2, kSeen, 7), meta(3, kSeen, 3), meta(5, 0, 5), meta(6, 0, 6),
                               meta(9, 0, 8)};
  now[2].hidden = true;
  now[2].modseq = 9;
  SyncResult r = diff_views(old, now);
  CHECK(r.expunged == std::vector<uint32_t>{1});
  CHECK(r.added == std::vector<uint32_t>{6, 9});
  CHECK(r.flags_changed == std::vector<uint32_t>{2, 5});
  CHECK_FALSE(r.uidvalidity_changed);
  CHECK(diff_views(now, now).flags_changed.empty());
  CHECK(diff_views({}, now).added.size() == 5);
  CHECK(diff_views(now, {}).expunged.size() == 5);

  now[0].flags |= kDeleted;
  MailboxStatus st = compute_status(now, 42, 10, 9);
  CHECK(st.messages == 5);
  CHECK(st.unseen == 3);
  CHECK(st.deleted == 1);
  CHECK(st.size == 50);
  CHECK(st.uidvalidity == 42);
  CHECK(st.uidnext == 10);
  CHECK(st.highest_modseq == 9);

  CHECK(make_uidl(0x1a2b, 0x10) == "1a2b.10");
}
