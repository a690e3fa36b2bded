// LIST and LSUB answers (RFC 9051 6.3.9, RFC 3501 6.3.8-9, LIST-EXTENDED RFC
// 5258, CHILDREN RFC 3348, SPECIAL-USE RFC 6154, LIST-STATUS RFC 5819): the
// options of a LIST command, the set of names to return with their
// attributes, and the response lines. Pure: the handlers fetch the store's
// mailbox list and subscriptions and hand them in.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imap/mailbox/status.h"
#include "imap/proto/command.h"
#include "store/store.h"

namespace imap::mailbox {

struct ListOptions {
  // Selection options.
  bool select_subscribed = false;   // SUBSCRIBED
  bool select_special_use = false;  // SPECIAL-USE (RFC 6154)
  bool recursive_match = false;     // RECURSIVEMATCH
  // Return options (those implied by a selection option are set too).
  bool return_subscribed = false;   // SUBSCRIBED
  bool return_children = false;     // CHILDREN (children attributes are always sent)
  bool return_special_use = false;  // SPECIAL-USE (the attributes are always sent)
  bool return_status = false;       // STATUS (RFC 5819)
  std::vector<StatusItem> status_items;
};

// Reads the selection and return options of a LIST command. Returns false
// with *error set (for BAD) on an unknown selection or return option,
// RECURSIVEMATCH without a base selection option, or bad STATUS items. REMOTE
// is accepted and ignored.
bool read_list_options(const proto::ListArgs& args, bool rev2, ListOptions* options,
                       std::string* error);

// One line of a LIST / LSUB answer.
struct ListEntry {
  std::string name;                     // store spelling
  std::vector<std::string> attributes;  // "\HasNoChildren", "\Subscribed", "\Sent"...
  std::vector<std::string> childinfo;   // CHILDINFO extended data ("SUBSCRIBED")
  bool selectable = false;              // exists and may be selected (gets STATUS)
  bool operator==(const ListEntry&) const = default;
};

// The LIST answer for canonical patterns (already joined with the reference
// and decoded). `mailboxes`: the store's list; `subscriptions`: subscribed
// names, existing or not. Ancestors missing from the store's list are added
// as \Noselect placeholders. Entries come INBOX first, then in byte order.
//
// Attributes: \NonExistent (subscribed names that do not exist, SUBSCRIBED
// selection), \Noselect (placeholders), \HasChildren / \HasNoChildren
// (always), \Subscribed (SUBSCRIBED selection or return option), and the
// special-use attribute (always). With RECURSIVEMATCH a name that matches the
// pattern but not the selection criteria is listed when a descendant meets
// them, and every listed name with such a descendant gets CHILDINFO.
std::vector<ListEntry> list_entries(std::span<const store::MailboxInfo> mailboxes,
                                    std::span<const std::string> subscriptions,
                                    std::span<const std::string> patterns,
                                    const ListOptions& options);

// The LSUB answer (RFC 3501 6.3.9): subscribed names matching the pattern;
// when a subscribed name does not match but its unsubscribed ancestor does
// (the '%' case: "foo/bar" subscribed, pattern "%"), the ancestor is listed
// with \Noselect. Subscribed names that cannot be selected (missing, or
// placeholders) are \Noselect too.
std::vector<ListEntry> lsub_entries(std::span<const store::MailboxInfo> mailboxes,
                                    std::span<const std::string> subscriptions,
                                    std::string_view pattern);

// Whether LIST asks for the hierarchy delimiter only (RFC 3501 6.3.8: a
// single empty pattern, no selection options).
bool is_delimiter_request(const proto::ListArgs& args);

// "* LIST (\Noselect) "/" """ (the answer to LIST "" ""). `verb` is LIST or LSUB.
void write_delimiter_entry(std::string& out, std::string_view verb = "LIST");

// "* <verb> (<attributes>) "/" <name>[ ("CHILDINFO" (...))]\r\n".
void write_list_entry(std::string& out, std::string_view verb, const ListEntry& entry,
                      const NameWriter& write_name);

// The attribute of a special use ("\Drafts"...), empty for kNone.
std::string_view special_use_attribute(store::SpecialUse use);
// The special use named by a CREATE USE attribute (any case); kNone if the
// name is not one Roost supports.
store::SpecialUse special_use_from_attribute(std::string_view attribute);

}  // namespace imap::mailbox
