// The configuration model: what roost.yaml and the domain files say, after
// validation. Plain data; no YAML types leak out of core/config/*.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace core::config {

using Duration = std::chrono::milliseconds;
constexpr uint64_t kUnlimited = UINT64_MAX;

// A problem found while loading: printed as "FILE:LINE: message".
struct Diagnostic {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  std::string message;
  std::string str() const;
};

enum class Protocol { kImap, kPop3, kLmtp, kQuotaStatus, kAdmin, kAutoconfig };
enum class TlsMode { kNone, kStartTls, kImplicit };
enum class PlaintextAuth { kTlsOnly, kAllowed };
enum class QuotaExceeded { kReject, kDefer };
enum class OnDelete { kExpunge, kHide, kArchive };
enum class DetailDelivery { kFolder, kInbox };
enum class AccountStatus { kActive, kSuspended };

const char* to_string(Protocol p);

struct Listener {
  Protocol protocol = Protocol::kImap;
  std::string address;  // TCP: IP literal (v4 or v6); empty for a unix socket
  uint16_t port = 0;
  std::string path;      // unix socket path (absolute after loading)
  unsigned mode = 0660;  // unix socket permissions
  std::string group;     // unix socket group, optional
  TlsMode tls = TlsMode::kNone;
  bool proxy_protocol = false;
  std::string token_file;  // admin: absolute path
  Diagnostic where;        // for messages about this listener
};

struct CertPair {
  std::string certificate;  // absolute paths
  std::string private_key;
};

struct TlsSettings {
  CertPair default_pair;
  std::string min_version = "1.2";      // "1.2" | "1.3"
  std::map<std::string, CertPair> sni;  // host name (lower case) -> pair
};

struct PublicEndpoint {
  std::string host;
  uint16_t port = 0;
  TlsMode tls = TlsMode::kImplicit;
};

struct PublicSettings {
  std::optional<PublicEndpoint> imap, pop3, smtp;
};

struct IdleTimeouts {
  Duration imap = std::chrono::minutes(30);
  Duration pop3 = std::chrono::minutes(10);
  Duration lmtp = std::chrono::minutes(5);
  Duration preauth = std::chrono::minutes(1);
  // Postfix closes an idle policy connection after 300 s
  // (smtpd_policy_service_max_idle): ours waits longer.
  Duration quota_status = std::chrono::minutes(10);
  // HTTP listeners (admin, autoconfig): between requests of a keep-alive
  // connection and while a request is incomplete.
  Duration http = std::chrono::seconds(30);
};

struct Limits {
  uint32_t connections_per_user_ip = 50;
  uint32_t connections_per_ip = 1000;
  uint64_t line_length = 64 * 1024;
  uint64_t line_length_preauth = 8 * 1024;
  uint64_t literal_size = 64ull * 1024 * 1024;
  Duration auth_failure_delay = std::chrono::seconds(2);
  Duration auth_failure_delay_max = std::chrono::seconds(15);
  IdleTimeouts idle_timeout;
  // Extensions (documented in etc/roost.yaml):
  uint32_t auth_failures_per_ip = 20;  // failures from one IP (any user) before it is slowed
  uint32_t bad_commands = 10;          // protocol errors before disconnect
  uint32_t auth_workers = 2;           // password-hash threads
  uint32_t store_workers = 4;          // store I/O threads
  uint32_t auth_queue = 256;           // pending hash checks before "try later"
  Duration auth_cache_ttl = std::chrono::seconds(60);
  uint64_t output_buffer = 256 * 1024;  // per connection, before reading pauses
  uint64_t proxy_header_max = 4096;     // PROXY protocol header (proxy_protocol listeners)
  // quota_status listener (Postfix policy protocol): one "name=value" line,
  // one request (docs/QUOTA.md).
  uint64_t quota_status_line = 4096;
  uint64_t quota_status_request = 64 * 1024;
  // HTTP listeners (admin API, autoconfig): request line plus headers, and
  // the body (after chunked decoding).
  uint64_t http_header_size = 16 * 1024;
  uint64_t http_body_size = 1024 * 1024;
  Duration idle_keepalive = std::chrono::minutes(2);  // IMAP IDLE "* OK Still here"
  Duration idle_poll = std::chrono::seconds(30);      // IMAP IDLE re-check without a change event
  Duration expunge_memory = std::chrono::hours(24 * 30);  // QRESYNC: expunged UIDs remembered
  // IMAP NOTIFY (RFC 5465): mailboxes one session watches with inotify (the
  // others are polled every idle_poll), and how long a notification may wait
  // for a client that does not read before NOTIFY is turned off for it.
  uint32_t notify_watch_mailboxes = 100;
  // Maildir: messages' metadata kept loaded for mailboxes no session has open
  // (docs/STORE.md "Mailbox cache"); 0 keeps none.
  uint32_t mailbox_cache = 500000;
  uint32_t lmtp_recipients = 1000;  // RCPT TO per LMTP transaction (452 4.5.3 beyond)
  uint32_t search_contexts = 8;     // IMAP CONTEXT=SEARCH: updated searches per session
  Duration notify_backlog = std::chrono::seconds(30);
  // IMAP: advertise LITERAL- instead of LITERAL+ and refuse non-synchronising
  // literals over 4096 octets (RFC 7888).
  bool literal_minus = false;
};

