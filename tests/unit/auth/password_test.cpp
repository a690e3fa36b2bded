// Password hashes: vectors made by outside tools (the command that made each
// one is next to it), Dovecot-style prefixes, malformed input, new hashes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/auth/password.h"

using core::auth::check_stored_hash;
using core::auth::hash_password;
using core::auth::parse_scheme;
using core::auth::Scheme;
using core::auth::verify_password;

namespace {

constexpr const char* kPw = "correct horse";

struct Vector {
  const char* name;
  std::string hash;
  std::string password = kPw;
};

// crypt(3) strings and argon2 encodings, without prefix.
const std::vector<Vector>& crypt_vectors() {
  static const std::vector<Vector> v = {
      // openssl passwd -6 -salt roostsalt01 'correct horse'
      {"sha512-crypt",
       "$6$roostsalt01$ofAlHv5Zuy9u3/"
       "7ouvr4caYwMK8WbazvwzhEQvnN6hshFORrzBDGDnMEwx512x5drHYH6fIRmjWnS3"
       "rkbVUNT1"},
      // mkpasswd -m sha-512 -R 10000 -S roostrounds 'correct horse'
      {"sha512-crypt rounds",
       "$6$rounds=10000$roostrounds$"
       "kNsXbcjVjSZZbFhZjnEYrCyR73YSvZ0FYpc7Rq6b6LSYVFiXm75OFqmGDGzbvJNIW"
       "cXdhY8xGdPOUx.QlxP/./"},
      // openssl passwd -5 -salt roostsalt02 'correct horse'
      {"sha256-crypt", "$5$roostsalt02$ST3gaguai6Y9DwQOsyx6GPHQqWvHaqb5Km4mfTqs3U4"},
      // mkpasswd -m sha256crypt -S roostsha256 'correct horse'
      {"sha256-crypt mkpasswd", "$5$roostsha256$Dj7w8Xfam9hAQ7107q1MtR9rue84zz5mj0BRsWIGfJ4"},
      // mkpasswd -m yescrypt 'correct horse'
      {"yescrypt", "$y$j9T$H6bohA2Ix.9Z2sp4Ly3nv0$FbJQBjYdLXhC2laJYR1XGHjTiBAg2V4UhvMs6lWylSC"},
      // mkpasswd -m bcrypt -R 5 'correct horse'
      {"bcrypt 2b", "$2b$05$tj7LAj/Y7pudTDKiibdWaOSR8fq54HhILWnlpZFclLhn1hyBhHkui"},
      // mkpasswd -m bcrypt -R 12 'correct horse'
      {"bcrypt 2b cost 12", "$2b$12$EKUIZMRhAcJHQ3ca1pXwA.7IRIs5OxBn4ESYHU8YNerbbMXF87IE2"},
      // mkpasswd -m bcrypt-a -R 5 'correct horse'
      {"bcrypt 2a", "$2a$05$YUQ/D5z49wsEmGKyF0KY0eb437ei3C1razDFXD3Gs2KPL4vGJcH7."},
      // htpasswd -bnBC 5 u 'correct horse'   (apache2-utils)
      {"bcrypt 2y", "$2y$05$jkPc2ZHB0NJnj3m8/B4yo.4vhEUQhK4dI6XHB5IfASV2gzHJmPCK2"},
      // openssl passwd -1 -salt md5salt 'correct horse'
      {"md5-crypt", "$1$md5salt$uD9FtsynJUVFmcr65qpr71"},
      // echo -n 'correct horse' | argon2 roostsomesalt -id -t 3 -m 16 -p 1 -e
      {"argon2id",
       "$argon2id$v=19$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/"
       "fIc"},
      // echo -n 'correct horse' | argon2 roostsomesalt -i -t 2 -m 12 -p 1 -e
      {"argon2i",
       "$argon2i$v=19$m=4096,t=2,p=1$cm9vc3Rzb21lc2FsdA$4BwJCu3G04CCmQYqx1KA/"
       "arwwpSJT9SfQBLDuZMmV6w"},
      // echo -n 'pässwörd' | argon2 roostsomesalt -id -t 3 -m 16 -p 1 -e   (UTF-8 input)
      {"argon2id utf-8",
       "$argon2id$v=19$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA$"
       "GSeQuN1BCT8asoKSTRpd87NLgCHb6hNZ9kBF0S7I1/"
       "Q",
       "p\xc3\xa4ssw\xc3\xb6rd"},
  };
  return v;
}

// Digest schemes, always behind a prefix.
const std::vector<Vector>& digest_vectors() {
  static const std::vector<Vector> v = {
      // /usr/bin/python3 -c 'import hashlib,base64; s=b"\x01\x02saltysalt\xff";
      //   print(base64.b64encode(hashlib.sha512(b"correct horse"+s).digest()+s).decode())'
      {"SSHA512",
       "{SSHA512}yAK593ucxnbDqCvccaUTv1Nag9P1vnp5/TDBbp8QjBNhZ2gQqZKDDwCHtTfO/"
       "gfOiwcZJP23RANDCK60KvlitgECc2FsdHlzYWx0/w=="},
      // /usr/bin/python3 -c 'import hashlib,base64; s=b"abcd";
      //   print(base64.b64encode(hashlib.sha512("pässwörd".encode()+s).digest()+s).decode())'
      {"SSHA512 utf-8",
       "{SSHA512}"
       "QVwabBPz3Jq2wwRElLcwTCrd6jqWW9Mvl3AXRTPDEfmTHdlTkJ7SnSQa3nUKayjXuaLIr6bQVqaLJtmsW6x5"
       "kmFiY2Q=",
       "p\xc3\xa4ssw\xc3\xb6rd"},
      // /usr/bin/python3 -c 'import hashlib; s=b"hexsalt1";
      //   print((hashlib.sha512(b"correct horse"+s).digest()+s).hex())'
      {"SSHA512.HEX",
       "{SSHA512.HEX}"
       "44d870aa69246fa9d263a950010b68782ac320d1ac879c52a1753f162fd78f9e59681f6edc6e471f"
       "5d48fb5482dd42cac0144f577ee2403789707e3c1d2e1c5a68657873616c7431"},
      // /usr/bin/python3 -c 'import hashlib,base64; s=b"rsalt256";
      //   print(base64.b64encode(hashlib.sha256(b"correct horse"+s).digest()+s).decode())'
      {"SSHA256", "{SSHA256}t+XZMgq0uf5KO+AHgt4s2lw0v2kOE8OW9CkkbLlT+Q9yc2FsdDI1Ng=="},
      // /usr/bin/python3 -c 'import hashlib,base64;
      //   print(base64.b64encode(hashlib.sha512(b"correct horse").digest()).decode())'
      {"SHA512",
       "{SHA512}VraY3v7bWkNbY0r+MyC7rz/"
       "c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6aldZoNHvKtxSQhayTyyeZUZew=="},
      // /usr/bin/python3 -c 'import hashlib,base64;
      //   print(base64.b64encode(hashlib.sha256(b"correct horse").digest()).decode())'
      {"SHA256", "{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE="},
      // echo -n 'correct horse' | openssl dgst -sha256 -r
      {"SHA256.HEX",
       "{SHA256.HEX}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"},
      {"SHA256 hex detected by length",
       "{SHA256}4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"},
      {"PLAIN", "{PLAIN}correct horse"},
      {"CLEARTEXT", "{CLEARTEXT}correct horse"},
      {"PLAIN.B64", "{PLAIN.B64}Y29ycmVjdCBob3JzZQ=="},
  };
  return v;
}

std::string find(const std::vector<Vector>& v, std::string_view name) {
  for (const auto& x : v) {
    if (x.name == name) return x.hash;
  }
  FAIL("no vector " << name);
  return {};
}

}  // namespace

