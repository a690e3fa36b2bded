// \Recent bookkeeping for IMAP4rev1 (RFC 3501 2.3.2): a message is recent in
// exactly one session, the first to see it with the mailbox selected
// read-write. Roost keeps, per mailbox, the highest UID some session has
// claimed, in memory only: after a restart the first session to select a
// mailbox sees all of its messages as recent (RFC 3501 allows a server that
// cannot tell to err this way). EXAMINE shows recent messages without
// claiming them. IMAP4rev2 has no \Recent; its sessions never claim.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace imap {

// A set of UIDs kept as sorted, disjoint ranges: the \Recent messages of a
// session are usually one or a few runs, even in a 100,000-message mailbox.
class UidRanges {
 public:
  bool count(uint32_t uid) const;
  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Adds a UID; UIDs are usually added in ascending order (cheap then).
  void insert(uint32_t uid);
  void erase(uint32_t uid);
  void clear() {
    ranges_.clear();
    size_ = 0;
  }
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

 private:
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;  // [lo, hi], ascending
  uint32_t size_ = 0;
};

class RecentTracker {
 public:
  // Claims every UID above the mailbox's last claimed UID, up to and
  // including `up_to`; returns the first UID that is recent for the caller
  // (UIDs >= it are recent), or up_to + 1 when none.
  static uint32_t claim(const std::string& account, const std::string& mailbox,
                        uint32_t uidvalidity, uint32_t up_to);
  // The same without claiming (EXAMINE).
  static uint32_t peek(const std::string& account, const std::string& mailbox,
                       uint32_t uidvalidity);
};

}  // namespace imap
