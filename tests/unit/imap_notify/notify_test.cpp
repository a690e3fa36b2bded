// Unit tests for imap/notify: NOTIFY arguments (through the command parser,
// fed at every split) and the filter matching of mailbox names.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "imap/notify/notify.h"
#include "imap/proto/parser.h"

using imap::notify::FilterKind;
using imap::notify::ParseResult;
namespace notify = imap::notify;
namespace proto = imap::proto;

namespace {

// Feeds `wire` to a Parser in pieces of `step` bytes (0: whole), accepting
// every literal, and returns the commands it produced.
std::vector<proto::Event> feed(const std::string& wire, size_t step) {
  proto::Parser p;
  p.set_authenticated(true);
  std::vector<proto::Event> out;
  size_t n = step == 0 ? wire.size() : step;
  for (size_t i = 0; i < wire.size(); i += n) {
    p.feed(std::string_view(wire).substr(i, n));
    while (auto ev = p.next()) {
      if (std::holds_alternative<proto::NeedContinuation>(*ev)) p.accept_literal();
      out.push_back(std::move(*ev));
    }
  }
  return out;
}

ParseResult parse_wire(const std::string& wire, size_t step) {
  auto events = feed(wire, step);
  for (auto& ev : events) {
    if (auto* c = std::get_if<proto::Command>(&ev)) {
      REQUIRE(c->verb == proto::Verb::kNotify);
      return notify::parse(std::get<proto::NotifyArgs>(c->args).text);
    }
  }
  FAIL("no command");
  return {};
}

ParseResult parse(const std::string& args) {
  return notify::parse(args);
}

}  // namespace

TEST_CASE("NOTIFY SET with every filter, read at every split") {
  const std::string wire =
      "t1 NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From Subject)]) "
      "MessageExpunge FlagChange)) (subtree {5}\r\nLists (MessageNew MessageExpunge)) "
      "(mailboxes (INBOX \"a b\" {3+}\r\nx y) (MailboxName SubscriptionChange)) "
      "(inboxes NONE) (personal (MessageNew MessageExpunge)) (subscribed (MailboxName))\r\n";
  for (size_t step : {0, 100, 10, 5, 2, 1}) {
    CAPTURE(step);
    auto r = parse_wire(wire, step);
    REQUIRE(r.kind == ParseResult::Kind::kOk);
    const auto& s = r.spec;
    CHECK(s.status);
    CHECK_FALSE(s.none);
    REQUIRE(s.groups.size() == 6);
    CHECK(s.groups[0].filter == FilterKind::kSelected);
    CHECK(s.groups[0].events ==
          (notify::kMessageNew | notify::kMessageExpunge | notify::kFlagChange));
    REQUIRE(s.groups[0].fetch_atts.size() == 2);
    CHECK(s.groups[0].fetch_atts[0].kind == proto::FetchAtt::Kind::kUid);
    CHECK(s.groups[0].fetch_atts[1].kind == proto::FetchAtt::Kind::kBodySection);
    CHECK(s.groups[0].fetch_atts[1].peek);
    CHECK(s.groups[0].fetch_atts[1].section.fields == std::vector<std::string>{"From", "Subject"});
    CHECK(s.groups[1].filter == FilterKind::kSubtree);
    REQUIRE(s.groups[1].names.size() == 1);
    CHECK(s.groups[1].names[0].name == "Lists");
    CHECK(s.groups[1].names[0].form == proto::Mailbox::Form::kLiteral);
    CHECK(s.groups[2].filter == FilterKind::kMailboxes);
    REQUIRE(s.groups[2].names.size() == 3);
    CHECK(s.groups[2].names[0].name == "INBOX");
    CHECK(s.groups[2].names[1].name == "a b");
    CHECK(s.groups[2].names[2].name == "x y");
    CHECK(s.groups[2].events == (notify::kMailboxName | notify::kSubscriptionChange));
    CHECK(s.groups[3].filter == FilterKind::kInboxes);
    CHECK(s.groups[3].events == 0);
    CHECK(s.groups[4].filter == FilterKind::kPersonal);
    CHECK(s.groups[5].filter == FilterKind::kSubscribed);
    CHECK(s.groups[5].events == notify::kMailboxName);
  }
}

TEST_CASE("NOTIFY NONE and the simple forms") {
  for (size_t step : {0, 100, 10, 5, 2, 1}) {
    auto r = parse_wire("a NOTIFY NONE\r\n", step);
    REQUIRE(r.kind == ParseResult::Kind::kOk);
    CHECK(r.spec.none);
  }
  auto r = parse(" set (SELECTED-DELAYED (messagenew messageexpunge))");
  REQUIRE(r.kind == ParseResult::Kind::kOk);
  CHECK_FALSE(r.spec.status);
  REQUIRE(r.spec.groups.size() == 1);
  CHECK(r.spec.groups[0].filter == FilterKind::kSelectedDelayed);
  auto sel = notify::selected_part(r.spec);
  CHECK(sel.delayed);
  CHECK(sel.events == (notify::kMessageNew | notify::kMessageExpunge));
  r = parse(" SET (subtree INBOX (MessageNew MessageExpunge))");
  REQUIRE(r.kind == ParseResult::Kind::kOk);
  CHECK(notify::selected_part(r.spec).events == 0);
  // A mailbox named STATUS after SET is a group, not the indicator.
  r = parse(" SET STATUS (mailboxes status (MessageNew MessageExpunge))");
  REQUIRE(r.kind == ParseResult::Kind::kOk);
  CHECK(r.spec.status);
  CHECK(r.spec.groups[0].names[0].name == "status");
}

