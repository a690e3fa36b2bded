// The engines behind SORT (RFC 5256, RFC 5957 DISPLAYFROM / DISPLAYTO) and
// THREAD (RFC 5256 ORDEREDSUBJECT and REFERENCES, and REFS from
// draft-ietf-morg-inthread).
//
// Pure code: the session evaluates the search program, then hands each
// matching message's metadata and header block to make_sort_record() /
// make_thread_message(), and finally sorts or threads the lot. Only header
// fields are read; every string key is collated with i;unicode-casemap
// (RFC 5051; RFC 2047-decoded, then imap::search::casemap()).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace imap::sort {

// ---- base subject (RFC 5256 2.1) ----------------------------------------------

struct BaseSubject {
  std::string text;    // UTF-8, not case-folded
  bool reply = false;  // a "Re:", "Fwd:", "(fwd)" or "[fwd: ...]" was removed
};
// The base subject of a raw (possibly folded, RFC 2047-encoded) Subject value.
BaseSubject base_subject(std::string_view raw_subject);

// i;unicode-casemap collation key (RFC 5051): compare keys octet by octet.
std::string collation_key(std::string_view utf8);

// ---- dates --------------------------------------------------------------------

// An RFC 5322 date-time (obsolete forms included: two-digit years, named
// zones, missing seconds, comments) as seconds since the epoch in UTC;
// nullopt when it cannot be read.
std::optional<int64_t> parse_rfc5322_date(std::string_view value);

// ---- header fields ------------------------------------------------------------

// The fields SORT and THREAD use, unfolded and trimmed; absent fields stay
// nullopt. Only the first occurrence of each field counts.
struct Fields {
  std::optional<std::string> subject, from, to, cc, date, message_id, in_reply_to, references;
};
Fields read_fields(std::string_view header_block);

// The msg-ids ("<...>", brackets dropped) found in a Message-ID, In-Reply-To
// or References value, in order; text outside angle brackets is ignored.
std::vector<std::string> message_ids(std::string_view value);

// ---- SORT ---------------------------------------------------------------------

enum class Key { kArrival, kCc, kDate, kFrom, kSize, kSubject, kTo, kDisplayFrom, kDisplayTo };
// From an upper-cased key name; nullopt for names Roost does not know.
std::optional<Key> key_from_name(std::string_view upper);
// Whether the key needs the message header (all but ARRIVAL and SIZE).
bool key_needs_header(Key key);

struct Criterion {
  Key key = Key::kArrival;
  bool reverse = false;
};

// The sort keys of one message, computed once.
struct SortRecord {
  uint32_t seq = 0;                  // message number: the final tie-breaker
  uint32_t number = 0;               // what the answer names (message number or UID)
  std::vector<int64_t> numbers;      // one per criterion (numeric keys)
  std::vector<std::string> strings;  // one per criterion (string keys)
};

// `header` may be null (unreadable message, or no criterion needs it): the
// string keys are then empty and DATE falls back to the internal date.
SortRecord make_sort_record(const std::vector<Criterion>& criteria, const store::MessageMeta& meta,
                            uint32_t seq, uint32_t number, const std::string* header);

// Sorts the records by the criteria (ties by message number) and returns the
// `number`s in that order.
std::vector<uint32_t> sort_records(const std::vector<Criterion>& criteria,
                                   std::vector<SortRecord> records);

// The string key a criterion uses for a header (exposed for the unit tests):
// the first address's mailbox for FROM / TO / CC, the display name (else the
// addr-spec) for DISPLAYFROM / DISPLAYTO, the base subject for SUBJECT;
// case-folded.
std::string string_key(Key key, const Fields& fields);

// ---- THREAD -------------------------------------------------------------------

enum class Algorithm { kOrderedSubject, kReferences, kRefs };
std::optional<Algorithm> algorithm_from_name(std::string_view upper);

// What threading needs of one message.
struct ThreadMessage {
  uint32_t seq = 0;                     // message number: the tie-breaker
  uint32_t number = 0;                  // what the answer names
  int64_t date = 0;                     // sent date (Date: header, else the internal date), UTC
  std::string subject;                  // collation key of the base subject
  bool reply = false;                   // the subject was a reply or forward
  std::string message_id;               // without brackets; empty if none
  std::vector<std::string> references;  // References, else In-Reply-To
};

ThreadMessage make_thread_message(const store::MessageMeta& meta, uint32_t seq, uint32_t number,
                                  const std::string* header);

// The threads as a forest: node 0.. in `nodes`, `roots` in answer order.
struct Threads {
  struct Node {
    uint32_t number = 0;  // 0: a placeholder for a missing parent
    std::vector<uint32_t> children;
  };
  std::vector<Node> nodes;
  std::vector<uint32_t> roots;
};

Threads thread_messages(Algorithm algorithm, std::vector<ThreadMessage> messages);

// Appends the thread list of a THREAD answer ("(1)(2 3 (4)(5))"), without
// "* THREAD" and the line end.
void write_threads(std::string& out, const Threads& threads);

// Appends numbers in the given order as a sequence-set, joining ascending
// runs ("5:7,2,1"), for ESEARCH ALL after SORT.
void write_ordered_set(std::string& out, const std::vector<uint32_t>& numbers);

}  // namespace imap::sort
