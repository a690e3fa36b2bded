// NOTIFY (RFC 5465): the pure parts. Reading the arguments of a NOTIFY
// command into a Spec (with the RFC's composition rules), and deciding
// which events apply to a mailbox name. No I/O, no store, never throws.
//
// The session glue (watchers, the pushes between commands) is in
// imap/commands/notify.cpp.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/command.h"

namespace imap::notify {

// Event bits (RFC 5465 section 5).
enum Event : uint32_t {
  kMessageNew = 1u << 0,
  kMessageExpunge = 1u << 1,
  kFlagChange = 1u << 2,
  kAnnotationChange = 1u << 3,
  kMailboxName = 1u << 4,
  kSubscriptionChange = 1u << 5,
  kMailboxMetadataChange = 1u << 6,
  kServerMetadataChange = 1u << 7,
  kUnknownEvent = 1u << 31,  // an event-ext name Roost does not know
};
inline constexpr uint32_t kMessageEvents =
    kMessageNew | kMessageExpunge | kFlagChange | kAnnotationChange;
// What Roost can report.
inline constexpr uint32_t kSupportedEvents =
    kMessageNew | kMessageExpunge | kFlagChange | kMailboxName | kSubscriptionChange;

// "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)":
// the argument of the BADEVENT response code.
std::string supported_events_list();

enum class FilterKind {
  kSelected,
  kSelectedDelayed,
  kInboxes,
  kPersonal,
  kSubscribed,
  kSubtree,
  kMailboxes,
};

// One event group: "(" filter SP events ")".
struct Group {
  FilterKind filter = FilterKind::kPersonal;
  std::vector<proto::Mailbox> names;  // subtree / mailboxes, raw as sent
  uint32_t events = 0;                // 0: NONE
  // MessageNew's fetch attributes (selected / selected-delayed only).
  std::vector<proto::FetchAtt> fetch_atts;
  bool operator==(const Group&) const = default;
};

struct Spec {
  bool none = false;    // NOTIFY NONE
  bool status = false;  // NOTIFY SET STATUS
  std::vector<Group> groups;
  bool operator==(const Spec&) const = default;
};

struct ParseResult {
  enum class Kind {
    kOk,
    kBad,       // syntax or a composition rule: tagged BAD
    kBadEvent,  // well formed, asks for an event Roost does not report: NO [BADEVENT (...)]
  };
  Kind kind = Kind::kOk;
  Spec spec;
  std::string error;  // for kBad / kBadEvent
};

// Parses the arguments of NOTIFY: `args` is the command text after the
// word NOTIFY (normally starting with a space), literals in the parser's
// "{n}\n" + data form.
ParseResult parse(std::string_view args);

// The selected-mailbox part of a Spec: the events of the selected or
// selected-delayed group (0 when there is none), whether expunges wait for a
// command that allows them, and MessageNew's fetch attributes.
struct SelectedPart {
  uint32_t events = 0;
  bool delayed = false;
  std::vector<proto::FetchAtt> fetch_atts;
};
SelectedPart selected_part(const Spec& spec);

// A group for other mailboxes with its names in store spelling (decoded,
// INBOX canonical). Names that could not be decoded are dropped: they
// cannot name an existing mailbox (RFC 5465 says such names are ignored).
struct Resolved {
  FilterKind filter = FilterKind::kPersonal;
  std::vector<std::string> names;
  uint32_t events = 0;
  bool operator==(const Resolved&) const = default;
};

struct MatchContext {
  // "inboxes": every mailbox (true: delivery may put mail in any mailbox,
  // e.g. address-detail delivery into folders) or only INBOX (false).
  bool inboxes_all = false;
  const std::set<std::string>* subscribed = nullptr;  // for "subscribed"
};

// The events that apply to a mailbox that is not the selected one. When
// several groups match, the most specific one decides: "mailboxes", then
// "subtree" (the deepest named ancestor), then "inboxes", then
// "subscribed", then "personal"; groups of the same rank add up.
uint32_t events_for(std::span<const Resolved> groups, std::string_view name,
                    const MatchContext& ctx);

// Whether any group needs the subscription list ("subscribed" filter or
// SubscriptionChange events).
bool needs_subscriptions(std::span<const Resolved> groups);

// The event names of a bit set, space separated ("MessageNew MessageExpunge").
std::string event_names(uint32_t events);

}  // namespace imap::notify
