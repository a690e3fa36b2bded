#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "imap/mailbox/status.h"
#include "imap/proto/writer.h"

using imap::mailbox::read_status_items;
using imap::mailbox::StatusItem;
using imap::mailbox::write_status;

namespace {

std::string status_line(std::string_view name, std::vector<std::string> names, uint32_t recent = 0,
                        imap::proto::Utf8Mode utf8 = imap::proto::Utf8Mode::kOff) {
  std::string error;
  auto items = read_status_items(names, false, &error);
  REQUIRE_MESSAGE(items.has_value(), error);
  store::MailboxStatus st;
  st.messages = 2;
  st.unseen = 1;
  st.deleted = 1;
  st.uidvalidity = 1700000000;
  st.uidnext = 5;
  st.highest_modseq = 12345678901ull;
  st.size = 4096;
  std::string out;
  write_status(out, name, st, *items, recent, [utf8](std::string& o, std::string_view n) {
    imap::proto::write_mailbox(o, n, utf8);
  });
  return out;
}

}  // namespace

TEST_CASE("STATUS items are written in the requested order") {
  CHECK(status_line("INBOX", {"MESSAGES", "UIDNEXT"}) ==
        "* STATUS INBOX (MESSAGES 2 UIDNEXT 5)\r\n");
  CHECK(status_line("INBOX", {"UIDNEXT", "MESSAGES"}) ==
        "* STATUS INBOX (UIDNEXT 5 MESSAGES 2)\r\n");
  CHECK(status_line("Sent",
                    {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
                     "HIGHESTMODSEQ"},
                    3) ==
        "* STATUS Sent (MESSAGES 2 RECENT 3 UIDNEXT 5 UIDVALIDITY 1700000000 UNSEEN 1 DELETED 1 "
        "SIZE 4096 HIGHESTMODSEQ 12345678901)\r\n");
}

TEST_CASE("STATUS repeats are dropped") {
  CHECK(status_line("INBOX", {"MESSAGES", "MESSAGES", "UNSEEN"}) ==
        "* STATUS INBOX (MESSAGES 2 UNSEEN 1)\r\n");
}

TEST_CASE("STATUS names are written for the client") {
  CHECK(status_line("Entw\xc3\xbcrfe", {"MESSAGES"}) == "* STATUS Entw&APw-rfe (MESSAGES 2)\r\n");
  CHECK(status_line("Entw\xc3\xbcrfe", {"MESSAGES"}, 0, imap::proto::Utf8Mode::kOn) ==
        "* STATUS \"Entw\xc3\xbcrfe\" (MESSAGES 2)\r\n");
  CHECK(status_line("My Box", {"SIZE"}) == "* STATUS \"My Box\" (SIZE 4096)\r\n");
}

TEST_CASE("STATUS item errors") {
  std::string error;
  std::vector<std::string> none;
  CHECK_FALSE(read_status_items(none, false, &error).has_value());
  CHECK(!error.empty());
  std::vector<std::string> unknown{"MESSAGES", "FOO"};
  error.clear();
  CHECK_FALSE(read_status_items(unknown, false, &error).has_value());
  CHECK(error.find("FOO") != std::string::npos);
  std::vector<std::string> recent{"RECENT"};
  CHECK(read_status_items(recent, false, &error).has_value());
  CHECK_FALSE(read_status_items(recent, true, &error).has_value());
  std::vector<std::string> all{"MESSAGES", "UIDNEXT", "UIDVALIDITY",  "UNSEEN",
                               "DELETED",  "SIZE",    "HIGHESTMODSEQ"};
  auto items = read_status_items(all, true, &error);
  REQUIRE(items.has_value());
  CHECK(items->size() == 7);
  CHECK(items->front() == StatusItem::kMessages);
  CHECK(items->back() == StatusItem::kHighestModSeq);
}

TEST_CASE("STATUS DELETED-STORAGE (RFC 9208)") {
  std::string error;
  std::vector<std::string> names{"DELETED", "DELETED-STORAGE"};
  // Only where the caller can compute it (STATUS, not LIST RETURN STATUS).
  CHECK_FALSE(read_status_items(names, false, &error).has_value());
  CHECK(error.find("DELETED-STORAGE") != std::string::npos);
  auto items = read_status_items(names, true, &error, true);
  REQUIRE(items.has_value());
  CHECK(imap::mailbox::wants_deleted_storage(*items));
  std::vector<std::string> plain{"DELETED"};
  auto no_storage = read_status_items(plain, false, &error, true);
  REQUIRE(no_storage.has_value());
  CHECK_FALSE(imap::mailbox::wants_deleted_storage(*no_storage));

  std::vector<store::MessageMeta> msgs(3);
  msgs[0].size = 100;
  msgs[0].flags = store::kDeleted | store::kSeen;
  msgs[1].size = 2000;
  msgs[1].flags = store::kSeen;
  msgs[2].size = 5000;
  msgs[2].flags = store::kDeleted;
  CHECK(imap::mailbox::deleted_storage(msgs) == 5100);
  CHECK(imap::mailbox::deleted_storage({}) == 0);

  store::MailboxStatus st;
  st.messages = 3;
  st.deleted = 2;
  std::string out;
  write_status(
      out, "INBOX", st, *items, 0,
      [](std::string& o, std::string_view n) { imap::proto::write_mailbox(o, n); }, 5100);
  CHECK(out == "* STATUS INBOX (DELETED 2 DELETED-STORAGE 5100)\r\n");
}
