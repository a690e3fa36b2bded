// The one delivery path of Roost, shared by `roost deliver` and the LMTP
// session: recipient resolution (accounts, aliases, alias domains, +detail,
// catch-all), the quota check, the trace headers, the durable store write
// and the quota warning.
//
// Blocking: every function that takes a store::Store or store::Account does
// disk I/O and runs off any event loop (roostd: the store pool).
// A disabled (suspended) account, or one whose policy allows no protocol at
// all, still receives mail: policy decides access, not delivery.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"
#include "core/config/directory.h"
#include "store/store.h"

namespace delivery {

// One account a message goes to.
struct Target {
  core::config::AccountView view;
  std::string folder;  // "+detail" folder asked for (empty: INBOX)
};

enum class Lookup {
  kFound,          // targets holds at least one account
  kUnknownUser,    // a served domain, no such address: 550 5.1.1 / exit 67
  kUnknownDomain,  // not a domain of this node: 550 5.1.2 / exit 67
  kDomainBroken,   // the domain's file is broken: try again later (451 / 75)
  kNoLocal,        // an alias whose targets are all outside: nothing to store
  kBadTarget,      // an alias target names no account (configuration error): 451 / 75
};

struct Resolution {
  Lookup status = Lookup::kUnknownUser;
  std::vector<Target> targets;      // deduplicated by account
  std::vector<std::string> remote;  // alias targets outside this node: not relayed
  std::string reason;               // for logs and stderr
};

// Resolves a recipient address (case-insensitive, IDN in UTF-8 or punycode).
Resolution resolve(const core::config::Directory& dir, std::string_view address);

// The quota decision for a message of `size` octets given the current usage.
struct QuotaCheck {
  bool over = false;
  bool defer = false;  // policy quota_exceeded: defer (temporary answer)
  std::string reason;  // "1000 of 1024 bytes used, the message has 300"
};
QuotaCheck check_quota(const core::config::Policy& policy, const store::QuotaUsage& usage,
                       uint64_t size);

// A message body to deliver, readable at any offset. Spool is the usual one.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads up to n bytes at `offset`; 0 at the end.
  virtual store::Result<size_t> read_at(uint64_t offset, char* buf, size_t n) const = 0;
};

// An anonymous temporary file (unlinked at once) holding a message while it
// arrives. Nothing in it is ever visible in a mailbox.
class Spool : public Source {
 public:
  Spool() = default;
  ~Spool() override;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Creates the file in `dir` (falls back to $TMPDIR, then /tmp). "" or an error.
  std::string open(const std::string& dir);
  // Appends bytes. "" or an error (the spool is then unusable).
  std::string append(std::string_view bytes);
  bool is_open() const { return fd_ >= 0; }

  uint64_t size() const override { return size_; }
  store::Result<size_t> read_at(uint64_t offset, char* buf, size_t n) const override;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The envelope of one delivery and the headers to put in front of the message.
struct Envelope {
  std::string sender;     // MAIL FROM, "" for the null sender <>
  std::string recipient;  // the address as the MTA gave it
  // When set, Return-Path:, Delivered-To: and this Received: header (a full
  // header, folded, without the final CRLF) are prepended.
  bool add_headers = false;
  std::string received;
};

// Builds "Received: from NAME (ADDR)\r\n\tby HOST (Roost) with PROTO id ID;\r\n\tDATE".
// Control characters in the names are replaced.
std::string received_header(std::string_view helo, std::string_view remote,
                            std::string_view hostname, std::string_view protocol,
                            std::string_view id, std::chrono::system_clock::time_point when);
// The headers prepended for `env` (empty without add_headers), CRLF-terminated.
std::string trace_headers(const Envelope& env);

// What happened for one target (or one recipient).
enum class Status {
  kStored,
  kOverQuota,  // see defer
  kTooBig,     // the store refused the size
  kTempFail,   // disk or store error: try again later
};

struct Outcome {
  Status status = Status::kTempFail;
  bool defer = false;  // kOverQuota with quota_exceeded: defer
  std::string reason;
  std::string mailbox;  // where it was stored
  uint32_t uid = 0;
  bool warned = false;  // a quota warning was delivered with it
};

// A target opened and checked, ready to receive.
struct Prepared {
  Target target;
  std::shared_ptr<store::Account> account;
  std::string mailbox;
  store::QuotaUsage usage;
};

struct Options {
  std::string state_dir;  // server.state_dir: quota-warning marks live below it
  std::string hostname;   // server.hostname: the warning's From: and Message-ID
};

// Opens the account (creating its default mailboxes), checks the quota for a
// message of `size` octets and picks the mailbox: `explicit_mailbox` when
// given and existing, else the +detail folder when it exists (ASCII case
// ignored when unique), else INBOX. kStored means "ready".
Outcome prepare(store::Store& store, const Target& target, uint64_t size,
                const std::string& explicit_mailbox, Prepared* out);

// Writes `headers` then the source into the prepared mailbox and commits
// (durable before it returns: the store fsyncs). Then, when the account has
// just passed policy.quota_warning.at, delivers the warning message once.
Outcome store_message(Prepared& prepared, std::string_view headers, const Source& source,
                      const Options& options);

// The quota warning alone (also called by store_message): delivers it when
// `usage` is at or above the threshold and the account was not warned yet;
// forgets the warned state when usage is below. True when one was delivered.
bool maybe_warn(Prepared& prepared, const store::QuotaUsage& usage, const Options& options);

}  // namespace delivery
