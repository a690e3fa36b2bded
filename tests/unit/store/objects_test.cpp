// SAVEDATE (RFC 8514) and OBJECTID (RFC 8474) in the store: save dates,
// EMAILIDs and MAILBOXIDs over every backend, then the Maildir specifics
// (ids carried in file names and the mailbox directory, surviving the index).
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "conformance.h"
#include "store/maildir/names.h"
#include "store/store.h"

using namespace store;
namespace fs = std::filesystem;

namespace {

uint32_t add(Account& a, const std::string& mbox, const std::string& body, int64_t date = 0) {
  auto tx = a.begin_append(mbox, 0, {}, date);
  REQUIRE(tx.ok());
  REQUIRE((*tx)->write(body).ok());
  auto uid = (*tx)->commit();
  REQUIRE(uid.ok());
  return *uid;
}

std::unique_ptr<Mailbox> open_box(Account& a, const std::string& name) {
  auto mb = a.open_mailbox(name, false);
  REQUIRE(mb.ok());
  REQUIRE((*mb)->sync().ok());
  return std::move(*mb);
}

MessageMeta meta_of(Account& a, const std::string& name, uint32_t uid) {
  auto mb = open_box(a, name);
  for (const auto& m : mb->messages()) {
    if (m.uid == uid) return m;
  }
  FAIL("no uid ", uid, " in ", name);
  return {};
}

std::string id_of(Account& a, const std::string& name) {
  auto id = a.mailbox_id(name);
  REQUIRE_MESSAGE(id.ok(), "mailbox_id(" << name << ")");
  CHECK(maildir::is_valid_object_id(*id));
  return *id;
}

template <class F>
void each_backend(F&& check) {
  for (const auto& b : store_test::store_backends()) {
    INFO("backend: ", b.name);
    auto st = b.make();
    REQUIRE(st != nullptr);
    auto acct = st->open_account("example.com", "alice");
    REQUIRE(acct.ok());
    check(**acct);
  }
}

const std::string kMsg = "From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n";

}  // namespace

TEST_CASE("objects: save date and EMAILID on append, copy and move") {
  each_backend([](Account& a) {
    REQUIRE(a.create_mailbox("Other").ok());
    int64_t before = static_cast<int64_t>(std::time(nullptr));
    uint32_t u1 = add(a, "INBOX", kMsg, 1000000000);  // internal date in 2001
    uint32_t u2 = add(a, "INBOX", kMsg);
    // The fine clock: time() may lag a file's timestamp by a tick.
    int64_t after = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    MessageMeta m1 = meta_of(a, "INBOX", u1);
    MessageMeta m2 = meta_of(a, "INBOX", u2);
    // The save date is when it was put here, not the internal date.
    CHECK(m1.internal_date == 1000000000);
    CHECK(m1.save_date >= before);
    CHECK(m1.save_date <= after);
    CHECK(maildir::is_valid_object_id(m1.email_id));
    CHECK(maildir::is_valid_object_id(m2.email_id));
    CHECK(m1.email_id != m2.email_id);
    // Stable between views.
    CHECK(meta_of(a, "INBOX", u1).email_id == m1.email_id);
    CHECK(meta_of(a, "INBOX", u1).save_date == m1.save_date);

    auto inbox = open_box(a, "INBOX");
    uint32_t validity = 0;
    auto copied = inbox->copy_to(std::vector<uint32_t>{u1, u2}, "Other", false, &validity);
    REQUIRE(copied.ok());
    REQUIRE(copied->size() == 2);
    MessageMeta c1 = meta_of(a, "Other", (*copied)[0].second);
    MessageMeta c2 = meta_of(a, "Other", (*copied)[1].second);
    CHECK(c1.email_id == m1.email_id);
    CHECK(c2.email_id == m2.email_id);
    CHECK(c1.save_date >= m1.save_date);
    CHECK(c1.internal_date == 1000000000);

    auto moved = inbox->copy_to(std::vector<uint32_t>{u1}, "Other", true, &validity);
    REQUIRE(moved.ok());
    REQUIRE(moved->size() == 1);
    MessageMeta v1 = meta_of(a, "Other", (*moved)[0].second);
    CHECK(v1.email_id == m1.email_id);
    // A copy of a copy keeps it too.
    auto other = open_box(a, "Other");
    auto again =
        other->copy_to(std::vector<uint32_t>{(*moved)[0].second}, "INBOX", false, &validity);
    REQUIRE(again.ok());
    CHECK(meta_of(a, "INBOX", (*again)[0].second).email_id == m1.email_id);
  });
}

