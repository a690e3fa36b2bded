// The message store interface shared by every protocol front-end.
//
// The store knows nothing of IMAP, POP3 or LMTP. It is shaped by what a mail
// access server needs: mailboxes with hierarchy and special-use, stable UIDs,
// UIDVALIDITY, UIDNEXT, flags, keywords, MODSEQ, internal date and size.
//
// Threading: every call here is blocking and may do disk I/O. Sessions call it
// off their event loop (store pool), one call at a time per session. Objects
// returned (Account, Mailbox, AppendTx, MessageStream) are used by one thread at
// a time, but different handles on the same account or mailbox may be used
// concurrently from different threads: the backend synchronises them.
//
// Mailbox names in this API are UTF-8 with '/' as the hierarchy separator.
// "INBOX" (any case) is the inbox. Backends encode names on disk as they need.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/result.h"

namespace store {

enum class Errc {
  kNotFound,       // mailbox or message does not exist
  kAlreadyExists,  // CREATE / RENAME target exists
  kInvalidName,    // name with "..", control chars, empty component, leaves the root
  kNoPermission,   // e.g. deleting INBOX, renaming to inside itself
  kHasChildren,    // DELETE of a mailbox with inferiors that cannot be removed
  kOverQuota,      // append/copy would exceed the quota given to the store
  kTooBig,         // a single message over the store's size limit
  kLocked,         // a lease is held by another session
  kIo,             // disk error (logged with details); temporary
  kCorrupt,        // on-disk data could not be understood
};

struct Error {
  Errc code = Errc::kIo;
  std::string message;  // for logs and for the client; never contains message bodies
};

template <class T>
using Result = core::Result<T, Error>;

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

// System flags, as a bit set.
enum Flag : uint32_t {
  kSeen = 1u << 0,
  kAnswered = 1u << 1,
  kFlagged = 1u << 2,
  kDeleted = 1u << 3,
  kDraft = 1u << 4,
};
constexpr uint32_t kAllFlags = kSeen | kAnswered | kFlagged | kDeleted | kDraft;

enum class SpecialUse { kNone, kDrafts, kSent, kTrash, kJunk, kArchive };

// Names for the special-use mailboxes every account gets (per-domain policy).
struct SpecialUseNames {
  std::string drafts = "Drafts";
  std::string sent = "Sent";
  std::string trash = "Trash";
  std::string junk = "Junk";
  std::string archive = "Archive";
};

struct MessageMeta {
  uint32_t uid = 0;
  uint32_t flags = 0;                 // Flag bits
  std::vector<std::string> keywords;  // sorted, unique, case preserved
  uint64_t size = 0;                  // octets with CRLF line ends (RFC822.SIZE, POP3 LIST)
  int64_t internal_date = 0;          // seconds since the epoch (UTC)
  uint64_t modseq = 0;                // last change of this message (>= 1)
  // Hidden from download views (POP3 "hide" policy): the message stays in the
  // mailbox for every other purpose. Survives the loss of every index file.
  bool hidden = false;
  // Stable unique id for download clients (POP3 UIDL): printable ASCII 0x21-0x7E,
  // at most 70 characters, never changes, never reused in this mailbox, survives
  // the loss of every index file.
  std::string uidl;
  // When the message was put into this mailbox (APPEND, delivery, COPY/MOVE
  // into it), seconds since the epoch (UTC): IMAP SAVEDATE (RFC 8514).
  // 0 = not known (FETCH SAVEDATE then answers NIL).
  int64_t save_date = 0;
  // IMAP EMAILID (RFC 8474): 1-255 characters of [A-Za-z0-9_-]; the same for
  // the life of the message, kept by copy_to (copy and move) so that every
  // copy has the id of its source; never shared by two different messages
  // of the account. Empty = not supported by the backend.
  std::string email_id;
};

struct MailboxStatus {
  uint32_t messages = 0;
  uint32_t unseen = 0;   // messages without \Seen
  uint32_t deleted = 0;  // messages with \Deleted
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highest_modseq = 0;
  uint64_t size = 0;  // sum of MessageMeta::size
};

struct MailboxInfo {
  std::string name;  // UTF-8, '/' separated
  SpecialUse special_use = SpecialUse::kNone;
  bool subscribed = false;
  bool has_children = false;
  // Exists only as a parent of others (cannot be selected). Backends may
  // create real mailboxes for parents instead; both are valid.
  bool noselect = false;
};

// What changed in a Mailbox handle's view since its previous sync().
struct SyncResult {
  std::vector<uint32_t> expunged;       // UIDs removed from the view, ascending
  std::vector<uint32_t> added;          // UIDs appended to the view, ascending
  std::vector<uint32_t> flags_changed;  // UIDs whose flags/keywords/hidden changed, ascending
  bool uidvalidity_changed = false;     // view was reset (mailbox recreated)
};

enum class FlagOp { kAdd, kRemove, kReplace };

struct FlagChange {
  FlagOp op = FlagOp::kAdd;
  uint32_t flags = 0;
  std::vector<std::string> keywords;
  // Only apply where the message's modseq <= this (CONDSTORE UNCHANGEDSINCE); 0 = always.
  uint64_t unchanged_since = 0;
};

// A message's raw bytes as stored (line ends as on disk: LF or CRLF).
class MessageStream {
 public:
  virtual ~MessageStream() = default;
  // Reads up to n bytes; returns 0 at the end.
  virtual Result<size_t> read(char* buf, size_t n) = 0;
  // Repositions to an offset of the raw bytes.
  virtual Result<void> seek(uint64_t offset) = 0;
  virtual uint64_t raw_size() const = 0;
};

// A message being added (APPEND, delivery). Data streams in; nothing is visible
// to anyone until commit() returns. Destroying it uncommitted discards it.
class AppendTx {
 public:
  virtual ~AppendTx() = default;
  virtual Result<void> write(std::string_view bytes) = 0;
  // Makes the message durable (fsync) and visible. Returns its UID.
  virtual Result<uint32_t> commit() = 0;
};

// Held while a lease is owned; releasing = destroying.
class Lease {
 public:
  virtual ~Lease() = default;
};

// Called when a mailbox changes through another handle or from outside. May
// run on any thread; it must only schedule work (e.g. wake an event loop).
using ChangeCallback = std::function<void()>;

// An open mailbox: a per-session view with its own message list, updated only
// by sync(). Changes made through this handle are applied to the view at once.
class Mailbox {
 public:
  virtual ~Mailbox() = default;

