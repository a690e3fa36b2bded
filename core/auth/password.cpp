// Password hashes as written in domain files: parsing, checking, verifying and
// creating them.
//
// Accepted forms:
//   - crypt(3) strings handled by libxcrypt: $y$ (yescrypt), $6$ (sha512-crypt),
//     $5$ (sha256-crypt), $2b$/$2y$/$2a$ (bcrypt), $1$ (md5-crypt, verify only);
//   - argon2 encoded strings: $argon2id$, $argon2i$ (libargon2);
//   - Dovecot-style "{SCHEME}" prefixes in front of those, plus the digest
//     schemes {SSHA512}, {SSHA256}, {SHA512}, {SHA256} and {PLAIN}/{CLEARTEXT}.
//     A digest scheme may carry an encoding suffix: ".B64" (the default) or
//     ".HEX". Scheme names are case-insensitive.
//
// Everything here takes untrusted text and never throws.
#include "core/auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "core/util/ascii.h"
#include "core/util/sasl.h"

namespace core::auth {
namespace {

// Argon2 parameters for new hashes (RFC 9106's second recommendation).
constexpr uint32_t kArgon2TimeCost = 3;
constexpr uint32_t kArgon2MemoryKiB = 65536;
constexpr uint32_t kArgon2Parallelism = 1;
constexpr size_t kArgon2SaltLen = 16;
constexpr size_t kArgon2HashLen = 32;

// Limits on stored argon2 parameters, so a pasted hash cannot make every
// login allocate absurd memory or spin for minutes.
constexpr uint64_t kArgon2MaxMemoryKiB = 4ull * 1024 * 1024;  // 4 GiB
constexpr uint64_t kArgon2MaxTimeCost = 1000;
constexpr uint64_t kArgon2MaxParallelism = 255;
constexpr size_t kArgon2MinStoredHashLen = 16;

// crypt_gensalt counts for new hashes; 0 means libxcrypt's default.
constexpr unsigned long kYescryptCost = 0;
constexpr unsigned long kSha512CryptRounds = 100000;
constexpr unsigned long kBcryptCost = 12;

enum class Kind { kCrypt, kArgon2, kSaltedDigest, kDigest, kPlain };

struct Parsed {
  Kind kind = Kind::kCrypt;
  std::string body;  // crypt/argon2 string, or the plain password
  Argon2_type argon2_type = Argon2_id;
  const EVP_MD* md = nullptr;  // digest kinds
  size_t digest_len = 0;
  std::string raw;  // digest kinds: digest followed by salt
};

using Error = std::optional<std::string>;

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// The characters of crypt(3)'s base-64 variant (also bcrypt's).
bool is_crypt64(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}
bool all_crypt64(std::string_view s) {
  for (char c : s) {
    if (!is_crypt64(c)) return false;
  }
  return true;
}
bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Parses a decimal number without sign or leading zeros, at most `max`.
std::optional<uint64_t> parse_number(std::string_view s, uint64_t max) {
  if (!all_digits(s) || s.size() > 12 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v > max) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Base64 without padding, as argon2 encoded strings use it.
std::optional<std::string> decode_unpadded_base64(std::string_view s) {
  if (s.size() % 4 == 1 || s.find('=') != std::string_view::npos) return std::nullopt;
  std::string padded(s);
  while (padded.size() % 4 != 0) padded.push_back('=');
  return base64_decode(padded);
}

std::optional<std::string> decode_hex(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = core::ascii_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size() / 2);
  for (size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]);
    const int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// "$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>" ("v=" is optional).
Error check_argon2(std::string_view s, Parsed* out) {
  Argon2_type type;
  std::string_view rest;
  if (starts_with(s, "$argon2id$")) {
    type = Argon2_id;
    rest = s.substr(10);
  } else if (starts_with(s, "$argon2i$")) {
    type = Argon2_i;
    rest = s.substr(9);
  } else {
    return "unsupported argon2 variant (only argon2id and argon2i are accepted)";
  }
  std::vector<std::string_view> f = split(rest, '$');
  if (!f.empty() && starts_with(f[0], "v=")) {
    const auto v = parse_number(f[0].substr(2), 255);
    if (!v || (*v != 16 && *v != 19)) return "argon2 hash has an unknown version (want v=19)";
    f.erase(f.begin());
  }
  if (f.size() != 3)
    return "malformed argon2 hash (want $argon2id$v=19$m=...,t=...,p=...$salt$hash)";
  const std::vector<std::string_view> params = split(f[0], ',');
  if (params.size() != 3 || !starts_with(params[0], "m=") || !starts_with(params[1], "t=") ||
      !starts_with(params[2], "p=")) {
    return "malformed argon2 parameters (want m=...,t=...,p=...)";
  }
  const auto m = parse_number(params[0].substr(2), kArgon2MaxMemoryKiB);
  const auto t = parse_number(params[1].substr(2), kArgon2MaxTimeCost);
  const auto p = parse_number(params[2].substr(2), kArgon2MaxParallelism);
  if (!m) return "argon2 memory cost m= is not a number or above 4 GiB";
  if (!t || *t < 1) return "argon2 time cost t= must be between 1 and 1000";
  if (!p || *p < 1) return "argon2 parallelism p= must be between 1 and 255";
  if (*m < 8 * *p) return "argon2 memory cost m= must be at least 8 times p";
  const auto salt = decode_unpadded_base64(f[1]);
  if (!salt) return "argon2 salt is not valid base64";
  if (salt->size() < ARGON2_MIN_SALT_LENGTH) return "argon2 salt is shorter than 8 bytes";
  const auto hash = decode_unpadded_base64(f[2]);
  if (!hash) return "argon2 hash is not valid base64";
  if (hash->size() < kArgon2MinStoredHashLen) return "argon2 hash is truncated (under 16 bytes)";
  if (out) {
    out->kind = Kind::kArgon2;
    out->argon2_type = type;
    out->body = std::string(s);
  }
  return std::nullopt;
}

// "$5$" / "$6$" with optional "rounds=N$", a salt and a digest of hash_len chars.
Error check_sha_crypt(std::string_view rest, size_t hash_len, const char* name) {
  std::vector<std::string_view> f = split(rest, '$');
  if (!f.empty() && starts_with(f[0], "rounds=")) {
    const auto r = parse_number(f[0].substr(7), 999999999);
    if (!r || *r < 1000) return std::string(name) + " rounds= must be between 1000 and 999999999";
    f.erase(f.begin());
  }
  if (f.size() != 2) return std::string("malformed ") + name + " hash (want salt$hash)";
  if (f[0].empty() || f[0].size() > 16 || !all_crypt64(f[0])) {
    return std::string(name) + " salt must be 1 to 16 characters of [./0-9A-Za-z]";
  }
  if (f[1].size() != hash_len || !all_crypt64(f[1])) {
    return std::string(name) + " hash is truncated or has bad characters (want " +
           std::to_string(hash_len) + " characters)";
  }
  return std::nullopt;
}

// Checks the shape of a crypt(3) string that libxcrypt will verify; it only
// runs the (slow) hash at login.
Error check_crypt(std::string_view s, Parsed* out, std::string* warning) {
  Error err;
  if (starts_with(s, "$y$")) {
    const std::vector<std::string_view> f = split(s.substr(3), '$');
    if (f.size() != 3) {
      err = "malformed yescrypt hash (want $y$params$salt$hash)";
    } else if (f[0].empty() || !all_crypt64(f[0])) {
      err = "yescrypt parameters are missing or have bad characters";
    } else if (f[1].empty() || !all_crypt64(f[1])) {
      err = "yescrypt salt is missing or has bad characters";
    } else if (f[2].size() != 43 || !all_crypt64(f[2])) {
      err = "yescrypt hash is truncated or has bad characters (want 43 characters)";
    }
  } else if (starts_with(s, "$6$")) {
    err = check_sha_crypt(s.substr(3), 86, "sha512-crypt");
  } else if (starts_with(s, "$5$")) {
    err = check_sha_crypt(s.substr(3), 43, "sha256-crypt");
  } else if (starts_with(s, "$2a$") || starts_with(s, "$2b$") || starts_with(s, "$2y$")) {
    const std::vector<std::string_view> f = split(s.substr(4), '$');
    if (f.size() != 2) {
      err = "malformed bcrypt hash (want $2b$NN$ and 53 characters)";
    } else if (f[0].size() != 2 || !all_digits(f[0]) ||
               (f[0][0] - '0') * 10 + (f[0][1] - '0') < 4 ||
               (f[0][0] - '0') * 10 + (f[0][1] - '0') > 31) {
      err = "bcrypt cost must be two digits between 04 and 31";
    } else if (f[1].size() != 53 || !all_crypt64(f[1])) {
      err = "bcrypt hash is truncated or has bad characters (want 53 characters after the cost)";
    }
  } else if (starts_with(s, "$1$")) {
    const std::vector<std::string_view> f = split(s.substr(3), '$');
    if (f.size() != 2) {
      err = "malformed md5-crypt hash (want $1$salt$hash)";
    } else if (f[0].empty() || f[0].size() > 8 || !all_crypt64(f[0])) {
      err = "md5-crypt salt must be 1 to 8 characters of [./0-9A-Za-z]";
    } else if (f[1].size() != 22 || !all_crypt64(f[1])) {
      err = "md5-crypt hash is truncated or has bad characters (want 22 characters)";
    } else if (warning) {
      *warning = "md5-crypt ($1$) is weak: replace it with `roost pw` output";
    }
  } else if (starts_with(s, "$argon2")) {
    return "argon2 hash where a crypt(3) hash is expected (use {ARGON2ID} or no prefix)";
  } else if (!s.empty() && s[0] != '$') {
    return "DES crypt and other non-$ crypt formats are not supported";
  } else {
    return "unsupported crypt(3) format (want $y$, $6$, $5$, $2b$, $2y$, $2a$ or $1$)";
  }
  if (err) return err;
  if (out) {
    out->kind = Kind::kCrypt;
    out->body = std::string(s);
  }
  return std::nullopt;
}

struct DigestScheme {
  const char* name;
  bool salted;
  bool sha512;  // else sha256
};
constexpr DigestScheme kDigestSchemes[] = {
    {"SSHA512", true, true},
    {"SSHA256", true, false},
    {"SHA512", false, true},
    {"SHA256", false, false},
};

enum class Encoding { kDefault, kBase64, kHex };

// Parses a stored hash. Returns nullopt and fills *out (when given) if usable.
Error parse_stored(std::string_view stored, Parsed* out, std::string* warning) {
  if (stored.empty()) return "password hash is empty";
  if (stored.find('\0') != std::string_view::npos) return "password hash contains a NUL byte";
  if (stored.front() == ' ' || stored.front() == '\t' || stored.back() == ' ' ||
      stored.back() == '\t' || stored.back() == '\n' || stored.back() == '\r') {
    return "password hash has leading or trailing whitespace";
  }

  if (stored.front() != '{') {
    if (starts_with(stored, "$argon2")) return check_argon2(stored, out);
    if (stored.front() == '$') return check_crypt(stored, out, warning);
    if (stored.size() == 13 && all_crypt64(stored)) return "DES crypt is not supported";
    return "unrecognised password hash (want a crypt(3) string such as $argon2id$, $y$, $6$, "
           "$2b$, or a {SCHEME} prefix)";
  }

  const size_t close = stored.find('}');
  if (close == std::string_view::npos) return "unterminated {SCHEME} prefix in password hash";
  std::string_view scheme = stored.substr(1, close - 1);
  const std::string_view rest = stored.substr(close + 1);
  if (scheme.empty()) return "empty {} scheme prefix in password hash";

  // Schemes whose value is a crypt-style string.
  if (core::ascii_iequals(scheme, "ARGON2ID") || core::ascii_iequals(scheme, "ARGON2I")) {
    if (rest.empty()) return "nothing after {" + std::string(scheme) + "}";
    if (!starts_with(rest, "$argon2")) {
      return "{" + std::string(scheme) + "} must be followed by an $argon2id$ or $argon2i$ hash";
    }
    return check_argon2(rest, out);
  }
  if (core::ascii_iequals(scheme, "SHA512-CRYPT") || core::ascii_iequals(scheme, "SHA256-CRYPT") ||
      core::ascii_iequals(scheme, "BLF-CRYPT") || core::ascii_iequals(scheme, "MD5-CRYPT") ||
      core::ascii_iequals(scheme, "CRYPT")) {
    if (rest.empty()) return "nothing after {" + std::string(scheme) + "}";
    return check_crypt(rest, out, warning);
  }

  // Schemes with an optional encoding suffix.
  Encoding enc = Encoding::kDefault;
  const size_t dot = scheme.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string_view suffix = scheme.substr(dot + 1);
    if (core::ascii_iequals(suffix, "HEX")) {
      enc = Encoding::kHex;
    } else if (core::ascii_iequals(suffix, "B64") || core::ascii_iequals(suffix, "BASE64")) {
      enc = Encoding::kBase64;
    } else {
      return "unknown password encoding ." + std::string(suffix) + " in {" + std::string(scheme) +
             "}";
    }
    scheme = scheme.substr(0, dot);
  }

