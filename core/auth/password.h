// Password hashes: verification and creation. Pure functions, no I/O; slow by
// design (argon2id may use 64 MiB), so callers run them on the auth pool.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace core::auth {

enum class Scheme { kArgon2id, kYescrypt, kSha512Crypt, kBcrypt };

// Parses "argon2id" | "yescrypt" | "sha512-crypt" | "bcrypt".
std::optional<Scheme> parse_scheme(std::string_view name);

// Checks a stored hash as written in a domain file: crypt(3) strings
// ($argon2id$, $argon2i$, $y$, $6$, $5$, $2b$/$2y$/$2a$) and the same behind
// Dovecot-style prefixes ({ARGON2ID}, {SHA512-CRYPT}, {BLF-CRYPT}, {CRYPT},
// {SSHA512}, {SSHA256}, {SHA512}, {PLAIN}, ...). Returns nullopt when the hash
// is usable, else a message saying what is wrong. *warning is set for
// accepted-but-discouraged forms ({PLAIN}).
std::optional<std::string> check_stored_hash(std::string_view stored,
                                             std::string* warning = nullptr);

// True when password matches stored. Comparison is constant-time where the
// scheme allows. Unknown or malformed hashes never match.
bool verify_password(std::string_view stored, std::string_view password);

// Creates a new hash with a fresh random salt and the scheme's current
// recommended cost. Empty string on failure.
std::string hash_password(std::string_view password, Scheme scheme);

}  // namespace core::auth
