// Helpers shared by the store backends (memory, Maildir) and by their tests.
// Nothing here does I/O or takes locks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace store {

// --- Mailbox names ---------------------------------------------------------

// The name every backend uses as a key: "INBOX" in any case becomes "INBOX",
// and so does a first component spelled as INBOX ("inbox/Sub" -> "INBOX/Sub"),
// so the inbox's children have one spelling. Other names are returned as is.
// Expects a name that passed validate_mailbox_name.
std::string canonical_mailbox_name(std::string_view name);

// "a/b/c" -> "a/b"; "a" -> "".
std::string_view parent_mailbox_name(std::string_view name);

// True when `name` lies strictly below `ancestor` ("a/b" is below "a", "ab" is not).
bool is_descendant_mailbox(std::string_view name, std::string_view ancestor);

// Every proper ancestor of a name, outermost first: "a/b/c" -> {"a", "a/b"}.
std::vector<std::string> mailbox_ancestors(std::string_view name);

// --- Keywords --------------------------------------------------------------

// A keyword is an IMAP atom (printable ASCII 0x21-0x7E except ( ) { % * " \ ])
// of at most kMaxKeywordLength bytes. System flag names ("\Seen", "\Recent",
// ...) start with a backslash and so are never keywords.
constexpr size_t kMaxKeywordLength = 200;
bool is_valid_keyword(std::string_view keyword);

// ASCII case-insensitive equality, as keyword matching uses.
bool equals_ignore_case(std::string_view a, std::string_view b);

// Normalises a keyword list in place: drops invalid entries, keeps the first
// spelling of case-insensitive duplicates, sorts by byte order (std::less).
void normalize_keywords(std::vector<std::string>& keywords);

// --- Flag changes ----------------------------------------------------------

// Applies a flag change to one message (flags masked with kAllFlags; change
// keywords normalised first). unchanged_since is NOT checked here: the caller
// does that against the message's modseq. Does not touch modseq. Returns true
// when flags or keywords actually changed.
bool apply_flag_change(MessageMeta& meta, const FlagChange& change);

// True when `meta` fails change.unchanged_since (non-zero and meta.modseq above it).
inline bool fails_unchanged_since(const MessageMeta& meta, const FlagChange& change) {
  return change.unchanged_since != 0 && meta.modseq > change.unchanged_since;
}

// --- Sizes -----------------------------------------------------------------

// Counts a message's size as if every line ended in CRLF: a bare LF counts two
// octets, a CRLF two, anything else one. Fed in chunks of any size.
class CrlfSizeCounter {
 public:
  void feed(std::string_view bytes);
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
  bool last_cr_ = false;
};

uint64_t crlf_size(std::string_view bytes);

// --- Views -----------------------------------------------------------------

// Counts messages/unseen/deleted/size of a message list; the other fields are
// copied from the arguments.
MailboxStatus compute_status(const std::vector<MessageMeta>& messages, uint32_t uidvalidity,
                             uint32_t uidnext, uint64_t highest_modseq);

// The difference between an old and a new view, both in ascending UID order:
// UIDs only in old (expunged), only in new (added), and in both with different
// flags, keywords, hidden or modseq (flags_changed).
SyncResult diff_views(const std::vector<MessageMeta>& old_view,
                      const std::vector<MessageMeta>& new_view);

// "1a2b3c4d.5" style UIDL for a message: uidvalidity and UID in lower-case hex.
std::string make_uidl(uint32_t uidvalidity, uint32_t uid);

}  // namespace store
