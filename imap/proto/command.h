// IMAP command AST (RFC 3501 / RFC 9051 and the extensions Roost speaks):
// what imap::proto::Parser produces. Pure data, no I/O.
//
// Strings are raw bytes as received (quoted strings unescaped, literals
// verbatim). Mailbox names are NOT decoded (modified UTF-7 is handled
// elsewhere); `Mailbox::form` says how the name was sent. Keywords that the
// grammar makes case-insensitive (command names, fetch attributes, status
// items, options) are upper-cased; flags keep their spelling except that the
// system flags are normalised to their canonical form ("\seen" -> "\Seen").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace imap::proto {

// ---------------------------------------------------------------- basics

// A generic parsed value: what "(...)" parameter lists hold when Roost keeps
// them unstructured (SELECT parameters, CREATE parameters, fetch modifiers).
struct Value {
  enum class Kind { kAtom, kString, kNil, kList };
  Kind kind = Kind::kAtom;
  std::string text;          // atom (as sent) or string contents
  std::vector<Value> items;  // kList
  bool operator==(const Value&) const = default;
};

struct Mailbox {
  enum class Form { kAtom, kQuoted, kLiteral };
  std::string name;  // raw bytes, not decoded
  Form form = Form::kAtom;
  // INBOX is case-insensitive (RFC 9051 5.1).
  bool is_inbox() const;
  bool operator==(const Mailbox&) const = default;
};

struct Date {
  int year = 0;
  int month = 0;  // 1..12
  int day = 0;    // 1..31
  bool operator==(const Date&) const = default;
};

struct DateTime {
  Date date;
  int hour = 0, minute = 0, second = 0;
  int zone_minutes = 0;  // east of UTC, e.g. -0700 -> -420
  bool operator==(const DateTime&) const = default;
};

// A sequence set, normalised: every range has lo <= hi, with `*` (kStar)
// kept symbolic and sorting last. "$" (SEARCHRES, RFC 5182) is `saved`.
inline constexpr uint32_t kStar = 0xffffffffu;

struct SeqRange {
  uint32_t lo = 1;
  uint32_t hi = 1;  // == lo for a single number
  bool operator==(const SeqRange&) const = default;
};

struct SequenceSet {
  std::vector<SeqRange> ranges;
  bool saved = false;  // "$": the session substitutes the saved result

  // Resolves `*` to `max` (the highest message number or UID in use), swaps
  // reversed ranges, drops numbers above max, sorts and merges. An empty
  // mailbox (max 0) gives nothing.
  std::vector<std::pair<uint32_t, uint32_t>> resolve(uint32_t max) const;
  // Every number, ascending and unique. Use on message numbers; for UIDs,
  // prefer resolve()/contains() (a UID range may be huge).
  std::vector<uint32_t> expand(uint32_t max) const;
  bool contains(uint32_t n, uint32_t max) const;
  bool operator==(const SequenceSet&) const = default;
};

// ---------------------------------------------------------------- SEARCH

struct SearchKey {
  enum class Kind {
    kAll,
    kAnswered,
    kBcc,
    kBefore,
    kBody,
    kCc,
    kDeleted,
    kDraft,
    kFlagged,
    kFrom,
    kHeader,
    kKeyword,
    kLarger,
    kNew,
    kNot,
    kOld,
    kOn,
    kOr,
    kRecent,
    kSeen,
    kSentBefore,
    kSentOn,
    kSentSince,
    kSince,
    kSmaller,
    kSubject,
    kText,
    kTo,
    kUid,
    kUnanswered,
    kUndeleted,
    kUndraft,
    kUnflagged,
    kUnkeyword,
    kUnseen,
    kSequenceSet,  // a bare sequence set (message numbers), incl. "$"
    kAnd,          // a parenthesised group, and the whole program
    kModSeq,       // RFC 7162
    kOlder,
    kYounger,  // RFC 5032 (WITHIN), seconds
    // RFC 8514 (SAVEDATE): `date` for the first three
    kSavedBefore,
    kSavedOn,
    kSavedSince,
    kSaveDateSupported,
    // RFC 8474 (OBJECTID): `text` = the object id
    kEmailId,
    kThreadId,
  };
  Kind kind = Kind::kAll;
  std::string text;     // string argument; HEADER field name; KEYWORD flag
  std::string value;    // HEADER value
  Date date;            // BEFORE ON SINCE SENT*
  uint64_t number = 0;  // LARGER SMALLER MODSEQ OLDER YOUNGER
  SequenceSet set;      // UID, kSequenceSet
  // MODSEQ with a metadata entry: text = flag name (e.g. "\Seen"), value =
  // "priv" / "shared" / "all" (lower-cased); both empty without one.
  std::vector<SearchKey> children;  // NOT: 1, OR: 2, kAnd: 1..n
  bool operator==(const SearchKey&) const = default;
};

struct SearchArgs {
  std::vector<std::string> return_opts;  // upper-cased; present == has_return
  bool has_return = false;               // "RETURN (...)" given (ESEARCH answer)
  std::optional<std::string> charset;
  SearchKey program;  // kind == kAnd
  bool operator==(const SearchArgs&) const = default;
};