TEST_CASE("objects: MAILBOXID across rename, delete and create") {
  each_backend([](Account& a) {
    std::string inbox = id_of(a, "INBOX");
    CHECK(id_of(a, "inbox") == inbox);
    REQUIRE(a.create_mailbox("A/B").ok());
    std::string ida = id_of(a, "A");
    std::string idb = id_of(a, "A/B");
    CHECK(ida != idb);
    CHECK(ida != inbox);
    CHECK(id_of(a, "A/B") == idb);  // stable

    REQUIRE(a.rename_mailbox("A", "Z").ok());
    CHECK(id_of(a, "Z") == ida);
    CHECK(id_of(a, "Z/B") == idb);
    CHECK(a.mailbox_id("A").error().code == Errc::kNotFound);
    CHECK(a.mailbox_id("Nope").error().code == Errc::kNotFound);
    CHECK(a.mailbox_id("bad//name").error().code == Errc::kInvalidName);

    REQUIRE(a.delete_mailbox("Z/B").ok());
    REQUIRE(a.create_mailbox("Z/B").ok());
    std::string idb2 = id_of(a, "Z/B");
    CHECK(idb2 != idb);

    // Renaming INBOX: INBOX keeps its id, the new mailbox gets its own.
    add(a, "INBOX", kMsg);
    REQUIRE(a.rename_mailbox("INBOX", "Old").ok());
    CHECK(id_of(a, "INBOX") == inbox);
    std::string old = id_of(a, "Old");
    std::set<std::string> all = {inbox, ida, idb, idb2, old};
    CHECK(all.size() == 5);
  });
}

// --- Maildir specifics -------------------------------------------------------------------

TEST_CASE("maildir names: save date and email id from file names") {
  using namespace store::maildir;
  CHECK(save_date_from_base("1732620000.M1P2Q3.host") == 1732620000);
  CHECK(save_date_from_base("1.x") == 1);
  CHECK_FALSE(save_date_from_base("0.x").has_value());
  CHECK_FALSE(save_date_from_base("abc.def").has_value());
  CHECK_FALSE(save_date_from_base("1732620000").has_value());
  CHECK_FALSE(save_date_from_base(".123").has_value());
  CHECK_FALSE(save_date_from_base("1234567890123.x").has_value());
  CHECK_FALSE(save_date_from_base("17x2.x").has_value());

  CHECK(is_valid_object_id("M-_aZ09"));
  CHECK_FALSE(is_valid_object_id(""));
  CHECK_FALSE(is_valid_object_id("a.b"));
  CHECK_FALSE(is_valid_object_id("a b"));
  CHECK(is_valid_object_id(std::string(255, 'x')));
  CHECK_FALSE(is_valid_object_id(std::string(256, 'x')));

  std::string id = email_id_for_base("1732620000.M1P2Q3.host");
  CHECK(id.size() == 25);
  CHECK(id[0] == 'M');
  CHECK(is_valid_object_id(id));
  CHECK(id == email_id_for_base("1732620000.M1P2Q3.host"));
  CHECK(id != email_id_for_base("1732620000.M1P2Q4.host"));

  auto m = parse_message_name("1732620000.M1P2Q3.host,S=5,W=6,U=7,E=Mkept_id:2,S");
  CHECK(m.email_id() == "Mkept_id");
  CHECK(email_id_for_file("1732620000.M1P2Q3.host,S=5,W=6,U=7,E=Mkept_id:2,S") == "Mkept_id");
  CHECK(email_id_for_file("1732620000.M1P2Q3.host,S=5:2,S") == id);
  // A damaged E= is ignored.
  CHECK(email_id_for_file("1732620000.M1P2Q3.host,E=bad.id:2,") == id);
  CHECK(parse_message_name("1732620000.M1P2Q3.host,E=:2,").email_id() == id);
  m.set_field('E', std::string("Mnew"));
  CHECK(m.str() == "1732620000.M1P2Q3.host,S=5,W=6,U=7,E=Mnew:2,S");
}

