// IMAP URLs (RFC 5092) naming one message or a part of one, as CATENATE
// (RFC 4469) and URL-PARTIAL (RFC 5550) use them. Pure: no I/O, no store.
//
// Accepted forms (keys case-insensitive, names and sections percent-encoded):
//
//   imap://[user[;AUTH=x]@]host[:port]/mailbox[;UIDVALIDITY=v]/;UID=u[tail]
//   /mailbox[;UIDVALIDITY=v]/;UID=u[tail]      (this server, this user)
//   ;UID=u[tail]                               (the selected mailbox)
//   tail = [/;SECTION=section] [/;PARTIAL=offset[.length]]
//
// Whether the user and host of an absolute URL are this server's logged-in
// user is for the caller to decide. URLAUTH-authorised URLs (;EXPIRE=,
// ;URLAUTH=), message lists (?search) and other relative forms are refused.
//
// Mailbox names: percent-decoded, then taken as UTF-8 (RFC 5092). A name that
// is plain ASCII and decodes as strict modified UTF-7 is taken as modified
// UTF-7 instead (URLs built the RFC 2192 way), so "Entw&APw-rfe" and
// "Entw%C3%BCrfe" name the same mailbox. A name with a literal '&' that is not
// valid modified UTF-7 ("R&D") stays as it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "imap/mime/mime.h"

namespace imap::url {

// ;PARTIAL=offset[.length] (RFC 5550): octets of the (CRLF) section data.
struct Partial {
  uint32_t offset = 0;
  std::optional<uint32_t> length;  // > 0; absent: to the end
  bool operator==(const Partial&) const = default;
};

struct MessageUrl {
  bool absolute = false;  // imap://...
  std::string user;       // absolute only: decoded, empty when not given
  std::string host;       // absolute only: lower-cased
  std::optional<uint16_t> port;
  // UTF-8 as the store spells it (before INBOX normalisation); nullopt: the
  // selected mailbox (";UID=..." form).
  std::optional<std::string> mailbox;
  std::optional<uint32_t> uidvalidity;
  uint32_t uid = 0;
  // The section as written (decoded), e.g. "1.2.MIME" or "HEADER.FIELDS (TO)";
  // `spec` is its parsed form. nullopt: the whole message.
  std::optional<std::string> section;
  mime::SectionSpec spec;
  std::optional<Partial> partial;
};

// Parses a URL naming a message or a message part. nullopt (with *why) when
// it is malformed or of a form Roost does not serve.
std::optional<MessageUrl> parse_message_url(std::string_view url, std::string* why);

// A section-spec (RFC 9051 "section-spec"): "1.2", "HEADER", "1.TEXT",
// "2.MIME", "HEADER.FIELDS (From To)", "HEADER.FIELDS.NOT (X)". Names in the
// field list are atoms or quoted strings. nullopt when malformed.
std::optional<mime::SectionSpec> parse_section(std::string_view text);

// %XX decoding; nullopt on a truncated or non-hex escape.
std::optional<std::string> percent_decode(std::string_view s);

// The URL as it can stand in a [BADURL ...] response code: printable ASCII
// other than ']' is kept, every other octet is %XX-encoded.
std::string for_response_code(std::string_view url);

}  // namespace imap::url