TEST_CASE("parse_scheme") {
  CHECK(parse_scheme("argon2id") == Scheme::kArgon2id);
  CHECK(parse_scheme("yescrypt") == Scheme::kYescrypt);
  CHECK(parse_scheme("sha512-crypt") == Scheme::kSha512Crypt);
  CHECK(parse_scheme("bcrypt") == Scheme::kBcrypt);
  CHECK(parse_scheme("BCRYPT") == Scheme::kBcrypt);
  CHECK_FALSE(parse_scheme("").has_value());
  CHECK_FALSE(parse_scheme("md5").has_value());
  CHECK_FALSE(parse_scheme("sha512").has_value());
  CHECK_FALSE(parse_scheme("argon2").has_value());
}

TEST_CASE("crypt(3) and argon2 vectors from outside tools verify") {
  for (const auto& v : crypt_vectors()) {
    const std::string name = v.name;
    CAPTURE(name);
    std::string warning = "stale";
    CHECK(check_stored_hash(v.hash, &warning) == std::nullopt);
    if (std::string_view(v.name) == "md5-crypt") {
      CHECK_FALSE(warning.empty());
    } else {
      CHECK(warning.empty());
    }
    CHECK(verify_password(v.hash, v.password));
    CHECK_FALSE(verify_password(v.hash, "Correct horse"));
    CHECK_FALSE(verify_password(v.hash, v.password + " "));
  }
}