// ---------------------------------------------------------------- SORT / THREAD

// One SORT criterion (RFC 5256, RFC 5957): the key upper-cased as sent
// ("ARRIVAL", "DISPLAYFROM" ...); the session rejects names it does not know.
struct SortCriterion {
  std::string key;
  bool reverse = false;
  bool operator==(const SortCriterion&) const = default;
};

// SORT / UID SORT, with the ESORT return options (RFC 5267).
struct SortArgs {
  std::vector<SortCriterion> criteria;   // at least one
  std::vector<std::string> return_opts;  // upper-cased; present == has_return
  bool has_return = false;               // "RETURN (...)" given (ESEARCH answer)
  std::string charset;                   // mandatory in SORT, as sent
  SearchKey program;                     // kind == kAnd
  bool operator==(const SortArgs&) const = default;
};

// THREAD / UID THREAD (RFC 5256).
struct ThreadArgs {
  std::string algorithm;  // upper-cased, e.g. "REFERENCES"
  std::string charset;    // as sent
  SearchKey program;      // kind == kAnd
  bool operator==(const ThreadArgs&) const = default;
};

// ---------------------------------------------------------------- FETCH

struct Section {
  enum class Text { kNone, kHeader, kHeaderFields, kHeaderFieldsNot, kText, kMime };
  std::vector<uint32_t> part;  // "1.2.3"; empty for the whole message
  Text text = Text::kNone;
  std::vector<std::string> fields;  // HEADER.FIELDS[.NOT], as sent
  bool operator==(const Section&) const = default;
};

struct Partial {
  uint32_t offset = 0;
  uint32_t length = 0;  // > 0
  bool operator==(const Partial&) const = default;
};

struct FetchAtt {
  enum class Kind {
    kEnvelope,
    kFlags,
    kInternalDate,
    kRfc822,
    kRfc822Header,
    kRfc822Size,
    kRfc822Text,
    kBody,  // BODY without a section: the non-extensible BODYSTRUCTURE
    kBodyStructure,
    kUid,
    kBodySection,  // BODY[...] / BODY.PEEK[...]
    kBinary,       // BINARY[...] / BINARY.PEEK[...] (RFC 3516)
    kBinarySize,   // BINARY.SIZE[...]
    kModSeq,       // RFC 7162
    kSaveDate,     // RFC 8514
    kEmailId,      // RFC 8474
    kThreadId,     // RFC 8474
    kPreview,      // RFC 8970; `lazy` for PREVIEW (LAZY)
  };
  Kind kind = Kind::kFlags;
  bool peek = false;
  bool lazy = false;  // kPreview with the LAZY modifier
  Section section;    // kBodySection; kBinary / kBinarySize use `section.part` only
  std::optional<Partial> partial;
  bool operator==(const FetchAtt&) const = default;
};

struct FetchArgs {
  enum class Macro { kNone, kAll, kFast, kFull };
  SequenceSet set;
  Macro macro = Macro::kNone;  // macros are also expanded into `atts`
  std::vector<FetchAtt> atts;
  std::optional<uint64_t> changed_since;  // (CHANGEDSINCE n)
  bool vanished = false;                  // (VANISHED), UID FETCH only
  bool operator==(const FetchArgs&) const = default;
};

// ---------------------------------------------------------------- others

struct NoArgs {
  bool operator==(const NoArgs&) const = default;
};

struct LoginArgs {
  std::string user;
  std::string password;
  bool operator==(const LoginArgs&) const = default;
};

struct AuthenticateArgs {
  std::string mechanism;                        // upper-cased
  std::optional<std::string> initial_response;  // base64 as sent, or "="
  bool operator==(const AuthenticateArgs&) const = default;
};

struct EnableArgs {
  std::vector<std::string> capabilities;  // upper-cased
  bool operator==(const EnableArgs&) const = default;
};

// SELECT / EXAMINE
// SELECT / EXAMINE (QRESYNC (uidvalidity modseq [known-uids]
// [(known-sequence-set known-uid-set)])), RFC 7162 3.2.5. The sets never
// hold "*" or "$".
struct QresyncParams {
  uint32_t uidvalidity = 0;
  uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  // seq-match-data, expanded element by element in the order sent: the
  // client saw UID match_uids[i] at message number match_seqs[i].
  std::vector<uint32_t> match_seqs;
  std::vector<uint32_t> match_uids;
  bool operator==(const QresyncParams&) const = default;
};
// Elements a seq-match-data set may expand to.
inline constexpr size_t kMaxSeqMatch = 100000;

struct SelectArgs {
  Mailbox mailbox;
  std::vector<Value> params;             // e.g. CONDSTORE, or QRESYNC followed by a list
  bool condstore = false;                // (CONDSTORE) among params
  std::optional<QresyncParams> qresync;  // (QRESYNC (...)) among params, checked
  bool operator==(const SelectArgs&) const = default;
};