  if (core::ascii_iequals(scheme, "PLAIN") || core::ascii_iequals(scheme, "CLEARTEXT")) {
    std::string pw;
    if (enc == Encoding::kDefault) {
      pw = std::string(rest);
    } else {
      auto d = enc == Encoding::kHex ? decode_hex(rest) : base64_decode(rest);
      if (!d)
        return "{PLAIN} password is not valid " +
               std::string(enc == Encoding::kHex ? "hex" : "base64");
      pw = std::move(*d);
    }
    if (pw.empty()) return "empty {PLAIN} password";
    if (warning) *warning = "cleartext password ({PLAIN}): replace it with `roost pw` output";
    if (out) {
      out->kind = Kind::kPlain;
      out->body = std::move(pw);
    }
    return std::nullopt;
  }

  for (const DigestScheme& ds : kDigestSchemes) {
    if (!core::ascii_iequals(scheme, ds.name)) continue;
    const size_t dlen = ds.sha512 ? 64 : 32;
    std::optional<std::string> raw;
    if (enc == Encoding::kHex) {
      raw = decode_hex(rest);
    } else if (enc == Encoding::kBase64) {
      raw = base64_decode(rest);
    } else {
      // Unsalted digests are also commonly written in hex, told apart by length
      // (hex digits are valid base64 too, so hex is tried first).
      if (!ds.salted && rest.size() == 2 * dlen) raw = decode_hex(rest);
      if (!raw) raw = base64_decode(rest);
    }
    if (rest.empty()) return "nothing after {" + std::string(ds.name) + "}";
    if (!raw) {
      return "{" + std::string(ds.name) + "} value is not valid " +
             (enc == Encoding::kHex ? "hex" : "base64");
    }
    if (raw->size() < dlen) {
      return "{" + std::string(ds.name) + "} digest is truncated (" + std::to_string(raw->size()) +
             " bytes, want " + std::to_string(dlen) + (ds.salted ? " plus salt)" : ")");
    }
    if (ds.salted && raw->size() == dlen) {
      return "{" + std::string(ds.name) + "} value has no salt after the digest";
    }
    if (!ds.salted && raw->size() != dlen) {
      return "{" + std::string(ds.name) + "} digest has the wrong length (" +
             std::to_string(raw->size()) + " bytes, want " + std::to_string(dlen) + ")";
    }
    if (!ds.salted && warning) {
      *warning = "unsalted {" + std::string(ds.name) +
                 "} digest is weak: replace it with `roost pw` output";
    }
    if (out) {
      out->kind = ds.salted ? Kind::kSaltedDigest : Kind::kDigest;
      out->md = ds.sha512 ? EVP_sha512() : EVP_sha256();
      out->digest_len = dlen;
      out->raw = std::move(*raw);
    }
    return std::nullopt;
  }
  return "unknown password scheme {" + std::string(stored.substr(1, close - 1)) + "}";
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

// Heap-allocated crypt_data (about 32 KiB), wiped on release.
struct CryptData {
  std::unique_ptr<crypt_data> data = std::make_unique<crypt_data>();
  ~CryptData() { OPENSSL_cleanse(data.get(), sizeof(crypt_data)); }
};

bool digest(const EVP_MD* md, std::string_view a, std::string_view b, unsigned char* out,
            unsigned int* out_len) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  const bool ok =
      EVP_DigestInit_ex(ctx, md, nullptr) == 1 && EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
      EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 && EVP_DigestFinal_ex(ctx, out, out_len) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool verify_crypt(const std::string& setting, std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return false;  // crypt(3) cannot see it
  std::string pw(password);
  CryptData cd;
  const char* r = crypt_rn(pw.c_str(), setting.c_str(), cd.data.get(), sizeof(crypt_data));
  wipe(pw);
  if (!r || r[0] == '*') return false;
  const size_t n = std::strlen(r);
  return n == setting.size() && CRYPTO_memcmp(r, setting.data(), n) == 0;
}

bool verify_argon2(const Parsed& p, std::string_view password) {
  return argon2_verify(p.body.c_str(), password.data(), password.size(), p.argon2_type) ==
         ARGON2_OK;
}

bool verify_digest(const Parsed& p, std::string_view password) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string_view salt = std::string_view(p.raw).substr(p.digest_len);
  if (!digest(p.md, password, salt, md, &len) || len != p.digest_len) return false;
  const bool ok = CRYPTO_memcmp(md, p.raw.data(), len) == 0;
  OPENSSL_cleanse(md, sizeof(md));
  return ok;
}

bool verify_plain(const Parsed& p, std::string_view password) {
  // Compare digests so neither the content nor the length leaks through timing.
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  if (!digest(EVP_sha256(), p.body, {}, a, &la) || !digest(EVP_sha256(), password, {}, b, &lb)) {
    return false;
  }
  const bool ok = la == lb && CRYPTO_memcmp(a, b, la) == 0;
  OPENSSL_cleanse(a, sizeof(a));
  OPENSSL_cleanse(b, sizeof(b));
  return ok;
}

std::string hash_crypt(std::string_view password, const char* prefix, unsigned long count) {
  if (password.find('\0') != std::string_view::npos) return {};
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // A null entropy argument makes libxcrypt draw the salt from the OS.
  if (!crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof(setting))) return {};
  if (setting[0] == '*') return {};
  std::string pw(password);
  CryptData cd;
  const char* r = crypt_rn(pw.c_str(), setting, cd.data.get(), sizeof(crypt_data));
  wipe(pw);
  if (!r || r[0] == '*') return {};
  return r;
}