TEST_CASE("digest, PLAIN vectors verify behind their prefixes") {
  for (const auto& v : digest_vectors()) {
    const std::string name = v.name;
    CAPTURE(name);
    CHECK(check_stored_hash(v.hash) == std::nullopt);
    CHECK(verify_password(v.hash, v.password));
    CHECK_FALSE(verify_password(v.hash, "correct hors"));
    CHECK_FALSE(verify_password(v.hash, "correct horsf"));
    CHECK_FALSE(verify_password(v.hash, ""));
  }
}

TEST_CASE("Dovecot-style prefixes around crypt strings") {
  const std::pair<const char*, const char*> wrapped[] = {
      {"{SHA512-CRYPT}", "sha512-crypt"}, {"{sha512-crypt}", "sha512-crypt rounds"},
      {"{SHA256-CRYPT}", "sha256-crypt"}, {"{BLF-CRYPT}", "bcrypt 2y"},
      {"{Blf-Crypt}", "bcrypt 2b"},       {"{CRYPT}", "yescrypt"},
      {"{CRYPT}", "sha512-crypt"},        {"{MD5-CRYPT}", "md5-crypt"},
      {"{ARGON2ID}", "argon2id"},         {"{argon2id}", "argon2id"},
      {"{ARGON2I}", "argon2i"},
  };
  for (const auto& [prefix, name] : wrapped) {
    const std::string stored = prefix + find(crypt_vectors(), name);
    CAPTURE(stored);
    CHECK(check_stored_hash(stored) == std::nullopt);
    CHECK(verify_password(stored, kPw));
  }
  // Prefix names are case-insensitive for digest schemes too.
  CHECK(verify_password("{ssha256}t+XZMgq0uf5KO+AHgt4s2lw0v2kOE8OW9CkkbLlT+Q9yc2FsdDI1Ng==", kPw));
  CHECK(verify_password("{Plain}correct horse", kPw));
}

TEST_CASE("warnings for discouraged forms") {
  std::string w;
  CHECK(check_stored_hash("{PLAIN}correct horse", &w) == std::nullopt);
  CHECK(w.find("PLAIN") != std::string::npos);
  w.clear();
  CHECK(check_stored_hash("{CLEARTEXT}x", &w) == std::nullopt);
  CHECK_FALSE(w.empty());
  w.clear();
  CHECK(check_stored_hash("{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=", &w) ==
        std::nullopt);
  CHECK_FALSE(w.empty());
  // Good forms clear a warning left from before.
  w = "stale";
  CHECK(check_stored_hash(find(crypt_vectors(), "argon2id"), &w) == std::nullopt);
  CHECK(w.empty());
  w = "stale";
  CHECK(check_stored_hash(find(digest_vectors(), "SSHA512"), &w) == std::nullopt);
  CHECK(w.empty());
  // A null warning pointer is fine.
  CHECK(check_stored_hash("{PLAIN}x", nullptr) == std::nullopt);
}

