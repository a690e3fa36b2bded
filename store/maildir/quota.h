// The Maildir backend's running quota total: a Maildir++-compatible
// `maildirsize` file at the account root (format and rules in docs/QUOTA.md).
//
//   line 1:  the quota definition, "<bytes>S,<count>C" (0 = no limit)
//   then:    "<bytes> <count>" per change, signed; the usage is their sum
//
// Sizes are CRLF sizes (MessageMeta::size), not the on-disk S= sizes other
// Maildir++ software uses. Every change Roost makes to the messages of an
// account appends one line with one O_APPEND write while holding the account's
// quota lock shared; a recalculation (walk of every mailbox) holds it
// exclusively, so no change can fall between the walk and the new file.
// Lock order: quota lock, then a mailbox's lock file; never the other way
// round (a holder of a mailbox lock may only try the quota lock without
// waiting).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace store::maildir {

inline constexpr char kQuotaFile[] = "maildirsize";
inline constexpr char kQuotaLockFile[] = "roost-quota-lock";
// Maildir++: a maildirsize larger than this is recalculated.
inline constexpr size_t kQuotaFileMax = 5120;

struct QuotaFileContent {
  QuotaLimits definition;
  QuotaUsage usage;
};

// "<bytes>S,<count>C".
std::string format_quota_definition(const QuotaLimits& limits);
// Accepts the components in any order, either one missing (= 0), and
// Maildir++'s empty definition. nullopt when it is something else.
std::optional<QuotaLimits> parse_quota_definition(std::string_view line);
// Parses a whole maildirsize. An unterminated last line is a change still
// being written by another process and is left out. nullopt when damaged:
// no definition line, a line that is not two signed numbers, a negative sum.
std::optional<QuotaFileContent> parse_maildirsize(std::string_view text);
// One change line, "<bytes> <count>\n".
std::string format_quota_line(int64_t bytes, int64_t count);

// flock() on the account's quota lock file, held for the guard's lifetime.
class QuotaLock {
 public:
  QuotaLock() = default;
  QuotaLock(const QuotaLock&) = delete;
  QuotaLock& operator=(const QuotaLock&) = delete;
  ~QuotaLock();
  // Creates the lock file if needed. false when it could not be taken (errno
  // kept; EWOULDBLOCK when `wait` is false and someone holds it exclusively).
  bool lock(const std::string& root, bool exclusive, bool wait = true);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Appends one change line (one write, O_APPEND). The file is never created
// here: when it is missing the next reader recalculates. Call with the quota
// lock held shared. Best effort: a failed write makes the file damaged at
// worst, which readers repair.
void quota_record(const std::string& root, int64_t bytes, int64_t count);
// Makes the next reader recalculate (appends a line readers reject). With the
// quota lock held (either mode).
void quota_invalidate(const std::string& root);
// For callers holding a mailbox lock: tries the quota lock without waiting,
// then invalidates. When the lock is busy a recalculation is running; its
// walk happens under the mailbox locks, so it sees the change anyway unless
// it already passed this mailbox (a documented, tiny window).
void quota_invalidate_nowait(const std::string& root);

// Usage by walking every mailbox of the account (new/ and cur/ of INBOX and
// each folder, each under its mailbox lock): sizes from the W= field of the
// file names, else counted from the file. Call with the quota lock exclusive.
Result<QuotaUsage> quota_walk(const std::string& root);

// The account's usage from maildirsize, recalculating it (walk + atomic
// rewrite) when it is missing, damaged, over kQuotaFileMax, or when `limits`
// is known and differs from its definition. Without known limits a rewrite
// keeps the old definition ("0S,0C" if there was none).
Result<QuotaUsage> quota_read(const std::string& root, const std::optional<QuotaLimits>& limits,
                              bool fsync);

}  // namespace store::maildir