std::string hash_argon2id(std::string_view password) {
  std::array<unsigned char, kArgon2SaltLen> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) return {};
  const size_t len = argon2_encodedlen(kArgon2TimeCost, kArgon2MemoryKiB, kArgon2Parallelism,
                                       kArgon2SaltLen, kArgon2HashLen, Argon2_id);
  std::string out(len, '\0');
  const int rc = argon2id_hash_encoded(kArgon2TimeCost, kArgon2MemoryKiB, kArgon2Parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kArgon2HashLen, out.data(), out.size());
  if (rc != ARGON2_OK) return {};
  out.resize(std::strlen(out.c_str()));
  return out;
}

}  // namespace

std::optional<Scheme> parse_scheme(std::string_view name) {
  if (core::ascii_iequals(name, "argon2id")) return Scheme::kArgon2id;
  if (core::ascii_iequals(name, "yescrypt")) return Scheme::kYescrypt;
  if (core::ascii_iequals(name, "sha512-crypt")) return Scheme::kSha512Crypt;
  if (core::ascii_iequals(name, "bcrypt")) return Scheme::kBcrypt;
  return std::nullopt;
}

std::optional<std::string> check_stored_hash(std::string_view stored, std::string* warning) {
  if (warning) warning->clear();
  std::string w;
  Error err = parse_stored(stored, nullptr, &w);
  if (err) return err;
  if (warning) *warning = std::move(w);
  return std::nullopt;
}

bool verify_password(std::string_view stored, std::string_view password) {
  Parsed p;
  if (parse_stored(stored, &p, nullptr)) return false;
  bool ok = false;
  switch (p.kind) {
    case Kind::kCrypt:
      ok = verify_crypt(p.body, password);
      break;
    case Kind::kArgon2:
      ok = verify_argon2(p, password);
      break;
    case Kind::kSaltedDigest:
    case Kind::kDigest:
      ok = verify_digest(p, password);
      break;
    case Kind::kPlain:
      ok = verify_plain(p, password);
      break;
  }
  wipe(p.body);
  return ok;
}

std::string hash_password(std::string_view password, Scheme scheme) {
  switch (scheme) {
    case Scheme::kArgon2id:
      return hash_argon2id(password);
    case Scheme::kYescrypt:
      return hash_crypt(password, "$y$", kYescryptCost);
    case Scheme::kSha512Crypt:
      return hash_crypt(password, "$6$", kSha512CryptRounds);
    case Scheme::kBcrypt:
      return hash_crypt(password, "$2b$", kBcryptCost);
  }
  return {};
}

}  // namespace core::auth