struct CidrRange {
  std::string text;    // as written
  uint8_t family = 4;  // 4 or 6
  uint8_t bits = 32;
  uint8_t addr[16] = {};
  bool contains(const std::string& ip) const;
};

struct QuotaWarning {
  uint32_t at_percent = 90;
  std::optional<std::string> message_file;  // null: built-in text
};

struct Pop3Policy {
  OnDelete on_delete = OnDelete::kExpunge;
  bool mark_seen = true;
};

// A fully resolved policy: the server's defaults, overridden key by key by
// the domain's, then the account's.
struct Policy {
  std::vector<Protocol> protocols{Protocol::kImap, Protocol::kPop3};
  PlaintextAuth plaintext_auth = PlaintextAuth::kTlsOnly;
  uint64_t quota = 10ull * 1024 * 1024 * 1024;
  uint64_t quota_messages = kUnlimited;
  QuotaExceeded quota_exceeded = QuotaExceeded::kReject;
  QuotaWarning quota_warning;
  Pop3Policy pop3;
  DetailDelivery detail = DetailDelivery::kFolder;
  store::SpecialUseNames special_use;

  bool allows(Protocol p) const;
};

// A partial policy as written in a domain file or an account entry: only the
// keys present are set. apply() overrides a full Policy key by key.
struct PolicyOverride {
  std::optional<std::vector<Protocol>> protocols;
  std::optional<PlaintextAuth> plaintext_auth;
  std::optional<uint64_t> quota;
  std::optional<uint64_t> quota_messages;
  std::optional<QuotaExceeded> quota_exceeded;
  std::optional<uint32_t> quota_warning_at;
  std::optional<std::optional<std::string>> quota_warning_message;
  std::optional<OnDelete> pop3_on_delete;
  std::optional<bool> pop3_mark_seen;
  std::optional<DetailDelivery> detail;
  std::optional<std::string> special_drafts, special_sent, special_trash, special_junk,
      special_archive;

  void apply(Policy& p) const;
};

struct Account {
  std::string name;      // local part, lower case
  std::string password;  // stored hash, as written
  AccountStatus status = AccountStatus::kActive;
  PolicyOverride policy;
  int line = 0;  // where it is defined in its domain file
};

struct Domain {
  std::string name;                        // punycode, lower case
  std::vector<std::string> alias_domains;  // punycode, lower case
  PolicyOverride policy;
  PublicSettings public_settings;
  std::map<std::string, Account> accounts;                  // by local part
  std::map<std::string, std::vector<std::string>> aliases;  // local part -> targets
  std::optional<std::string> catch_all;                     // local part of an account
  std::string file;                                         // absolute path
};

// The result of loading one domain file.
struct DomainFile {
  std::string file;              // absolute path
  std::optional<Domain> domain;  // set when loaded without errors
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;  // e.g. {PLAIN} passwords
};

struct ServerSettings {
  std::string hostname = "localhost";
  std::string state_dir;  // absolute
  std::optional<std::string> user;
  Duration shutdown_grace = std::chrono::seconds(10);
  uint32_t workers = 0;  // event-loop threads; 0 = one per core (extension)
};

struct LogSettings {
  bool json = true;
  std::string level = "info";  // debug | info | warning | error
};

struct StoreSettings {
  std::string backend = "maildir";  // maildir | memory
  std::string path;                 // template with {domain} and {user}, absolute
  bool fsync = true;                // extension: only tests turn it off
  bool exclusive = false;           // extension: only Roost changes the Maildirs
};

struct Config {
  std::string file;  // absolute path of roost.yaml
  ServerSettings server;
  LogSettings log;
  TlsSettings tls;
  std::vector<Listener> listeners;
  PublicSettings public_settings;
  StoreSettings store;
  Limits limits;
  std::vector<CidrRange> trusted_networks;
  Policy policy;            // server defaults
  std::string domains_dir;  // absolute
};

struct LoadResult {
  std::optional<Config> config;  // set when the main file has no errors
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
};

// Loads and validates the main file (not the domain files).
LoadResult load_config(const std::string& path);
// The same from text (fuzzing, tests): `file` names it in diagnostics and its
// directory is the base for relative paths.
LoadResult load_config_text(const std::string& text, const std::string& file);
DomainFile load_domain_text(const std::string& text, const std::string& file);

// Loads and validates one domain file. Checks that its name matches
// `domain:`; aliases must point at accounts of this domain or contain '@'.
DomainFile load_domain_file(const std::string& path);

// Lists the domain files in dir that count (*.yaml, not hidden, not temp files).
std::vector<std::string> list_domain_files(const std::string& dir);

// Parses "10MiB", "unlimited", "30s"... (exposed for tests and the CLI).
std::optional<uint64_t> parse_size(const std::string& text);
std::optional<Duration> parse_duration(const std::string& text);

// Lower-cases and converts an internationalised domain name to punycode.
// nullopt when it is not a valid domain name.
std::optional<std::string> normalize_domain(const std::string& name);

}  // namespace core::config
