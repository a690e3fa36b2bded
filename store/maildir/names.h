// Names on disk for the Maildir backend: mailbox folder names (Maildir++ with
// modified UTF-7) and message file names (base, fields, flags).
// Pure functions: no I/O. See docs/STORE.md for the formats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace store::maildir {

// Longest folder name we create on disk (leaves room for ".idx" and friends
// under NAME_MAX).
inline constexpr size_t kMaxFolderName = 250;

// API name ('/' separated, UTF-8, already validated) -> folder name in the
// account root: "" for INBOX, ".A.B" otherwise. Each component is in modified
// UTF-7 (RFC 3501 5.1.3, core/util/utf7.h) with '.' also encoded (as "&AC4-")
// so it cannot be confused with the Maildir++ separator. nullopt if it cannot
// be encoded or is too long.
std::optional<std::string> folder_for_mailbox(std::string_view name);
// Folder name (".A.B") -> API name; nullopt if it is not one we would create
// (every component must be exactly the encoding folder_for_mailbox writes).
std::optional<std::string> mailbox_for_folder(std::string_view folder);

// A message file name: "<base>[,field...][:2,<info letters>]".
struct MessageName {
  std::string base;                 // before the first ',' or ':'
  std::vector<std::string> fields;  // ",S=..", ",W=..", ",U=..", ",H" and unknown ones
  std::string info;                 // letters after ":2," (may include unknown ones)
  bool has_info = false;            // the name had a ":2," part

  std::optional<uint64_t> raw_size() const;   // S=
  std::optional<uint64_t> crlf_size() const;  // W=
  std::optional<uint32_t> uid() const;        // U= (1..2^32-1)
  bool hidden() const;                        // H
  // IMAP EMAILID: the E= field when it is a valid object id (copies carry
  // their source's id there), else email_id_for_base(base).
  std::string email_id() const;

  void set_field(char key, std::optional<std::string> value);  // replaces/removes "K=..."
  void set_hidden(bool hidden);

  std::string str() const;
};

MessageName parse_message_name(std::string_view name);

// Maildir info letters <-> store flag bits. Uppercase letters we do not know
// (e.g. 'P') and lowercase letters without a keyword are preserved by
// `merge_info`.
uint32_t flags_from_info(std::string_view info);
uint32_t keyword_bits_from_info(std::string_view info);
// Builds new info letters: the known ones from flags/keyword bits, plus every
// letter of `old_info` that is neither a system flag letter nor in
// `known_keyword_mask`. Sorted in ASCII order, unique.
std::string merge_info(std::string_view old_info, uint32_t flags, uint32_t keyword_bits,
                       uint32_t known_keyword_mask);

// POP3 UIDL for a base name: the base itself when printable (0x21-0x7E) and at
// most 70 characters, else "X" + 32 hex digits of a stable hash of it.
std::string uidl_for_base(std::string_view base);

// IMAP object ids (RFC 8474): 1-255 characters of [A-Za-z0-9_-].
bool is_valid_object_id(std::string_view id);
// The EMAILID of a message whose file has this base and no E= field: "M"
// followed by 24 hex digits of stable hashes of the base (the base itself
// has '.' and host names in it, which an object id cannot carry).
std::string email_id_for_base(std::string_view base);
// The EMAILID of a file in cur/ from its whole name (MessageName::email_id
// without building a MessageName).
std::string email_id_for_file(std::string_view file_name);
// SAVEDATE from a base name: the decimal seconds before its first '.'
// ("1732620000.M1P2Q3.host"), as Roost and Maildir delivery agents write it.
// nullopt when the base does not start that way (1 to 12 digits, not 0).
std::optional<int64_t> save_date_from_base(std::string_view base);

// Host name part for new file names: [A-Za-z0-9_.-] only, at most 32 chars.
std::string sanitize_host(std::string_view host);

// An account's Maildir++ root: `store.path` with {domain} and {user} filled
// in, without a trailing '/'. The parts must have passed valid_path_part.
std::string account_root(std::string_view tmpl, std::string_view domain, std::string_view user);

// Stable 64-bit FNV-1a.
uint64_t fnv1a64(const void* data, size_t n, uint64_t seed = 0xcbf29ce484222325ull);

}  // namespace store::maildir