TEST_CASE("malformed hashes never verify and check_stored_hash says why") {
  const std::string sha512 = find(crypt_vectors(), "sha512-crypt");
  const std::string yes = find(crypt_vectors(), "yescrypt");
  const std::string bcrypt = find(crypt_vectors(), "bcrypt 2b");
  const std::string argon = find(crypt_vectors(), "argon2id");
  const std::string ssha = find(digest_vectors(), "SSHA512");

  struct Bad {
    std::string stored;
    const char* expect;  // a word the message must contain
  };
  const std::vector<Bad> bad = {
      {"", "empty"},
      {"correct horse", "unrecognised"},
      {"{UNKNOWN}abc", "unknown password scheme {UNKNOWN}"},
      {"{SHA1}abc", "unknown"},
      {"{SSHA512", "unterminated"},
      {"{}abc", "empty"},
      {"{PLAIN}", "empty"},
      {"{SHA512-CRYPT}", "nothing after"},
      {"{ARGON2ID}", "nothing after"},
      {"{ARGON2ID}" + sha512, "$argon2"},
      {"{SHA512-CRYPT}" + argon, "argon2"},
      {"{SSHA512}" + ssha.substr(9, 40), "truncated"},
      {"{SSHA512}" + ssha.substr(9) + "!", "base64"},
      {"{SSHA512}" + ssha.substr(9, ssha.size() - 11), "base64"},  // padding cut
      {"{SSHA512}VraY3v7bWkNbY0r+MyC7rz/"
       "c2SC2xQOkRvx7endrKY1HnRumqLYXgI6wv1ec6aldZoNHvKtxSQhayTyyeZUZew==",
       "no salt"},
      {"{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE", "base64"},
      {"{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7Vj", "base64"},
      {"{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6S", "truncated"},
      {"{SHA512.HEX}abc", "hex"},
      {"{SHA512.ZIP}abc", "encoding"},
      {sha512.substr(0, sha512.size() - 1), "truncated"},
      {sha512 + "x", "truncated"},
      {"$6$roostsalt01$", "truncated"},
      {"$6$rounds=10$abc$" + sha512.substr(15), "rounds"},
      {"$6$" + std::string(17, 'a') + "$" + sha512.substr(15), "salt"},
      {"$5$roostsalt02$ST3gaguai6Y9DwQOsyx6GPHQqWvHaqb5Km4mfTqs3U", "truncated"},
      {yes.substr(0, yes.size() - 2), "truncated"},
      {"$y$j9T$H6bohA2Ix.9Z2sp4Ly3nv0", "malformed"},
      {bcrypt.substr(0, 50), "truncated"},
      {"$2b$99$" + bcrypt.substr(7), "cost"},
      {"$2b$5$" + bcrypt.substr(7), "cost"},
      {"$2x$05$" + bcrypt.substr(7), "unsupported"},
      {"$1$md5salt$uD9FtsynJUVFmcr65qpr7", "truncated"},
      {"$7$CU..../....abc", "unsupported"},
      {"abJnggxhB/yWI", "DES"},  // traditional DES crypt
      {"$argon2d$v=19$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/"
       "fIc",
       "variant"},
      {"$argon2id$v=19$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYy", "truncated"},
      {"$argon2id$v=19$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA", "malformed"},
      {"$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/fIc", "salt"},
      {"$argon2id$v=19$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/"
       "fIc=",
       "base64"},
      {"$argon2id$v=18$m=65536,t=3,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/"
       "fIc",
       "version"},
      {"$argon2id$v=19$m=99999999,t=3,p=1$cm9vc3Rzb21lc2FsdA$"
       "jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/fIc",
       "memory"},
      {"$argon2id$v=19$t=3,m=65536,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/"
       "fIc",
       "parameters"},
      {"$argon2id$v=19$m=65536,t=0,p=1$cm9vc3Rzb21lc2FsdA$jccQKX0uOBYyZXvVHnH6sg0GXupPnqSfbJihPJV/"
       "fIc",
       "time cost"},
      {" " + sha512, "whitespace"},
      {sha512 + "\n", "whitespace"},
      {std::string("{PLAIN}a\0b", 10), "NUL"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.stored);
    const auto msg = check_stored_hash(b.stored);
    REQUIRE(msg.has_value());
    CAPTURE(*msg);
    CHECK(msg->find(b.expect) != std::string::npos);
    CHECK_FALSE(verify_password(b.stored, kPw));
    CHECK_FALSE(verify_password(b.stored, ""));
  }
}

TEST_CASE("passwords with a NUL byte never match a crypt hash") {
  const std::string sha512 = find(crypt_vectors(), "sha512-crypt");
  CHECK_FALSE(verify_password(sha512, std::string("correct horse\0x", 15)));
}

TEST_CASE("hash_password round-trips for every scheme") {
  const Scheme schemes[] = {Scheme::kArgon2id, Scheme::kYescrypt, Scheme::kSha512Crypt,
                            Scheme::kBcrypt};
  const char* prefixes[] = {"$argon2id$v=19$m=65536,t=3,p=1$", "$y$", "$6$", "$2b$12$"};
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    const std::string h = hash_password("s3cret \xc3\xa9t\xc3\xa9", schemes[i]);
    REQUIRE_FALSE(h.empty());
    CAPTURE(h);
    CHECK(h.rfind(prefixes[i], 0) == 0);
    std::string w = "stale";
    CHECK(check_stored_hash(h, &w) == std::nullopt);
    CHECK(w.empty());
    CHECK(verify_password(h, "s3cret \xc3\xa9t\xc3\xa9"));
    CHECK_FALSE(verify_password(h, "s3cret"));
    // A fresh salt each time.
    CHECK(hash_password("s3cret \xc3\xa9t\xc3\xa9", schemes[i]) != h);
  }
}

TEST_CASE("hash_password: sha512-crypt uses at least 5000 rounds") {
  const std::string h = hash_password("pw", Scheme::kSha512Crypt);
  if (h.rfind("$6$rounds=", 0) == 0) {
    CHECK(std::stoul(h.substr(10)) >= 5000);
  } else {
    CHECK(h.rfind("$6$", 0) == 0);  // no rounds= means the default, 5000
  }
}