struct CreateArgs {
  Mailbox mailbox;
  std::vector<std::string> use;  // (USE (\Drafts ...)) RFC 6154, as sent
  std::vector<Value> params;     // all parameters, generic
  bool operator==(const CreateArgs&) const = default;
};

// DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT
struct MailboxArgs {
  Mailbox mailbox;
  bool operator==(const MailboxArgs&) const = default;
};

struct RenameArgs {
  Mailbox from;
  Mailbox to;
  bool operator==(const RenameArgs&) const = default;
};

// LIST (RFC 5258 extended form included) and LSUB.
struct ListArgs {
  std::vector<std::string> selection;  // upper-cased select options
  Mailbox reference;
  std::vector<Mailbox> patterns;          // one, or a parenthesised list
  std::vector<std::string> return_opts;   // upper-cased; STATUS listed here too
  std::vector<std::string> status_items;  // RETURN (STATUS (...)), upper-cased
  bool extended = false;                  // selection, a pattern list or RETURN was given
  bool operator==(const ListArgs&) const = default;
};

struct StatusArgs {
  Mailbox mailbox;
  std::vector<std::string> items;  // upper-cased
  bool operator==(const StatusArgs&) const = default;
};

// EXPUNGE (no set) and UID EXPUNGE (RFC 4315).
struct ExpungeArgs {
  std::optional<SequenceSet> set;
  bool operator==(const ExpungeArgs&) const = default;
};

struct StoreArgs {
  enum class Op { kReplace, kAdd, kRemove };
  SequenceSet set;
  Op op = Op::kReplace;
  bool silent = false;
  std::vector<std::string> flags;
  std::optional<uint64_t> unchanged_since;  // (UNCHANGEDSINCE n)
  bool operator==(const StoreArgs&) const = default;
};

// COPY and MOVE (RFC 6851).
struct CopyArgs {
  SequenceSet set;
  Mailbox mailbox;
  bool operator==(const CopyArgs&) const = default;
};

// ID (RFC 2971): NIL, or field / value pairs (value may be NIL).
struct IdArgs {
  std::optional<std::vector<std::pair<std::string, std::optional<std::string>>>> fields;
  bool operator==(const IdArgs&) const = default;
};

// GETQUOTA (RFC 9208)
struct QuotaRootArgs {
  std::string root;
  bool operator==(const QuotaRootArgs&) const = default;
};

// COMPRESS (RFC 4978)
struct CompressArgs {
  std::string mechanism;  // upper-cased, e.g. "DEFLATE"
  bool operator==(const CompressArgs&) const = default;
};

// CANCELUPDATE (RFC 5267 4.3): the tags of the searches whose update
// contexts end, as sent (tags are case-sensitive).
struct CancelUpdateArgs {
  std::vector<std::string> tags;  // at least one
  bool operator==(const CancelUpdateArgs&) const = default;
};

// NOTIFY (RFC 5465): the argument text after the command name, as received
// (literals in the "{n}\n" + data form); imap/notify reads it.
struct NotifyArgs {
  std::string text;
  bool operator==(const NotifyArgs&) const = default;
};

// A command Roost does not know: the session answers BAD.
struct UnknownArgs {
  bool operator==(const UnknownArgs&) const = default;
};

enum class Verb {
  kCapability,
  kNoop,
  kLogout,
  kStartTls,
  kLogin,
  kAuthenticate,
  kEnable,
  kSelect,
  kExamine,
  kCreate,
  kDelete,
  kRename,
  kSubscribe,
  kUnsubscribe,
  kList,
  kLsub,
  kNamespace,
  kStatus,
  kCheck,
  kClose,
  kUnselect,
  kExpunge,
  kSearch,
  kFetch,
  kStore,
  kCopy,
  kMove,
  kIdle,
  kId,
  kGetQuota,
  kGetQuotaRoot,
  kCompress,
  kUnauthenticate,
  kSort,
  kThread,
  kCancelUpdate,  // RFC 5267
  kSetQuota,      // RFC 9208 (answered NO [NOPERM]); args: QuotaRootArgs
  kNotify,  // RFC 5465; args: NotifyArgs
  kUnknown,
};

using Args = std::variant<NoArgs, LoginArgs, AuthenticateArgs, EnableArgs, SelectArgs, CreateArgs,
                          MailboxArgs, RenameArgs, ListArgs, StatusArgs, ExpungeArgs, SearchArgs,
                          FetchArgs, StoreArgs, CopyArgs, IdArgs, QuotaRootArgs, CompressArgs,
                          SortArgs, ThreadArgs, CancelUpdateArgs, NotifyArgs, UnknownArgs>;

// One complete command. APPEND never appears here: it is streamed (see
// parser.h, AppendBegin).
struct Command {
  std::string tag;
  std::string name;  // upper-cased, without the UID prefix
  bool uid = false;  // "UID FETCH" etc.
  Verb verb = Verb::kUnknown;
  Args args;
  bool operator==(const Command&) const = default;
};

// Upper-cases ASCII letters.
std::string to_upper(std::string_view s);

}  // namespace imap::proto
