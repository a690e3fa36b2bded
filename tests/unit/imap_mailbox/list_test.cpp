#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "imap/mailbox/list.h"
#include "imap/proto/writer.h"

using imap::mailbox::list_entries;
using imap::mailbox::ListEntry;
using imap::mailbox::ListOptions;
using imap::mailbox::lsub_entries;
using imap::mailbox::read_list_options;
using imap::mailbox::StatusItem;
using store::MailboxInfo;
using store::SpecialUse;

namespace {

MailboxInfo box(std::string name, SpecialUse use = SpecialUse::kNone, bool noselect = false) {
  MailboxInfo m;
  m.name = std::move(name);
  m.special_use = use;
  m.noselect = noselect;
  return m;
}

// A small account: INBOX with a child, the special-use folders, a hierarchy
// with a placeholder parent ("Lists" holds only children) and a deep one
// whose middle level is missing from the store's list.
std::vector<MailboxInfo> fake_mailboxes() {
  return {box("INBOX"),
          box("INBOX/Receipts"),
          box("Drafts", SpecialUse::kDrafts),
          box("Sent", SpecialUse::kSent),
          box("Trash", SpecialUse::kTrash),
          box("Archive", SpecialUse::kArchive),
          box("Archive/2023"),
          box("Lists", SpecialUse::kNone, true),
          box("Lists/dev"),
          box("Lists/users"),
          box("Projects/roost/notes")};
}

std::vector<std::string> fake_subscriptions() {
  return {"INBOX", "Sent", "Lists/dev", "Gone", "Projects/roost/notes", "Old/stuff"};
}

// Renders entries as "<name> <attrs...> [CHILDINFO...]" for compact checks.
std::vector<std::string> render(const std::vector<ListEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    std::string line = e.name + " (";
    for (size_t i = 0; i < e.attributes.size(); ++i) line += (i ? " " : "") + e.attributes[i];
    line += ")";
    if (!e.childinfo.empty()) {
      line += " CHILDINFO";
      for (const auto& c : e.childinfo) line += " " + c;
    }
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> list(std::vector<std::string> patterns, const ListOptions& o = {}) {
  auto boxes = fake_mailboxes();
  auto subs = fake_subscriptions();
  return render(list_entries(boxes, subs, patterns, o));
}

ListOptions options(std::vector<std::string> selection, std::vector<std::string> ret = {},
                    std::vector<std::string> status = {}) {
  imap::proto::ListArgs a;
  a.selection = std::move(selection);
  a.return_opts = std::move(ret);
  a.status_items = std::move(status);
  a.extended = true;
  ListOptions o;
  std::string error;
  bool ok = read_list_options(a, false, &o, &error);
  REQUIRE_MESSAGE(ok, error);
  return o;
}

std::string options_error(std::vector<std::string> selection, std::vector<std::string> ret = {},
                          std::vector<std::string> status = {}, bool rev2 = false) {
  imap::proto::ListArgs a;
  a.selection = std::move(selection);
  a.return_opts = std::move(ret);
  a.status_items = std::move(status);
  ListOptions o;
  std::string error;
  if (read_list_options(a, rev2, &o, &error)) return "";
  CHECK(!error.empty());
  return error;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("LIST * gives every mailbox, INBOX first, with children and special-use attributes") {
  CHECK(list({"*"}) == V{
                           "INBOX (\\HasChildren)",
                           "Archive (\\HasChildren \\Archive)",
                           "Archive/2023 (\\HasNoChildren)",
                           "Drafts (\\HasNoChildren \\Drafts)",
                           "INBOX/Receipts (\\HasNoChildren)",
                           "Lists (\\Noselect \\HasChildren)",
                           "Lists/dev (\\HasNoChildren)",
                           "Lists/users (\\HasNoChildren)",
                           "Projects (\\Noselect \\HasChildren)",
                           "Projects/roost (\\Noselect \\HasChildren)",
                           "Projects/roost/notes (\\HasNoChildren)",
                           "Sent (\\HasNoChildren \\Sent)",
                           "Trash (\\HasNoChildren \\Trash)",
                       });
}

TEST_CASE("LIST % stays at the top level; missing parents show as \\Noselect") {
  CHECK(list({"%"}) == V{
                           "INBOX (\\HasChildren)",
                           "Archive (\\HasChildren \\Archive)",
                           "Drafts (\\HasNoChildren \\Drafts)",
                           "Lists (\\Noselect \\HasChildren)",
                           "Projects (\\Noselect \\HasChildren)",
                           "Sent (\\HasNoChildren \\Sent)",
                           "Trash (\\HasNoChildren \\Trash)",
                       });
  CHECK(list({"Projects/%"}) == V{"Projects/roost (\\Noselect \\HasChildren)"});
  CHECK(list({"Lists/%"}) == V{"Lists/dev (\\HasNoChildren)", "Lists/users (\\HasNoChildren)"});
}

TEST_CASE("LIST matches INBOX in any case and exact names") {
  CHECK(list({"inbox"}) == V{"INBOX (\\HasChildren)"});
  CHECK(list({"iNbOx/%"}) == V{"INBOX/Receipts (\\HasNoChildren)"});
  CHECK(list({"Sent"}) == V{"Sent (\\HasNoChildren \\Sent)"});
  CHECK(list({"sent"}).empty());
  CHECK(list({"Nope"}).empty());
  CHECK(list({""}).empty());
}

TEST_CASE("LIST with several patterns lists each name once") {
  CHECK(list({"Sent", "S*", "Trash"}) ==
        V{"Sent (\\HasNoChildren \\Sent)", "Trash (\\HasNoChildren \\Trash)"});
}

TEST_CASE("RETURN (SUBSCRIBED) marks subscribed names, without listing missing ones") {
  auto o = options({}, {"SUBSCRIBED"});
  CHECK(list({"%"}, o) == V{
                              "INBOX (\\HasChildren \\Subscribed)",
                              "Archive (\\HasChildren \\Archive)",
                              "Drafts (\\HasNoChildren \\Drafts)",
                              "Lists (\\Noselect \\HasChildren)",
                              "Projects (\\Noselect \\HasChildren)",
                              "Sent (\\HasNoChildren \\Subscribed \\Sent)",
                              "Trash (\\HasNoChildren \\Trash)",
                          });
}

TEST_CASE("selection SUBSCRIBED lists subscribed names, \\NonExistent for missing ones") {
  auto o = options({"SUBSCRIBED"});
  CHECK(list({"*"}, o) == V{
                              "INBOX (\\HasChildren \\Subscribed)",
                              "Gone (\\NonExistent \\Subscribed)",
                              "Lists/dev (\\HasNoChildren \\Subscribed)",
                              "Old/stuff (\\NonExistent \\Subscribed)",
                              "Projects/roost/notes (\\HasNoChildren \\Subscribed)",
                              "Sent (\\HasNoChildren \\Subscribed \\Sent)",
                          });
  // Without RECURSIVEMATCH, '%' does not bring up parents of subscribed names.
  CHECK(list({"%"}, o) == V{
                              "INBOX (\\HasChildren \\Subscribed)",
                              "Gone (\\NonExistent \\Subscribed)",
                              "Sent (\\HasNoChildren \\Subscribed \\Sent)",
                          });
}

TEST_CASE("RECURSIVEMATCH adds parents with CHILDINFO") {
  auto o = options({"SUBSCRIBED", "RECURSIVEMATCH"});
  CHECK(list({"%"}, o) == V{
                              "INBOX (\\HasChildren \\Subscribed)",
                              "Gone (\\NonExistent \\Subscribed)",
                              "Lists (\\Noselect \\HasChildren) CHILDINFO SUBSCRIBED",
                              "Old (\\NonExistent) CHILDINFO SUBSCRIBED",
                              "Projects (\\Noselect \\HasChildren) CHILDINFO SUBSCRIBED",
                              "Sent (\\HasNoChildren \\Subscribed \\Sent)",
                          });
  // CHILDINFO is given whether or not the child matches the pattern too.
  CHECK(list({"Projects*"}, o) == V{
                                      "Projects (\\Noselect \\HasChildren) CHILDINFO SUBSCRIBED",
                                      "Projects/roost (\\Noselect \\HasChildren) CHILDINFO "
                                      "SUBSCRIBED",
                                      "Projects/roost/notes (\\HasNoChildren \\Subscribed)",
                                  });
}

TEST_CASE("selection SPECIAL-USE lists special-use mailboxes only") {
  auto o = options({"SPECIAL-USE"});
  CHECK(o.return_special_use);
  CHECK(list({"*"}, o) == V{
                              "Archive (\\HasChildren \\Archive)",
                              "Drafts (\\HasNoChildren \\Drafts)",
                              "Sent (\\HasNoChildren \\Sent)",
                              "Trash (\\HasNoChildren \\Trash)",
                          });
  auto both = options({"SPECIAL-USE", "SUBSCRIBED"});
  CHECK(list({"*"}, both) == V{"Sent (\\HasNoChildren \\Subscribed \\Sent)"});
  auto with_return = options({}, {"SPECIAL-USE", "CHILDREN"});
  CHECK(list({"Drafts"}, with_return) == V{"Drafts (\\HasNoChildren \\Drafts)"});
}

TEST_CASE("LIST options: errors and implied return options") {
  CHECK(options_error({"BOGUS"}) != "");
  CHECK(options_error({"RECURSIVEMATCH"}) != "");
  CHECK(options_error({"REMOTE", "RECURSIVEMATCH"}) != "");
  CHECK(options_error({}, {"BOGUS"}) != "");
  CHECK(options_error({}, {"STATUS"}, {"MESSAGES", "NOPE"}) != "");
  CHECK(options_error({}, {"STATUS"}, {"RECENT"}, true) != "");
  CHECK(options_error({}, {"STATUS"}, {"RECENT"}, false) == "");
  CHECK(options_error({"REMOTE"}) == "");
  auto o = options({"SUBSCRIBED", "REMOTE"}, {"CHILDREN", "STATUS"}, {"UIDNEXT", "MESSAGES"});
  CHECK(o.select_subscribed);
  CHECK(o.return_subscribed);
  CHECK(o.return_children);
  CHECK(o.return_status);
  CHECK(o.status_items == std::vector<StatusItem>{StatusItem::kUidNext, StatusItem::kMessages});
}

TEST_CASE("only existing, selectable mailboxes are marked for LIST-STATUS") {
  auto boxes = fake_mailboxes();
  auto subs = fake_subscriptions();
  V patterns{"*"};
  auto entries = list_entries(boxes, subs, patterns, options({"SUBSCRIBED", "RECURSIVEMATCH"}));
  for (const auto& e : entries) {
    bool expect = e.name == "INBOX" || e.name == "Sent" || e.name == "Lists/dev" ||
                  e.name == "Projects/roost/notes";
    CHECK_MESSAGE(e.selectable == expect, e.name);
  }
}

TEST_CASE("LSUB: subscribed names; '%' brings up unsubscribed parents as \\Noselect") {
  auto boxes = fake_mailboxes();
  auto subs = fake_subscriptions();
  CHECK(render(lsub_entries(boxes, subs, "*")) == V{
                                                      "INBOX ()",
                                                      "Gone ()",
                                                      "Lists/dev ()",
                                                      "Old/stuff ()",
                                                      "Projects/roost/notes ()",
                                                      "Sent ()",
                                                  });
  CHECK(render(lsub_entries(boxes, subs, "%")) == V{
                                                      "INBOX ()",
                                                      "Gone ()",
                                                      "Lists (\\Noselect)",
                                                      "Old (\\Noselect)",
                                                      "Projects (\\Noselect)",
                                                      "Sent ()",
                                                  });
  CHECK(render(lsub_entries(boxes, subs, "Projects/%")) == V{"Projects/roost (\\Noselect)"});
  CHECK(render(lsub_entries(boxes, subs, "Lists/%")) == V{"Lists/dev ()"});
  CHECK(render(lsub_entries(boxes, subs, "inbox")) == V{"INBOX ()"});
  CHECK(lsub_entries(boxes, subs, "Drafts").empty());
}

TEST_CASE("LSUB: a subscribed parent is listed as itself, not as \\Noselect") {
  std::vector<MailboxInfo> boxes{box("INBOX"), box("a"), box("a/b")};
  V subs{"a", "a/b"};
  CHECK(render(lsub_entries(boxes, subs, "%")) == V{"a ()"});
  CHECK(render(lsub_entries(boxes, subs, "*")) == V{"a ()", "a/b ()"});
  V only_child{"a/b"};
  // "a" exists, but is not subscribed: '%' shows it as \Noselect (RFC 3501 6.3.9).
  CHECK(render(lsub_entries(boxes, only_child, "%")) == V{"a (\\Noselect)"});
}

TEST_CASE("response lines") {
  imap::mailbox::NameWriter w = [](std::string& out, std::string_view name) {
    imap::proto::write_mailbox(out, name);
  };
  std::string out;
  ListEntry e;
  e.name = "Entw\xc3\xbcrfe";
  e.attributes = {"\\HasNoChildren", "\\Drafts"};
  imap::mailbox::write_list_entry(out, "LIST", e, w);
  CHECK(out == "* LIST (\\HasNoChildren \\Drafts) \"/\" Entw&APw-rfe\r\n");

  out.clear();
  e.name = "Old";
  e.attributes = {"\\NonExistent"};
  e.childinfo = {"SUBSCRIBED"};
  imap::mailbox::write_list_entry(out, "LIST", e, w);
  CHECK(out == "* LIST (\\NonExistent) \"/\" Old (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");

  out.clear();
  e.name = "My Box";
  e.attributes = {};
  e.childinfo = {};
  imap::mailbox::write_list_entry(out, "LSUB", e, w);
  CHECK(out == "* LSUB () \"/\" \"My Box\"\r\n");

  out.clear();
  imap::mailbox::write_delimiter_entry(out);
  CHECK(out == "* LIST (\\Noselect) \"/\" \"\"\r\n");
}

TEST_CASE("delimiter request detection") {
  imap::proto::ListArgs a;
  a.patterns.push_back({});
  CHECK(imap::mailbox::is_delimiter_request(a));
  a.reference.name = "foo/";
  CHECK(imap::mailbox::is_delimiter_request(a));
  a.selection = {"SUBSCRIBED"};
  CHECK_FALSE(imap::mailbox::is_delimiter_request(a));
  a.selection.clear();
  a.patterns.push_back({});
  CHECK_FALSE(imap::mailbox::is_delimiter_request(a));
  a.patterns.pop_back();
  a.patterns[0].name = "*";
  CHECK_FALSE(imap::mailbox::is_delimiter_request(a));
}

TEST_CASE("special-use attribute names") {
  using imap::mailbox::special_use_attribute;
  using imap::mailbox::special_use_from_attribute;
  CHECK(special_use_from_attribute("\\Drafts") == SpecialUse::kDrafts);
  CHECK(special_use_from_attribute("\\drafts") == SpecialUse::kDrafts);
  CHECK(special_use_from_attribute("\\SENT") == SpecialUse::kSent);
  CHECK(special_use_from_attribute("\\Junk") == SpecialUse::kJunk);
  CHECK(special_use_from_attribute("\\Archive") == SpecialUse::kArchive);
  CHECK(special_use_from_attribute("\\Trash") == SpecialUse::kTrash);
  CHECK(special_use_from_attribute("\\All") == SpecialUse::kNone);
  CHECK(special_use_from_attribute("Drafts") == SpecialUse::kNone);
  CHECK(special_use_attribute(SpecialUse::kNone).empty());
  CHECK(special_use_attribute(SpecialUse::kJunk) == "\\Junk");
}