  virtual const std::string& name() const = 0;
  virtual bool read_only() const = 0;

  // Picks up changes made elsewhere (other handles, outside tools writing the
  // Maildir) and reports them. The view's UID order never changes.
  virtual Result<SyncResult> sync() = 0;

  // The view, in ascending UID order. Stable between calls of sync().
  virtual const std::vector<MessageMeta>& messages() const = 0;
  virtual MailboxStatus status() const = 0;

  virtual Result<std::unique_ptr<MessageStream>> open_message(uint32_t uid) = 0;

  // Flag changes for the given UIDs (UIDs not in the mailbox are skipped).
  // Returns the UIDs that were actually modified (their new meta is in the view).
  // With unchanged_since, UIDs that failed the test are put in *failed.
  virtual Result<std::vector<uint32_t>> store_flags(std::span<const uint32_t> uids,
                                                    const FlagChange& change,
                                                    std::vector<uint32_t>* failed = nullptr) = 0;
  virtual Result<void> set_hidden(std::span<const uint32_t> uids, bool hidden) = 0;

  // Removes messages permanently. UIDs not present are skipped.
  virtual Result<void> expunge(std::span<const uint32_t> uids) = 0;

  // Copies (or moves) messages into another mailbox of the same account.
  // Returns (source UID, destination UID) pairs in source UID order, and the
  // destination's UIDVALIDITY in *dest_uidvalidity.
  virtual Result<std::vector<std::pair<uint32_t, uint32_t>>> copy_to(
      std::span<const uint32_t> uids, const std::string& dest, bool move,
      uint32_t* dest_uidvalidity) = 0;