namespace {

struct Tmp {
  Tmp() {
    std::string p = (fs::temp_directory_path() / "roost-objects-test-XXXXXX").string();
    REQUIRE(::mkdtemp(p.data()) != nullptr);
    path = p;
  }
  ~Tmp() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

std::unique_ptr<Store> maildir_store(const Tmp& t) {
  return make_maildir_store({t.path + "/mail/{domain}/{user}", t.path + "/index", false});
}

std::shared_ptr<Account> acct(Store& s) {
  auto a = s.open_account("example.com", "alice");
  REQUIRE(a.ok());
  return *a;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("maildir objects: ids and save dates survive the loss of the index") {
  Tmp t;
  std::string root = t.path + "/mail/example.com/alice";
  std::vector<MessageMeta> before;
  std::string inbox_id, sent_id;
  {
    auto s = maildir_store(t);
    auto a = acct(*s);
    REQUIRE(a->create_mailbox("Sent").ok());
    add(*a, "INBOX", kMsg);
    uint32_t u = add(*a, "Sent", kMsg);
    auto sent = open_box(*a, "Sent");
    uint32_t v = 0;
    REQUIRE(sent->copy_to(std::vector<uint32_t>{u}, "INBOX", false, &v).ok());
    before = open_box(*a, "INBOX")->messages();
    inbox_id = id_of(*a, "INBOX");
    sent_id = id_of(*a, "Sent");
  }
  // The copy carries its source's id in the name; the original does not need to.
  auto names = files_in(root + "/cur");
  REQUIRE(names.size() == 2);
  CHECK(names[0].find(",E=") == std::string::npos);
  CHECK(names[1].find(",E=" + before[1].email_id + ":2,") != std::string::npos);
  CHECK(fs::exists(root + "/roost-mailboxid"));
  CHECK(fs::exists(root + "/.Sent/roost-mailboxid"));

  fs::remove_all(t.path + "/index");
  auto s = maildir_store(t);
  auto a = acct(*s);
  auto after = open_box(*a, "INBOX")->messages();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].email_id == before[i].email_id);
    CHECK(after[i].save_date == before[i].save_date);
  }
  CHECK(id_of(*a, "INBOX") == inbox_id);
  CHECK(id_of(*a, "Sent") == sent_id);
}

TEST_CASE("maildir objects: delivered files, odd names, outside folders, lost id file") {
  Tmp t;
  std::string root = t.path + "/mail/example.com/alice";
  auto s = maildir_store(t);
  auto a = acct(*s);
  REQUIRE(a->ensure_defaults(SpecialUseNames{}).ok());
  // An MTA delivery: the save date is the name's seconds; a name without
  // them falls back to the internal date (the file's mtime).
  {
    std::ofstream(root + "/new/1700000000.M5P6.mx") << kMsg;
    std::ofstream(root + "/new/odd-name") << kMsg;
    struct timeval tv[2] = {{1600000000, 0}, {1600000000, 0}};
    REQUIRE(::utimes((root + "/new/odd-name").c_str(), tv) == 0);
  }
  auto mb = open_box(*a, "INBOX");
  REQUIRE(mb->messages().size() == 2);
  CHECK(mb->messages()[0].save_date == 1700000000);
  CHECK(mb->messages()[1].save_date == 1600000000);
  CHECK(mb->messages()[1].save_date == mb->messages()[1].internal_date);
  CHECK(mb->messages()[0].email_id != mb->messages()[1].email_id);

  // A folder made by another tool gets an id on first use, and keeps it.
  for (const char* d : {"/.Tool", "/.Tool/cur", "/.Tool/new", "/.Tool/tmp"}) {
    fs::create_directory(root + d);
  }
  std::string tool = id_of(*a, "Tool");
  CHECK(id_of(*a, "Tool") == tool);
  CHECK(fs::exists(root + "/.Tool/roost-mailboxid"));
  for (const auto& f : files_in(root + "/.Tool")) CHECK(f.find(".new.") == std::string::npos);

  // A lost or damaged id file: a new id (the old one is never reused).
  fs::remove(root + "/.Tool/roost-mailboxid");
  std::string fresh = id_of(*a, "Tool");
  CHECK(fresh != tool);
  std::ofstream(root + "/.Tool/roost-mailboxid") << "not valid!\n";
  std::string repaired = id_of(*a, "Tool");
  CHECK(repaired != fresh);
  CHECK(id_of(*a, "Tool") == repaired);
}
