// Small pure helpers shared by the protocol parsers: base64 (RFC 4648) and
// the SASL PLAIN message (RFC 4616).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace core {

// Strict base64: rejects characters outside the alphabet, bad padding and
// non-zero trailing bits; whitespace is not allowed.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

// authzid NUL authcid NUL passwd; each part at most 255 bytes, authcid and
// passwd non-empty, no NUL inside a part.
struct PlainCredentials {
  std::string authzid, authcid, password;
};
std::optional<PlainCredentials> parse_sasl_plain(std::string_view decoded);

}  // namespace core
