// Helpers shared by the imap/mime sources; not part of the interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/ascii.h"
#include "imap/mime/mime.h"

namespace imap::mime::detail {

using core::ascii_iequals;
using core::ascii_lower;
using core::ascii_upper;

inline bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}
// Whitespace that may surround structured header tokens (folding leftovers too).
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s);
bool is_ascii(std::string_view s);

// Skips whitespace and (nested) RFC 5322 comments from pos; if `comment` is
// given, the text of the last comment seen is stored there.
void skip_cfws(std::string_view s, size_t& pos, std::string* comment = nullptr);
// Reads an RFC 5322 quoted-string starting at s[pos] == '"', unescaping
// quoted-pairs; an unterminated string runs to the end.
std::string read_quoted(std::string_view s, size_t& pos);

// Parses "a/b; p=v; ..." (type_and_params) or "token; p=v" into the value
// before the first ';' (trimmed, comments removed) and RFC 2231-processed
// parameters.
struct ParsedField {
  std::string value;
  std::vector<Param> params;
};
ParsedField parse_parameterized(std::string_view field);

// Decodes %XX in an RFC 2231 extended value.
std::string percent_decode(std::string_view s);

}  // namespace imap::mime::detail