  // QRESYNC (RFC 7162): the UIDs expunged from this mailbox with a modseq
  // above `modseq`, ascending, leaving out UIDs still in this handle's view
  // (their expunge reaches the handle with its next sync). nullopt when the
  // backend's memory of expunges does not reach back that far (retention,
  // rebuilt index, lost memory file): the caller then works out the answer
  // from the UIDs that still exist. Every expunge takes a new modseq and
  // raises HIGHESTMODSEQ. The default remembers nothing.
  virtual Result<std::optional<std::vector<uint32_t>>> expunged_since(uint64_t modseq) {
    (void)modseq;
    return std::optional<std::vector<uint32_t>>();
  }

  // The header fields a client lists a mailbox by (is_cached_header_field),
  // for each UID in order: cached_header_fields() of the message's header.
  // nullopt where the caller has to read the message itself: a UID not in
  // the mailbox, a message that cannot be read, a header longer than
  // kMaxHeaderScan. The Maildir backend keeps them in a per-mailbox cache
  // file (docs/STORE.md, "Header cache"), so that a message's file is read
  // for them once; the default reads every message each time.
  virtual std::vector<std::optional<std::string>> cached_headers(std::span<const uint32_t> uids);

  // Whether a sync() now might find something: false only when the backend
  // looked at this mailbox on disk (through any handle) less than
  // `fresh_ms` milliseconds ago and this handle's view already holds what
  // it found. Never blocks and does no I/O, so that a front-end polling many
  // sessions of one mailbox (the IMAP IDLE safety net) can ask on its event
  // loop and let one check serve them all: a check that finds a change
  // calls every other handle's on_change callback. The default: always.
  virtual bool poll_due(int64_t fresh_ms) {
    (void)fresh_ms;
    return true;
  }

  // Registers interest in changes; replaces any earlier callback; empty clears.
  virtual void on_change(ChangeCallback cb) = 0;

  // Directories whose changes mean the mailbox may have changed outside this
  // process (another program delivering or renaming files): a front-end may
  // watch them (inotify) and sync when they change. Empty when the backend
  // has nothing to watch; on_change covers changes made in-process.
  virtual std::vector<std::string> watch_paths() const { return {}; }
};

struct QuotaUsage {
  uint64_t bytes = 0;
  uint64_t messages = 0;
};

// An account's quota limits as its policy sets them; 0 = no limit.
struct QuotaLimits {
  uint64_t bytes = 0;     // octets (CRLF sizes, like MessageMeta::size)
  uint64_t messages = 0;  // message count
  bool operator==(const QuotaLimits&) const = default;
};

class Account {
 public:
  virtual ~Account() = default;

  // Creates INBOX and the special-use mailboxes (with these names) if missing.
  virtual Result<void> ensure_defaults(const SpecialUseNames& names) = 0;

  virtual Result<std::vector<MailboxInfo>> list_mailboxes() = 0;
  virtual Result<std::unique_ptr<Mailbox>> open_mailbox(const std::string& name,
                                                        bool read_only = false) = 0;
  virtual Result<MailboxStatus> mailbox_status(const std::string& name) = 0;
  virtual Result<void> create_mailbox(const std::string& name,
                                      SpecialUse use = SpecialUse::kNone) = 0;
  virtual Result<void> delete_mailbox(const std::string& name) = 0;
  // Renaming INBOX moves its messages into the new mailbox and leaves INBOX empty.
  virtual Result<void> rename_mailbox(const std::string& from, const std::string& to) = 0;
  virtual Result<void> set_subscribed(const std::string& name, bool subscribed) = 0;
  // IMAP MAILBOXID (RFC 8474) of an existing mailbox: 1-255 characters of
  // [A-Za-z0-9_-], unique in the account over time. It stays with the mailbox
  // across renames (renaming INBOX: INBOX keeps its id, the new mailbox gets
  // a new one), a mailbox deleted and created again gets a new one, and it
  // survives the loss of every index file. kNotFound for a missing mailbox.
  virtual Result<std::string> mailbox_id(const std::string& name) {
    return core::fail(make_error(Errc::kNotFound, "mailbox ids not supported: " + name));
  }
  // Subscribed names, including ones that do not exist (IMAP allows that).
  virtual Result<std::vector<std::string>> subscriptions() = 0;

