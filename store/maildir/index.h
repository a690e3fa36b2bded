// The per-mailbox index file of the Maildir backend: a cache of everything
// needed to open a mailbox without reading its message files. Byte layout in
// docs/STORE.md. Any damage is detected (magic, sizes, checksums) and the
// caller rebuilds from the directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace store::maildir {

inline constexpr char kIndexMagic[8] = {'R', 'O', 'O', 'S', 'T', 'I', 'D', 'X'};
inline constexpr uint32_t kIndexVersion = 1;
inline constexpr uint32_t kIndexHeaderSize = 128;
inline constexpr uint32_t kIndexRecordSize = 48;
inline constexpr uint32_t kRecordHidden = 1u << 31;  // in IndexRecord::flags

// Identity and modification time of a directory as seen by stat().
struct DirStamp {
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;
  // The stamp was taken at least kSettleSeconds after the mtime, so any later
  // change of the directory must give a different mtime.
  bool settled = false;

  bool same_dir_state(const DirStamp& o) const {
    return mtime_sec == o.mtime_sec && mtime_nsec == o.mtime_nsec && ino == o.ino && dev == o.dev;
  }
};

struct IndexHeader {
  uint32_t count = 0;
  uint32_t uidvalidity = 0;
  uint32_t uidnext = 1;
  uint64_t highest_modseq = 0;
  DirStamp cur;
  uint64_t total_size = 0;
  uint32_t unseen = 0;
  uint32_t deleted = 0;
  uint64_t lock_seq = 0;  // change sequence of the mailbox's lock file the index matches
};

struct IndexEntry {
  uint32_t uid = 0;
  uint32_t flags = 0;  // store::Flag bits
  bool hidden = false;
  uint32_t keyword_bits = 0;
  uint64_t size = 0;
  int64_t internal_date = 0;
  uint64_t modseq = 0;
  std::string file_name;  // name in cur/
};

// Serialises header + entries (entries ascending by uid). count/total_size/
// unseen/deleted in the header are computed from the entries.
std::string encode_index(const IndexHeader& header, const std::vector<IndexEntry>& entries);
// nullopt on any inconsistency.
std::optional<IndexHeader> decode_index_header(const std::string& bytes);
bool decode_index(const std::string& bytes, IndexHeader* header, std::vector<IndexEntry>* entries);

// Reads the first kIndexHeaderSize bytes of a file and checks them against the
// file's size. nullopt if missing or damaged.
std::optional<IndexHeader> read_index_header(const std::string& path);
// Whole file; false if missing or damaged.
bool read_index(const std::string& path, IndexHeader* header, std::vector<IndexEntry>* entries);
// Write to a temporary name in the same directory, then rename (creating the
// directory if needed). Not fsync'ed unless asked: the index is a cache.
bool write_index(const std::string& path, const IndexHeader& header,
                 const std::vector<IndexEntry>& entries, bool fsync_file);

}  // namespace store::maildir
