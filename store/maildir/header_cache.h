// The Maildir backend's header cache: per mailbox, one file beside its
// index ("<folder>.hdr" in the index directory) holding, for messages whose
// header was read once, the cached header fields (store::cached_header_fields)
// so that listing, sorting and searching a mailbox by those fields opens no
// message file again. A cache: never fsync'ed, rebuilt as it is used, and
// any damage (torn tail, bad checksum, other UIDVALIDITY) costs only the
// records it touches. Byte layout in docs/STORE.md ("Header cache").
//
// Thread-safe. Lookups and appends each open the file once per call, so
// that a mailbox kept loaded holds no descriptor between commands.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace store::maildir {

inline constexpr char kHeaderCacheMagic[8] = {'R', 'O', 'O', 'S', 'T', 'H', 'D', 'R'};
inline constexpr uint32_t kHeaderCacheVersion = 1;
inline constexpr size_t kHeaderCacheFileHeader = 16;    // magic, version, uidvalidity
inline constexpr size_t kHeaderCacheRecordHeader = 12;  // uid, length, crc32
// Blocks longer than this are not cached (the caller reads the message).
inline constexpr size_t kMaxCachedBlock = 64 * 1024;
// When the file is first read, records of UIDs no longer in the mailbox
// beyond this many and beyond the live ones get the file rewritten.
inline constexpr size_t kHeaderCacheSlack = 1024;

class HeaderCache {
 public:
  void set_path(std::string path) { path_ = std::move(path); }
  const std::string& path() const { return path_; }

  // Fills out[i] for each uids[i] the cache holds under `uidvalidity`.
  // `live` (ascending UIDs of the mailbox) decides, on the first call, which
  // records are dead weight.
  void lookup(uint32_t uidvalidity, std::span<const uint32_t> uids,
              std::vector<std::optional<std::string>>& out, const std::vector<MessageMeta>& live);
  // Adds blocks (uid, block) read for `uidvalidity`; a file of another
  // UIDVALIDITY is started afresh. Blocks over kMaxCachedBlock are skipped.
  void append(uint32_t uidvalidity, const std::vector<std::pair<uint32_t, std::string>>& blocks);
  // Forgets what is loaded (the file was removed or renamed).
  void reset();

  // Records known, for tests.
  size_t size();

 private:
  struct Slot {
    uint32_t uid = 0;
    uint32_t len = 0;  // of the block
    uint64_t off = 0;  // of the record header
  };
  // `live` null: no compaction.
  void load_locked(const std::vector<MessageMeta>* live);
  // Reads records from `from` to the end of the open file: adds them to
  // slots_ and sets end_ to the end of the last good one.
  void scan_locked(int fd, uint64_t from);
  void put_slot_locked(const Slot& s);
  void compact_locked(int fd, const std::vector<MessageMeta>& live);

  std::string path_;
  std::mutex mu_;
  bool loaded_ = false;
  uint32_t uidvalidity_ = 0;  // of the file; 0 = none yet
  uint64_t end_ = 0;          // end of the last good record
  std::vector<Slot> slots_;   // ascending uid, one per uid
};

}  // namespace store::maildir
