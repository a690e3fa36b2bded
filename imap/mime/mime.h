// MIME structure of stored messages for IMAP FETCH (BODYSTRUCTURE, BODY,
// ENVELOPE, BODY[section], BINARY[section]).
//
// Pure code: no I/O, no store. A StructureParser is fed the stored bytes of
// one message in pieces of any size and produces a Part tree. Stored files may
// use LF or CRLF line ends; every offset it records exists twice:
//  - raw_*: positions in the stored bytes, to read a section from the file;
//  - *_size / crlf_*: the CRLF-normalised form that IMAP reports, where a line
//    ending in a bare LF counts two octets for its line end (RFC822.SIZE).
// Untrusted input never throws or crashes: malformed structure becomes the
// most plausible tree, and the parser's memory is bounded by Limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imap::mime {

// A Content-Type or Content-Disposition parameter after RFC 2231 processing
// (continuations joined, %XX decoded, value converted to UTF-8 when its
// charset is known). When the charset could not be converted, `charset`
// keeps its name and `value` the undecoded octets.
struct Param {
  std::string name;  // as written, without RFC 2231 "*N*" suffixes
  std::string value;
  std::string charset;   // empty: value is UTF-8 (or plain ASCII)
  std::string language;  // RFC 2231 language tag, if any
};

// One address of an envelope address list (RFC 9051 "address"). Group syntax
// appears as a start marker (mailbox = group name, host nullopt) and an end
// marker (all four nullopt), as IMAP wants.
struct Address {
  std::optional<std::string> name;  // display name, RFC 2047 words left encoded
  std::optional<std::string> adl;   // obsolete source route "@a,@b"
  std::optional<std::string> mailbox;
  std::optional<std::string> host;
};

// Mailbox / host written for addresses lacking them (a NIL would read as a
// group marker).
inline constexpr std::string_view kMissingMailbox = "MISSING_MAILBOX";
inline constexpr std::string_view kMissingDomain = "MISSING_DOMAIN";

struct Envelope {
  std::optional<std::string> date;  // header values, unfolded and trimmed
  std::optional<std::string> subject;
  std::vector<Address> from, sender, reply_to, to, cc, bcc;  // empty = NIL
  std::optional<std::string> in_reply_to;
  std::optional<std::string> message_id;
};

enum class PartKind {
  kLeaf,       // any non-multipart body that is not parsed further
  kMultipart,  // children = the body parts
  kMessage,    // message/rfc822 or message/global: children[0] = the message
};

struct Part {
  PartKind kind = PartKind::kLeaf;
  std::string type = "text";  // lower case
  std::string subtype = "plain";
  std::vector<Param> params;  // Content-Type parameters
  std::optional<std::string> id;
  std::optional<std::string> description;
  std::optional<std::string> encoding;  // Content-Transfer-Encoding token
  std::optional<std::string> md5;
  std::optional<std::string> disposition;  // as written (e.g. "attachment")
  std::vector<Param> disposition_params;
  std::vector<std::string> language;
  std::optional<std::string> location;

  // The part's MIME header (for the root and encapsulated messages: the
  // message header), including the blank line that ends it when present.
  uint64_t header_raw_offset = 0;
  uint64_t header_raw_length = 0;
  uint64_t header_crlf_offset = 0;
  uint64_t header_size = 0;  // CRLF-normalised octets
  // The body. For a multipart part it runs from the first preamble octet to
  // the end of the epilogue; for a part inside a multipart it stops before
  // the line end preceding the next delimiter (RFC 2046 gives that line end
  // to the delimiter).
  uint64_t body_raw_offset = 0;
  uint64_t body_raw_length = 0;
  uint64_t body_crlf_offset = 0;
  uint64_t body_size = 0;         // CRLF-normalised octets (body-fld-octets)
  uint64_t body_lines = 0;        // line ends inside the body (body-fld-lines)
  bool header_truncated = false;  // header exceeded Limits::max_header_bytes

  std::vector<Part> children;
  // Set on every part that starts a message: the root part and the
  // encapsulated message of a message/rfc822 part (its children[0]).
  std::shared_ptr<const Envelope> envelope;

  uint64_t size() const { return header_size + body_size; }
  uint64_t raw_length() const { return header_raw_length + body_raw_length; }
  bool is_text() const { return type == "text"; }
  // First parameter named `name` (ASCII case-insensitive), or nullptr.
  const Param* param(std::string_view name) const;
};

struct Limits {
  size_t max_depth = 100;                // deeper parts are leaf text/plain
  size_t max_header_bytes = 256 * 1024;  // per part; the rest is counted, not parsed
  size_t max_parts = 10000;              // further delimiters are ordinary body lines
};

class StructureParser {
 public:
  explicit StructureParser(Limits limits = {});
  ~StructureParser();
  StructureParser(const StructureParser&) = delete;
  StructureParser& operator=(const StructureParser&) = delete;

  // Feeds the next stored bytes; pieces may split anywhere.
  void feed(std::string_view chunk);
  // Ends the input and returns the tree; the parser is then spent.
  Part finish();

