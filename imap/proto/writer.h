// The IMAP response writer: appends protocol elements and whole responses to
// an output buffer. Pure functions: no I/O, no store, never throw. Whatever
// the input bytes, the output is syntactically valid IMAP (RFC 3501 / RFC
// 9051): text is sanitised, strings fall back to literals, invalid items are
// left out rather than written broken.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace imap::proto {

// Whether the client may receive UTF-8 in quoted strings and text: on after
// "ENABLE UTF8=ACCEPT" or "ENABLE IMAP4rev2". Also selects UTF-8 mailbox
// names instead of modified UTF-7.
enum class Utf8Mode { kOff, kOn };

// ---------------------------------------------------------------- strings

// An atom (RFC 3501 ATOM-CHAR: CHAR except atom-specials), non-empty.
bool is_atom(std::string_view s);
// An astring written bare: ATOM-CHARs and ']', non-empty.
bool is_astring_atom(std::string_view s);

// `string` (never an atom, so it is also right for envelope and body
// fields): quoted when every byte may appear in a quoted string, that is no
// NUL, CR or LF, and either 7-bit or (Utf8Mode::kOn) valid UTF-8; '"' and
// '\' are escaped. Otherwise a synchronising literal "{n}\r\n" + bytes. The
// empty string is "".
void write_string(std::string& out, std::string_view s, Utf8Mode utf8 = Utf8Mode::kOff);
// `astring`: bare when is_astring_atom(s) (but never a bare "NIL", which
// clients read as nil), else as write_string.
void write_astring(std::string& out, std::string_view s, Utf8Mode utf8 = Utf8Mode::kOff);
// `nstring`: NIL for nullopt, else as write_string.
void write_nstring(std::string& out, std::optional<std::string_view> s,
                   Utf8Mode utf8 = Utf8Mode::kOff);
// A literal whatever the content: "{n}\r\n" + bytes.
void write_literal(std::string& out, std::string_view bytes);
// Only the literal's announcement, for a body streamed afterwards: "{n}\r\n",
// or "~{n}\r\n" (literal8, RFC 3516 / RFC 9051) when `binary`.
void write_literal_header(std::string& out, uint64_t size, bool binary = false);

// A mailbox name as the store spells it (UTF-8, hierarchy already in the IMAP
// separator). Any case of "INBOX" is written INBOX. Utf8Mode::kOff: the name
// is modified-UTF-7 encoded and written as an astring (bare or quoted);
// kOn: the UTF-8 name is written as an astring. Returns false if the name is
// not valid UTF-8: it is then written as a literal of its raw bytes, so the
// output stays parseable (the store never hands out such names).
bool write_mailbox(std::string& out, std::string_view name, Utf8Mode utf8 = Utf8Mode::kOff);

// ------------------------------------------------------------------ flags

// System flag bits; the first five equal store::Flag's values.
inline constexpr uint32_t kFlagSeen = 1u << 0;
inline constexpr uint32_t kFlagAnswered = 1u << 1;
inline constexpr uint32_t kFlagFlagged = 1u << 2;
inline constexpr uint32_t kFlagDeleted = 1u << 3;
inline constexpr uint32_t kFlagDraft = 1u << 4;
// Writer-only bits: "\Recent" (IMAP4rev1 only) and "\*" (PERMANENTFLAGS).
inline constexpr uint32_t kFlagRecent = 1u << 30;
inline constexpr uint32_t kFlagWildcard = 1u << 31;

// "(" flags ")": system flags in bit order (\Seen \Answered \Flagged \Deleted
// \Draft \Recent), then keywords in the given order, then \* . Keywords that
// are not atoms are left out. Unknown bits are ignored.
void write_flag_list(std::string& out, uint32_t flags, std::span<const std::string> keywords = {});

// ---------------------------------------------------------- sequence sets

// Writes numbers as a sequence set, joining runs of consecutive ascending
// numbers into ranges: {1,2,3,5,7,8,9} -> "1:3,5,7:9". The order is kept
// (COPYUID pairs source and destination sets position by position), so
// unsorted input gives a longer but equivalent set. Zeros (not valid
// sequence numbers) are skipped; nothing is written for an empty input:
// callers must not emit an empty set.
void write_sequence_set(std::string& out, std::span<const uint32_t> numbers);

// ------------------------------------------------------------------ dates

// IMAP date-time with its quotes: "\"dd-Mon-yyyy hh:mm:ss +zzzz\"", the day
// padded with a space (" 7-Jul-2024"). `offset_minutes` is the zone, east
// positive; values beyond +-23:59 are written as +0000. Times outside years
// 0001-9999 are clamped to that range.
void write_date_time(std::string& out, int64_t unix_seconds, int offset_minutes = 0);

struct Timestamp {
  int64_t unix_seconds = 0;  // the instant, UTC
  int offset_minutes = 0;    // the zone it was written in, east positive
};
// Parses an IMAP date-time (APPEND): "dd-Mon-yyyy hh:mm:ss +zzzz", with or
// without the surrounding double quotes. The day may be two digits, a space
// and a digit, or (lenient) one digit; month names in any case; years
// 0001-9999; second 60 (a leap second) is read as 59; zone hours at most 23,
// minutes at most 59. nullopt on anything else, including a day the month
// does not have.
std::optional<Timestamp> parse_date_time(std::string_view s);