  // Starts adding a message to a mailbox. internal_date 0 = now.
  virtual Result<std::unique_ptr<AppendTx>> begin_append(const std::string& mailbox, uint32_t flags,
                                                         std::vector<std::string> keywords,
                                                         int64_t internal_date) = 0;

  // Octets (sum of MessageMeta::size) and messages in every mailbox of the
  // account. Cheap: the Maildir backend keeps a running total (maildirsize,
  // docs/QUOTA.md) and only walks the mailboxes when that is missing or stale.
  virtual Result<QuotaUsage> quota_usage() = 0;

  // Tells the backend the account's limits (from its policy) so that it can
  // record them with the usage: the Maildir backend writes them as the
  // definition line of maildirsize, and rewrites that file when they change.
  // The store does not enforce them; front-ends and delivery compare
  // quota_usage() with the policy. No I/O here: cheap to call before every
  // quota_usage(). Backends without such a file ignore it.
  virtual void set_quota_limits(const QuotaLimits& limits) { (void)limits; }

  // An exclusive, in-process named lease on this account (e.g. the POP3
  // maildrop lock). kLocked if another holder has it.
  virtual Result<std::unique_ptr<Lease>> try_lease(std::string_view name) = 0;

  // Directories whose changes mean the account's mailbox list or its
  // subscriptions may have changed (a mailbox created, deleted or renamed,
  // a subscription changed), by this process or another program: a
  // front-end may watch them (inotify) and look again when they change
  // (IMAP NOTIFY). Empty when the backend has nothing to watch.
  virtual std::vector<std::string> watch_paths() const { return {}; }
};

class Store {
 public:
  virtual ~Store() = default;
  // Opens (creating on first use) the account's storage. Thread-safe.
  virtual Result<std::shared_ptr<Account>> open_account(std::string_view domain,
                                                        std::string_view user) = 0;
};

struct MaildirOptions {
  // Root of each account, with {domain} and {user} substituted, e.g.
  // "var/mail/{domain}/{user}". Absolute.
  std::string path_template;
  // Where index files (a cache) live, absolute; e.g. "<state_dir>/index".
  std::string index_dir;
  bool fsync = true;  // tests may turn it off for speed; production never
  // Only Roost changes these Maildirs (store.exclusive): after its own
  // renames it trusts cur/'s timestamp instead of listing cur/ again. New
  // mail dropped into new/ by others is still found; a file renamed by an
  // outside tool is found when Roost next looks for it.
  bool exclusive = false;
  // How long expunged UIDs are remembered for QRESYNC (limits.expunge_memory);
  // 0 remembers nothing across reloads.
  int64_t expunge_memory_seconds = 30 * 86400;
};

std::unique_ptr<Store> make_maildir_store(const MaildirOptions& options);
std::unique_ptr<Store> make_memory_store();
// The same, remembering expunged UIDs this long (seconds) for QRESYNC.
std::unique_ptr<Store> make_memory_store(int64_t expunge_memory_seconds);

// --- Header cache ---------------------------------------------------------------

// A header is read this far, at most, to answer Mailbox::cached_headers().
inline constexpr size_t kMaxHeaderScan = 256 * 1024;

// Whether a header field (any case) is one Mailbox::cached_headers() keeps:
// those that build an IMAP envelope, thread and sort a mailbox and show a
// message list (Date, Subject, From, Sender, Reply-To, To, Cc, Bcc,
// In-Reply-To, Message-ID, References, Content-Type, priority and list
// fields). The list is in docs/STORE.md.
bool is_cached_header_field(std::string_view name);
// The lines of the cached fields of a header block, in their order, with
// their continuation lines, CRLF line ends and the closing blank line
// (core::filter_header_fields).
std::string cached_header_fields(std::string_view header_block);
// A message's header block from its start through the blank line that ends
// it (the whole message if none does); nullopt on a read error or when no
// blank line comes within `limit` bytes of a longer message.
std::optional<std::string> read_header_block(MessageStream& stream, size_t limit);

// Validates a UTF-8 mailbox name (no empty components, no "." or "..", no
// control characters, no leading/trailing '/', at most 255 bytes per component
// after encoding). Shared by every backend and by the front-ends.
Result<void> validate_mailbox_name(std::string_view name);
bool is_inbox(std::string_view name);

}  // namespace store