TEST_CASE("NOTIFY syntax and composition errors are BAD") {
  const char* bad[] = {
      "",
      " ",
      " NONE STATUS",
      " SET",
      " SET STATUS",
      " SET ",
      " SET ()",
      " SET (personal)",
      " SET (personal ())",
      " SET (personal (MessageNew MessageExpunge)",
      " SET (personal (MessageNew MessageExpunge)) ",
      " SET (personal (MessageNew))",
      " SET (personal (MessageExpunge))",
      " SET (personal (FlagChange))",
      " SET (selected (FlagChange MessageNew))",
      " SET (selected (MessageNew MessageExpunge MailboxName))",
      " SET (selected-delayed (SubscriptionChange))",
      " SET (selected NONE) (selected-delayed NONE)",
      " SET (selected NONE) (selected NONE)",
      " SET (personal (MessageNew (UID) MessageExpunge))",
      " SET (selected (MessageNew (NOSUCHATT) MessageExpunge))",
      " SET (selected (MessageNew () MessageExpunge))",
      " SET (everything (MessageNew MessageExpunge))",
      " SET (subtree (MessageNew MessageExpunge))",
      " SET (mailboxes () (MailboxName))",
      " SET (mailboxes \"open (MailboxName))",
      " SET (subtree {10}\nab (MailboxName))",
      " FOO",
      " SET(personal (MailboxName))",
  };
  for (const char* a : bad) {
    CAPTURE(std::string(a));
    auto r = parse(a);
    CHECK(r.kind == ParseResult::Kind::kBad);
    CHECK_FALSE(r.error.empty());
  }
  // The same through the command parser: the command arrives, NOTIFY reads BAD.
  for (size_t step : {0, 100, 10, 5, 2, 1}) {
    auto r = parse_wire("b NOTIFY SET (personal (MessageNew)) junk\r\n", step);
    CHECK(r.kind == ParseResult::Kind::kBad);
  }
}

TEST_CASE("Unsupported events are NO [BADEVENT] with the supported list") {
  const char* unsupported[] = {
      " SET (personal (MessageNew MessageExpunge AnnotationChange))",
      " SET (personal (MailboxMetadataChange))",
      " SET (personal (ServerMetadataChange))",
      " SET (subscribed (SomethingNew))",
      " SET (selected (MessageNew MessageExpunge FlagChange AnnotationChange))",
  };
  for (const char* a : unsupported) {
    CAPTURE(std::string(a));
    auto r = parse(a);
    CHECK(r.kind == ParseResult::Kind::kBadEvent);
  }
  CHECK(notify::supported_events_list() ==
        "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)");
  // Composition rules come first: AnnotationChange alone is BAD.
  CHECK(parse(" SET (personal (AnnotationChange))").kind == ParseResult::Kind::kBad);
}

TEST_CASE("Filter matching: the most specific group decides") {
  using notify::Resolved;
  const uint32_t msg = notify::kMessageNew | notify::kMessageExpunge;
  std::vector<Resolved> groups = {
      {FilterKind::kPersonal, {}, notify::kMailboxName},
      {FilterKind::kSubtree, {"Lists"}, msg},
      {FilterKind::kSubtree, {"Lists/Quiet"}, 0},
      {FilterKind::kMailboxes, {"Lists/Quiet/Loud"}, msg | notify::kFlagChange},
      {FilterKind::kSubscribed, {}, notify::kSubscriptionChange},
  };
  std::set<std::string> subs = {"Work", "Lists/x"};
  notify::MatchContext ctx{false, &subs};
  CHECK(notify::events_for(groups, "Other", ctx) == notify::kMailboxName);
  CHECK(notify::events_for(groups, "Work", ctx) == notify::kSubscriptionChange);
  CHECK(notify::events_for(groups, "Lists", ctx) == msg);
  CHECK(notify::events_for(groups, "Lists/a/b", ctx) == msg);
  CHECK(notify::events_for(groups, "Lists/x", ctx) == msg);  // subtree beats subscribed
  CHECK(notify::events_for(groups, "Listsy", ctx) == notify::kMailboxName);
  CHECK(notify::events_for(groups, "Lists/Quiet", ctx) == 0);
  CHECK(notify::events_for(groups, "Lists/Quiet/z", ctx) == 0);
  CHECK(notify::events_for(groups, "Lists/Quiet/Loud", ctx) == (msg | notify::kFlagChange));
  CHECK(notify::needs_subscriptions(groups));

  std::vector<Resolved> inboxes = {{FilterKind::kInboxes, {}, msg}};
  CHECK(notify::events_for(inboxes, "INBOX", {false, nullptr}) == msg);
  CHECK(notify::events_for(inboxes, "Sent", {false, nullptr}) == 0);
  CHECK(notify::events_for(inboxes, "Sent", {true, nullptr}) == msg);
  CHECK_FALSE(notify::needs_subscriptions(inboxes));

  // Same rank: events add up. "mailboxes" never matches children.
  std::vector<Resolved> two = {{FilterKind::kMailboxes, {"A"}, notify::kMailboxName},
                               {FilterKind::kMailboxes, {"A", "B"}, msg}};
  CHECK(notify::events_for(two, "A", {}) == (msg | notify::kMailboxName));
  CHECK(notify::events_for(two, "A/child", {}) == 0);
  CHECK(notify::events_for(two, "B", {}) == msg);
  // Selected groups never apply to other mailboxes.
  std::vector<Resolved> sel = {{FilterKind::kSelected, {}, msg}};
  CHECK(notify::events_for(sel, "INBOX", {}) == 0);
}

TEST_CASE("event names") {
  CHECK(notify::event_names(notify::kMessageNew | notify::kSubscriptionChange) ==
        "MessageNew SubscriptionChange");
  CHECK(notify::event_names(0).empty());
}