  uint64_t raw_size() const;   // bytes fed so far
  uint64_t crlf_size() const;  // their CRLF-normalised size (complete lines only)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: parse a whole message at once.
Part parse_structure(std::string_view message, Limits limits = {});

// --- headers ---------------------------------------------------------------

// Calls fn(name, value) for each field of a header block (LF or CRLF line
// ends; stops at the first empty line). The value is unfolded (line ends
// before continuation whitespace removed) and trimmed. fn returns false to
// stop early.
template <typename Fn>
void for_each_header_field(std::string_view block, Fn&& fn);
// First field named `name` (case-insensitive), unfolded and trimmed.
std::optional<std::string> header_value(std::string_view block, std::string_view name);

// --- envelope ----------------------------------------------------------------

Envelope parse_envelope(std::string_view header_block);
// RFC 5322 address list, lenient (obsolete forms, comments, groups).
std::vector<Address> parse_address_list(std::string_view value);

// --- IMAP writers (append to out) --------------------------------------------

// IMAP string: quoted when 7-bit and free of CR/LF, else a literal. NULs are
// dropped (IMAP literals cannot carry them).
void write_string(std::string& out, std::string_view s);
void write_nstring(std::string& out, const std::optional<std::string>& s);
void write_envelope(std::string& out, const Envelope& env);
// BODYSTRUCTURE when extended, else the non-extensible BODY form.
void write_bodystructure(std::string& out, const Part& part, bool extended = true);
inline void write_body(std::string& out, const Part& part) {
  write_bodystructure(out, part, false);
}

// --- sections (RFC 9051 6.4.5) -----------------------------------------------

enum class SectionText {
  kNone,  // BODY[] or BODY[1.2]
  kHeader,
  kHeaderFields,
  kHeaderFieldsNot,
  kText,
  kMime,
};

struct SectionSpec {
  std::vector<uint32_t> parts;  // 1-based part numbers, e.g. {1, 2}
  SectionText text = SectionText::kNone;
  std::vector<std::string> fields;  // for HEADER.FIELDS(.NOT)
};

struct ResolvedSection {
  uint64_t raw_offset = 0;  // byte range of the stored message to read
  uint64_t raw_length = 0;
  uint64_t crlf_offset = 0;
  uint64_t size = 0;  // CRLF-normalised size of that range (before filtering)
  // HEADER.FIELDS(.NOT): pass the bytes read through filter_header_fields.
  bool filter = false;
  bool filter_not = false;
  const Part* part = nullptr;  // the part whose header/body this is
};

// nullopt when the section does not exist in this message (part number out
// of range, HEADER/TEXT on a part that is not message/rfc822, MIME without
// part numbers).
std::optional<ResolvedSection> resolve_section(const Part& root, const SectionSpec& spec);

// Keeps (or with negate, drops) the fields whose names are in `names`
// (ASCII case-insensitive), with their continuation lines, normalised to CRLF
// and followed by the blank line. Stops at the header's own blank line.
std::string filter_header_fields(std::string_view header, const std::vector<std::string>& names,
                                 bool negate);

// --- decoding ----------------------------------------------------------------

// Converts `bytes` in `charset` to UTF-8 and appends it to out. Invalid
// sequences become U+FFFD. Returns false (appending nothing) for a charset it
// cannot convert.
bool charset_to_utf8(std::string_view charset, std::string_view bytes, std::string& out);
// RFC 2047: decodes encoded-words of an (unfolded or folded) header value to
// UTF-8. Other 8-bit text is kept when it is UTF-8, else read as ISO-8859-1.
std::string decode_header_value(std::string_view value);

enum class TransferEncoding { kIdentity, kBase64, kQuotedPrintable, kUnknown };
// 7bit, 8bit, binary and absent are identity; unknown tokens are kUnknown
// (RFC 3516 UNKNOWN-CTE).
TransferEncoding transfer_encoding(const std::optional<std::string>& cte);

// Streaming Content-Transfer-Encoding decoder for BINARY[section]. Input is
// the raw stored body in pieces of any size; output is appended.
//  - identity: the content with bare LF line ends made CRLF (as BODY[] shows);
//  - base64: characters outside the alphabet are skipped; '=' ends a quantum;
//  - quoted-printable: soft breaks removed, hard line ends emitted as CRLF,
//    trailing blanks of a line dropped, malformed '=' sequences kept as is.
class TransferDecoder {
 public:
  explicit TransferDecoder(TransferEncoding encoding);
  void feed(std::string_view in, std::string& out);
  void finish(std::string& out);
  // True when the input had octets that are not valid for the encoding.
  bool had_errors() const { return errors_; }

 private:
  void feed_base64(std::string_view in, std::string& out);
  void feed_qp(std::string_view in, std::string& out);
  void feed_identity(std::string_view in, std::string& out);
  void qp_line_end(std::string& out);

  TransferEncoding encoding_;
  bool errors_ = false;
  // base64
  uint32_t quantum_ = 0;
  int quantum_chars_ = 0;
  // quoted-printable
  std::string pending_;  // '=' with up to one hex digit, or a run of blanks
  bool pending_cr_ = false;
  // identity
  bool last_cr_ = false;
};

// Whole-buffer convenience.
std::string decode_transfer(TransferEncoding encoding, std::string_view in);

// --- template implementation ---------------------------------------------------

namespace detail {
// Splits one field off the start of `block`: returns false at the end of the
// header. name/raw_value point into block; raw_value still folded.
bool next_header_field(std::string_view& block, std::string_view& name,
                       std::string_view& raw_value);
std::string unfold(std::string_view raw_value);
}  // namespace detail

template <typename Fn>
void for_each_header_field(std::string_view block, Fn&& fn) {
  std::string_view name, raw;
  while (detail::next_header_field(block, name, raw)) {
    if (!fn(name, detail::unfold(raw))) return;
  }
}

}  // namespace imap::mime
