// The SEARCH engine behind SEARCH / UID SEARCH (RFC 3501 6.4.4, RFC 9051
// 6.4.4, RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER).
//
// Pure code: a proto::SearchKey program is compiled once per command (search
// strings converted from the command's CHARSET to UTF-8 and case-folded,
// sequence sets resolved against the mailbox) and then evaluated message by
// message. Evaluation is lazy: flags, sizes, dates, UIDs and message numbers
// come from the store's metadata; the message header is read only when a
// header key needs it, the whole message only for BODY and TEXT. AND, OR and
// NOT short-circuit, and the keys of a group run cheapest first.
//
// Text keys match a substring under the i;unicode-casemap comparator
// (RFC 5051; I18NLEVEL=1, RFC 5255) of decoded text: header values after
// RFC 2047 decoding; bodies after Content-Transfer-Encoding decoding and
// charset conversion of each text/* part (and of the header and text parts
// of attached messages).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/command.h"
#include "store/store.h"

namespace imap::search {

// Lazy access to one message's stored bytes. Implementations read on first
// use and keep what they read; nullptr means the message cannot be read (its
// text keys then match nothing).
class MessageAccess {
 public:
  virtual ~MessageAccess() = default;
  // The header block, including the blank line that ends it (the whole
  // message when it has none).
  virtual const std::string* header() = 0;
  // Every stored byte of the message.
  virtual const std::string* message() = 0;
};

// A message already in memory (tests, small callers).
class StringAccess : public MessageAccess {
 public:
  explicit StringAccess(std::string message);
  const std::string* header() override;
  const std::string* message() override { return &message_; }

 private:
  std::string message_;
  std::optional<std::string> header_;
};

// A message read from the store on demand: header() reads only up to the
// end of the header, message() reads the rest. Given a header (the store's
// cached header fields, when the program reads no other field), header()
// answers with it and opens nothing.
class StreamAccess : public MessageAccess {
 public:
  using Opener = std::function<store::Result<std::unique_ptr<store::MessageStream>>()>;
  explicit StreamAccess(Opener open, std::optional<std::string> header = std::nullopt);
  const std::string* header() override;
  const std::string* message() override;
  // Opening or reading failed (the message was wanted but is unreadable).
  bool failed() const { return failed_; }

 private:
  bool open();
  // Appends up to n more bytes to buf_; false at the end or on an error.
  bool read_more(size_t n);

  Opener open_;
  std::unique_ptr<store::MessageStream> stream_;
  std::string buf_;
  std::optional<std::string> header_;
  bool opened_ = false;
  bool failed_ = false;
  bool eof_ = false;
};

// Where the header of a message ends: the offset just after the blank line
// (LF or CRLF line ends), or nullopt when `bytes` holds no blank line yet.
std::optional<size_t> header_end(std::string_view bytes);

// What evaluating a program may need to read, cheapest first.
enum class Cost { kMeta = 0, kHeader = 1, kBody = 2 };

// The mailbox as the client sees it, fixed for one command.
struct Bounds {
  uint32_t max_seq = 0;  // number of messages
  uint32_t max_uid = 0;  // highest UID in use (the value of `*` in UID sets)
  int64_t now = 0;       // for OLDER / YOUNGER, seconds since the epoch
};

// One message under evaluation.
struct MessageContext {
  const store::MessageMeta* meta = nullptr;  // required
  uint32_t seq = 0;                          // message number, 1-based
  bool recent = false;                       // \Recent for this session
  MessageAccess* access = nullptr;           // may be null: text keys fail
};

struct CompileError {
  enum class Kind {
    kNone,
    kBadCharset,   // CHARSET names a charset Roost cannot convert: NO [BADCHARSET]
    kSavedResult,  // "$" used: SEARCHRES is not offered, BAD
  };
  Kind kind = Kind::kNone;
  std::string text;  // for the client
};

class Program {
 public:
  // Compiles `root` (normally the kAnd program of SearchArgs). `charset`
  // absent means UTF-8 (US-ASCII is a subset). Returns nullopt and fills
  // *error on failure.
  static std::optional<Program> compile(const proto::SearchKey& root,
                                        const std::optional<std::string>& charset,
                                        const Bounds& bounds, CompileError* error);

  // Whether the message satisfies the program. Never throws; malformed
  // messages are searched as well as they can be understood.
  bool matches(const MessageContext& m) const;

  // The most expensive thing matches() may have to read.
  Cost cost() const;
  // Whether every header field matches() may read is one the store caches
  // (store::is_cached_header_field): then the store's cached header fields
  // answer it as the whole header would. False for TEXT and BODY.
  bool reads_only_cached_fields() const;
  // The program has a MODSEQ key (the answer then carries MODSEQ, RFC 7162).
  bool uses_modseq() const;

  struct Node;  // compiled key (search.cpp)

 private:
  std::shared_ptr<const Node> root_;
  Bounds bounds_;
  bool modseq_ = false;
};

// The headers for one step of SEARCH, SORT or THREAD over `uids`: when the
// program (and, with `header_wanted`, the SORT keys or THREAD, which read
// only cached fields) needs nothing of a message but cached header fields,
// one store call (Mailbox::cached_headers) fetches them for the whole step
// instead of a file per message. Otherwise it holds nothing.
class StepHeaders {
 public:
  StepHeaders(const Program& program, bool header_wanted, store::Mailbox& mailbox,
              std::span<const uint32_t> uids);
  // The header of uids[i], once; nullopt: the message has to be read.
  std::optional<std::string> take(size_t i);

 private:
  std::vector<std::optional<std::string>> blocks_;
};

// Charsets named in the BADCHARSET answer (Roost accepts whatever iconv can
// convert; this list is the advertised short form).
inline constexpr std::string_view kAdvertisedCharsets =
    "UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252 WINDOWS-1251 KOI8-R";

// ---- helpers, exposed for the unit tests -------------------------------------

// i;unicode-casemap (RFC 5051): UTF-8 text as "titlecased canonicalized
// UTF-8": every code point replaced by its simple titlecase mapping, then by
// its decomposition (compatibility or canonical, from ICU's copy of
// UnicodeData.txt), repeatedly. Equality, substring and order of two
// strings under the comparator are those of their casemap() octets. Bytes
// that are not UTF-8 are kept as they are.
std::string casemap(std::string_view utf8);

// Days since 1970-01-01 of a calendar date (proleptic Gregorian).
int64_t days_from_civil(int64_t year, int month, int day);
// The calendar day written in an RFC 5322 Date: value (its own zone, time
// ignored), as days since 1970-01-01; nullopt when it cannot be read.
std::optional<int64_t> sent_day(std::string_view date_value);

// Decoded (not yet case-folded) searchable text of a header block: one line
// "Name: value" per field, values RFC 2047-decoded.
std::string header_text(std::string_view header_block);
// Decoded text of a message body: every text/* part transfer-decoded and
// converted to UTF-8, and the header and text of attached messages.
std::string body_text(std::string_view message);

}  // namespace imap::search
