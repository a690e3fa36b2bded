// Internal shared state of the Maildir backend: one MailboxState per mailbox
// directory per process, shared by every handle on it. Not part of the public
// interface (see store/store.h); the format is described in docs/STORE.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/maildir/expunged.h"
#include "store/maildir/fsutil.h"
#include "store/maildir/header_cache.h"
#include "store/maildir/index.h"
#include "store/maildir/names.h"
#include "store/store.h"

namespace store::maildir {

inline constexpr char kUidsFile[] = "roost-uids";
inline constexpr char kKeywordsFile[] = "roost-keywords";
inline constexpr char kLockFile[] = "roost-lock";
inline constexpr char kAccountLockFile[] = "roost-account-lock";
inline constexpr char kUidValidityFile[] = "roost-uidvalidity";
inline constexpr char kSpecialUseFile[] = "roost-special-use";
inline constexpr char kSubscriptionsFile[] = "subscriptions";
inline constexpr char kFolderMarker[] = "maildirfolder";
inline constexpr size_t kMaxKeywords = 26;
// An index that is dirty is rewritten at most this often while in use (and
// always when the last handle goes away).
inline constexpr int64_t kIndexWriteInterval = 30;

class MailboxState;
struct AccountShared;

// Per Store object: registries of live accounts, mailboxes and leases.
struct Shared {
  MaildirOptions opts;
  std::string host;
  std::mutex mu;
  std::unordered_map<std::string, std::weak_ptr<MailboxState>> states;     // by directory
  std::unordered_map<std::string, std::weak_ptr<AccountShared>> accounts;  // by root
  std::set<std::string> leases;
  size_t inserts = 0;
  // Mailboxes kept loaded after their last handle went away, most recently
  // closed first, each with what it costs against the mailbox cache limit
  // (store/maildir/cache.h). Guarded by `mu`.
  std::list<std::pair<std::shared_ptr<MailboxState>, size_t>> warm;
  std::unordered_map<const MailboxState*, decltype(warm)::iterator> warm_pos;
  size_t warm_cost = 0;

  // "<sec>.M<usec>P<pid>Q<n>.<host>": unique across processes and calls.
  std::string unique_base() const;
};

struct AccountShared {
  std::shared_ptr<Shared> shared;
  std::string root;
  std::string index_dir;
  std::mutex mu;  // account files: subscriptions, special-use, uidvalidity counter
  bool dirs_ok = false;
  // The account's quota limits when a front-end told us (Account::set_quota_limits);
  // they become maildirsize's definition line (store/maildir/quota.h).
  std::mutex quota_mu;
  std::optional<QuotaLimits> quota_limits;

  // A UIDVALIDITY never handed out before in this account. mu must NOT be held.
  Result<uint32_t> new_uidvalidity();
  Result<uint32_t> new_uidvalidity_locked();  // mu held
};

struct Rec {
  uint32_t uid = 0;
  uint32_t flags = 0;
  uint32_t kw = 0;  // keyword letter bits (a = bit 0)
  bool hidden = false;
  uint64_t size = 0;  // CRLF size
  int64_t date = 0;
  uint64_t modseq = 0;
  std::string file;  // name in cur/
  // Derived from the part of `file` before ':', which a flag change never
  // touches: worked out on first use and kept (a warm SELECT of a large
  // mailbox would otherwise hash every name again). Guarded by the state's mu.
  mutable std::string uidl, email_id;
  mutable int64_t save_date = -1;  // -1: not worked out yet
};

// A handle's callback. Notifiers call it under `mu`; a handle going away
// clears it under `mu`, so no call starts after the handle is destroyed.
struct HandleSlot {
  std::mutex mu;
  ChangeCallback cb;
};
using Listeners = std::vector<std::shared_ptr<HandleSlot>>;
void notify(const Listeners& listeners);

// What copy needs to know of a source message.
struct CopyItem {
  uint32_t src_uid = 0;
  std::string src_file;
  uint32_t flags = 0;
  std::vector<std::string> keywords;
  uint64_t size = 0;
  int64_t date = 0;
};

class MailboxState {
 public:
  MailboxState(std::shared_ptr<AccountShared> acct, std::string name, std::string folder);
  ~MailboxState();
  MailboxState(const MailboxState&) = delete;
  MailboxState& operator=(const MailboxState&) = delete;

  const MaildirOptions& opts() const { return acct->shared->opts; }
  std::string cur_dir() const { return dir + "/cur"; }
  std::string new_dir() const { return dir + "/new"; }
  std::string tmp_dir() const { return dir + "/tmp"; }
  std::string lock_path() const { return dir + "/" + kLockFile; }

