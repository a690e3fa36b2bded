// LIST / LSUB mailbox patterns (RFC 3501 6.3.8, RFC 9051 6.3.9): decoding
// the client's reference and pattern, joining them, and matching store names.
// Pure functions: no I/O, no store, never throw.
//
// Roost has a single personal namespace with the prefix "" and the
// hierarchy separator '/'. Store names are UTF-8; INBOX is spelt "INBOX"
// (also as the first component of its children).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/writer.h"

namespace imap::mailbox {

inline constexpr char kSeparator = '/';

// A reference or pattern as the client sent it, as UTF-8: modified UTF-7
// decoded (leniently, as Session::mailbox_name does) unless `utf8` is on,
// in which case the bytes must be valid UTF-8. The wildcards '*' and '%'
// pass through unchanged. nullopt when the bytes cannot be decoded: such a
// pattern matches nothing.
std::optional<std::string> decode_pattern(std::string_view raw, proto::Utf8Mode utf8);

// The canonical pattern of a reference and a mailbox pattern: the two are
// concatenated, except that a pattern starting with the separator after a
// reference ending with it does not double it ("a/" + "/b" -> "a/b").
std::string join_pattern(std::string_view reference, std::string_view pattern);

// Whether a store name matches a canonical pattern: '*' matches any run of
// characters including the separator, '%' any run without it; everything
// else matches itself. The INBOX part of a name ("INBOX" or the first
// component of "INBOX/...") matches case-insensitively.
bool pattern_match(std::string_view pattern, std::string_view name);

// Whether `name` lies strictly below `ancestor` ("a/b" below "a").
bool is_below(std::string_view name, std::string_view ancestor);

// Every proper ancestor of a name, outermost first: "a/b/c" -> {"a", "a/b"}.
std::vector<std::string> ancestors(std::string_view name);

// INBOX first, then byte order.
bool name_less(std::string_view a, std::string_view b);

}  // namespace imap::mailbox
