// STATUS items (RFC 9051 6.3.11, RFC 3501 6.3.10, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, RFC 9208
// DELETED-STORAGE, RFC 8474 MAILBOXID): reading the requested item names and writing the untagged
// STATUS response. Shared by STATUS and LIST RETURN (STATUS ...) (RFC 5819). Pure functions: no
// I/O, no store calls.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace imap::mailbox {

// Writes a store mailbox name for the client (Session::write_mailbox).
using NameWriter = std::function<void(std::string& out, std::string_view name)>;

enum class StatusItem {
  kMessages,
  kRecent,  // IMAP4rev1 only
  kUidNext,
  kUidValidity,
  kUnseen,
  kDeleted,
  kSize,
  kHighestModSeq,
  kDeletedStorage,  // RFC 9208 4.2: octets an EXPUNGE would free (sum of \Deleted sizes)
  kAppendLimit,     // RFC 7889: the largest message APPEND accepts here
  kMailboxId,       // RFC 8474: the mailbox's MAILBOXID (store::Account::mailbox_id)
};

std::string_view status_item_name(StatusItem item);

// The items of a STATUS request (names upper-cased by the parser), in the
// order asked, repeats dropped. nullopt with *error set (for BAD) on an
// empty list, an unknown name, or RECENT when `rev2` (IMAP4rev2 has no
// RECENT). DELETED-STORAGE is known only with `deleted_storage` (the caller
// can compute it: STATUS can, LIST RETURN (STATUS ...) does not).
std::optional<std::vector<StatusItem>> read_status_items(std::span<const std::string> names,
                                                         bool rev2, std::string* error,
                                                         bool deleted_storage = false);

// True when `items` asks for MAILBOXID (the caller then asks the store).
bool wants_mailbox_id(std::span<const StatusItem> items);

// True when `items` asks for DELETED-STORAGE (which needs the mailbox's
// messages, not just its store::MailboxStatus).
bool wants_deleted_storage(std::span<const StatusItem> items);

// The DELETED-STORAGE value of a mailbox view: the sum of the sizes of its
// messages flagged \Deleted.
uint64_t deleted_storage(std::span<const store::MessageMeta> messages);

// "* STATUS <name> (<item> <value> ...)\r\n" in the order of `items`.
// `recent` is the RECENT value (the session's \Recent count when the mailbox
// is the selected one, else 0). `deleted_storage` is the DELETED-STORAGE
// value (see deleted_storage()). `append_limit` is the APPENDLIMIT value
// (0 writes NIL: no limit). `mailbox_id` is the MAILBOXID value, written
// "(<id>)".
void write_status(std::string& out, std::string_view name, const store::MailboxStatus& status,
                  std::span<const StatusItem> items, uint32_t recent, const NameWriter& write_name,
                  uint64_t deleted_storage = 0, uint64_t append_limit = 0,
                  std::string_view mailbox_id = {});

}  // namespace imap::mailbox