  // Everything below with mu held.
  Result<void> ensure_loaded();
  // Picks up outside changes; true when the state changed.
  Result<bool> refresh(bool force_cur_scan);
  Result<bool> refresh_locked(FileLock& lock, bool force_cur_scan, bool rebuild);
  void maybe_write_index(bool force);
  ptrdiff_t find(uint32_t uid) const;
  MessageMeta meta(const Rec& r) const;
  MailboxStatus status_of() const;
  Listeners callbacks_except(const HandleSlot* self) const;
  std::vector<std::string> keyword_names(uint32_t bits) const;
  uint32_t known_keyword_mask() const;
  // Letters for the given keywords; with `create`, missing ones are assigned
  // (flock held) and the keywords file rewritten. kNoPermission past 26.
  Result<uint32_t> keyword_bits(const std::vector<std::string>& names, bool create);
  // Flock held. Called after this process changed cur/.
  void after_own_change(FileLock& lock, bool sync_dir);
  Result<uint32_t> alloc_uid();
  Result<std::vector<uint32_t>> expunge_uids(const std::vector<uint32_t>& uids);
  // Copies messages of another mailbox's cur/ into this one (takes mu itself).
  Result<std::vector<uint32_t>> copy_in(const std::vector<CopyItem>& items,
                                        const std::string& src_cur, const HandleSlot* self,
                                        uint32_t* uidvalidity, Listeners* cbs);
  Result<uint32_t> commit_append(const std::string& tmp_path, const std::string& base, uint64_t raw,
                                 uint64_t crlf, uint32_t flags,
                                 const std::vector<std::string>& keywords, Listeners* cbs);
  void mark_gone();

  std::shared_ptr<AccountShared> acct;
  std::string name;    // canonical API name
  std::string folder;  // "" for INBOX
  std::string dir;
  std::string index_path;

  std::mutex mu;
  std::atomic<bool> gone{false};
  bool loaded = false;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint32_t floor = 1;  // "next uid" of the roost-uids file
  uint64_t hms = 0;
  std::vector<Rec> recs;  // ascending uid
  std::array<std::string, kMaxKeywords> keywords;
  DirStamp cur_stamp;
  DirStamp new_stamp;
  bool new_known = false;
  uint64_t gen = 0;
  // When refresh() last brought the state up to date with the disk
  // (steady clock, milliseconds; 0 = never): Mailbox::poll_due.
  int64_t checked_ms = 0;
  // recs as MessageMeta at snapshot_gen, shared by every handle attached
  // since (a handle copies it only when it changes its own view): opening a
  // large mailbox nobody changed costs no per-message work. Kept while the
  // state is (cached or open); rebuilt by the first open after a change.
  std::shared_ptr<std::vector<MessageMeta>> snapshot;
  uint64_t snapshot_gen = 0;
  // With mu held: the snapshot at the current gen, built if needed.
  std::shared_ptr<std::vector<MessageMeta>> current_snapshot();
  bool dirty = false;
  int64_t last_index_write = 0;
  std::vector<std::shared_ptr<HandleSlot>> handles;
  ExpungeLog expunged;  // QRESYNC memory of expunged UIDs (roost-expunged)
  HeaderCache hcache;   // cached header fields (<folder>.hdr); its own lock, not mu

 private:
  Result<void> load_locked(FileLock& lock);
  Result<bool> scan_cur(bool rebuild, bool* touched_cur);
  Result<bool> scan_new(bool* touched_cur);
  bool fill_from_file(const std::string& path, const MessageName& m, Rec* r, uint64_t* raw);
  Result<std::optional<Rec>> number_into_cur(const std::string& path, MessageName m);
  uint64_t scan_modseq();
  void load_keywords();
  std::optional<std::pair<uint32_t, uint32_t>> read_uids(bool* damaged) const;
  Result<void> write_uids(uint32_t validity, uint32_t next);
  bool write_index_locked();

  uint64_t scan_ms_ = 0;  // modseq shared by every change found in one refresh
  // Set by scan_cur when files came or went (not just renames): if no other
  // Roost process changed cur/, an outside tool did, and maildirsize is stale.
  bool members_changed_ = false;
  uint64_t seq_ = 0;           // change sequence of the lock file last seen
  int64_t last_cur_scan_ = 0;  // when cur/ was last listed
  // MaildirOptions::exclusive: cur_stamp is unsettled only because of
  // Roost's own change, which needs no listing to be known.
  bool cur_own_ = false;
};

}  // namespace store::maildir