struct CalendarDay {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  // Days since 1970-01-01 (negative before).
  int64_t epoch_day() const;
  friend bool operator==(const CalendarDay&, const CalendarDay&) = default;
};
// Parses an IMAP date (SEARCH BEFORE/ON/SINCE...): "d-Mon-yyyy" or
// "dd-Mon-yyyy", with or without double quotes; month names in any case;
// years 0001-9999; the day must exist in that month.
std::optional<CalendarDay> parse_date(std::string_view s);
// The calendar day (as days since 1970-01-01) of an instant seen in a zone.
int64_t epoch_day(int64_t unix_seconds, int offset_minutes = 0);

// -------------------------------------------------------------- responses

enum class Status { kOk, kNo, kBad, kPreauth, kBye };
std::string_view status_name(Status s);

// Response codes (the part in square brackets) without arguments: RFC 3501 /
// RFC 9051 and every RFC 5530 code.
enum class Code {
  // RFC 3501 / 9051
  kAlert,
  kParse,
  kReadOnly,
  kReadWrite,
  kTryCreate,
  kUidNotSticky,  // RFC 4315
  kClosed,        // RFC 7162 / 9051
  kHasChildren,   // RFC 9051
  kUnknownCte,    // RFC 3516 / 9051
  // RFC 5530
  kUnavailable,
  kAuthenticationFailed,
  kAuthorizationFailed,
  kExpired,
  kPrivacyRequired,
  kContactAdmin,
  kNoPerm,
  kInUse,
  kExpungeIssued,
  kCorruption,
  kServerBug,
  kClientBug,
  kCannot,
  kLimit,
  kOverQuota,
  kAlreadyExists,
  kNonExistent,
};
// "ALERT", "AUTHENTICATIONFAILED", "READ-ONLY", ...
std::string_view code_name(Code c);

// Response codes with arguments, ready to pass as `code` below.
std::string code_uidvalidity(uint32_t uidvalidity);              // "UIDVALIDITY n"
std::string code_uidnext(uint32_t uidnext);                      // "UIDNEXT n"
std::string code_unseen(uint32_t seq);                           // "UNSEEN n" (IMAP4rev1)
std::string code_highestmodseq(uint64_t modseq);                 // "HIGHESTMODSEQ n" (RFC 7162)
std::string code_appenduid(uint32_t uidvalidity, uint32_t uid);  // "APPENDUID v uid"
// "COPYUID v src-set dst-set" (RFC 4315): the i-th source UID became the
// i-th destination UID.
std::string code_copyuid(uint32_t uidvalidity, std::span<const uint32_t> source_uids,
                         std::span<const uint32_t> dest_uids);
// "PERMANENTFLAGS (...)"; include kFlagWildcard when new keywords may be made.
std::string code_permanentflags(uint32_t flags, std::span<const std::string> keywords = {});
// "CAPABILITY <caps>"; `capabilities` is the space-separated list.
std::string code_capability(std::string_view capabilities);

// Tagged completion: `tag SP status SP ["[" code "]" SP] text CRLF`.
// `status` must be kOk, kNo or kBad (anything else is written as BAD). A tag
// that is not a valid tag (empty, or with a character outside ASTRING-CHAR,
// or '+') is written as "*" so the line stays parseable. The code is written
// without control characters, 8-bit bytes or ']' (empty -> no code). The
// text is sanitised: CR, LF and other control characters become spaces, 8-bit
// bytes become '?' unless Utf8Mode::kOn and the text is valid UTF-8, a
// leading '[' (without a code) becomes '('; empty text gets a short default.
void tagged(std::string& out, std::string_view tag, Status status,
            std::optional<std::string_view> code, std::string_view text,
            Utf8Mode utf8 = Utf8Mode::kOff);
std::string tagged(std::string_view tag, Status status, std::optional<std::string_view> code,
                   std::string_view text, Utf8Mode utf8 = Utf8Mode::kOff);

// Untagged status response: `"* " status SP ["[" code "]" SP] text CRLF`,
// with the same sanitising. Any Status.
void untagged(std::string& out, Status status, std::optional<std::string_view> code,
              std::string_view text, Utf8Mode utf8 = Utf8Mode::kOff);
std::string untagged(Status status, std::optional<std::string_view> code, std::string_view text,
                     Utf8Mode utf8 = Utf8Mode::kOff);

// Untagged numeric data: "* <n> <word>\r\n" ("* 3 EXISTS", "* 2 EXPUNGE").
void untagged_number(std::string& out, uint64_t n, std::string_view word);

// Continuation request: "+ " text CRLF (text sanitised; may be empty, as for
// an empty AUTHENTICATE challenge: "+ \r\n").
void continuation(std::string& out, std::string_view text);
std::string continuation(std::string_view text);

}  // namespace imap::proto
