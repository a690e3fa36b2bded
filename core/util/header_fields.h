// Picking fields out of an RFC 5322 header block. Shared by the IMAP
// front-end (BODY[HEADER.FIELDS ...]) and the store's header cache, which
// must agree byte for byte on what a field and its continuation lines are.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace core {

// Keeps the fields of `header` whose name `keep` accepts, with their
// continuation lines, normalised to CRLF and followed by the blank line.
// A field's name is what precedes its first ':' less trailing blanks; lines
// that are neither a field nor a continuation are dropped, and so are
// continuation lines of a dropped field. Stops at the header's blank line.
std::string filter_header_fields(std::string_view header,
                                 const std::function<bool(std::string_view name)>& keep);

}  // namespace core
