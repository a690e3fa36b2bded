// The Maildir backend's memory of expunged messages (QRESYNC, RFC 7162): which
// UIDs left a mailbox, and at which modseq, kept in the per-mailbox file
// "roost-expunged" next to cur/. The format, the retention and what happens
// after a crash are in docs/STORE.md ("Expunge memory").
//
// Not thread-safe: MailboxState owns one and uses it with its mutex and the
// mailbox's flock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace store::maildir {

inline constexpr char kExpungedFile[] = "roost-expunged";
// A file larger than this is treated as damaged (the floor rises instead).
inline constexpr size_t kExpungedFileMax = 64u << 20;
// The file is rewritten without its expired lines once it holds this many
// more lines than are still remembered.
inline constexpr size_t kExpungedCompactSlack = 256;
// More UIDs than this in one file is damage (Roost never writes that many).
inline constexpr size_t kExpungedUidsMax = size_t{1} << 24;

struct ExpungeRecord {
  uint64_t modseq = 0;
  int64_t time = 0;            // seconds since the epoch
  std::vector<uint32_t> uids;  // ascending, unique
};

// Encodes a UID list (ascending, unique) as "1:3,7,9:12"; decodes one (false
// on any syntax error, a 0, a descending range or an overlap).
std::string encode_uid_list(const std::vector<uint32_t>& uids);
bool decode_uid_list(std::string_view text, std::vector<uint32_t>* uids);

// Whole-file codec. decode_expunged_file is false on any damage, including a
// last line without its newline (an append cut short).
std::string encode_expunged_file(uint32_t uidvalidity, uint64_t floor,
                                 const std::vector<ExpungeRecord>& records);
bool decode_expunged_file(const std::string& bytes, uint32_t* uidvalidity, uint64_t* floor,
                          std::vector<ExpungeRecord>* records);
std::string encode_expunged_line(const ExpungeRecord& record);

class ExpungeLog {
 public:
  // `retention_seconds` <= 0 keeps nothing beyond the running process's own
  // records of the current call (every load raises the floor).
  void configure(std::string dir, bool fsync, int64_t retention_seconds) {
    path_ = std::move(dir) + "/" + kExpungedFile;
    fsync_ = fsync;
    retention_ = retention_seconds;
  }

  // Reads the file for a mailbox of this UIDVALIDITY whose HIGHESTMODSEQ is
  // `hms`. Missing, damaged, cut short or of another UIDVALIDITY: the memory
  // starts empty with floor = hms and the file is rewritten. Expired records
  // are dropped (floor raised). Lock held.
  void load(uint32_t uidvalidity, uint64_t hms, int64_t now);
  // Forgets everything: floor = hms (rebuild without an index, new
  // UIDVALIDITY). Rewrites the file. Lock held.
  void reset(uint32_t uidvalidity, uint64_t hms);
  // Remembers UIDs expunged at `modseq` and appends them to the file
  // (compacting it when it has grown). Lock held.
  void record(std::vector<uint32_t> uids, uint64_t modseq, int64_t now);

  // UIDs expunged with a modseq above `modseq`, ascending and unique; nullopt
  // when `modseq` is below the floor (the memory does not reach back).
  std::optional<std::vector<uint32_t>> since(uint64_t modseq) const;
  uint64_t floor() const { return floor_; }
  // The highest modseq on record (0 when none).
  uint64_t max_modseq() const;
  const std::vector<ExpungeRecord>& records() const { return records_; }

 private:
  // Drops records older than the retention; true when something went.
  bool expire(int64_t now);
  bool rewrite();

  std::string path_;
  bool fsync_ = true;
  int64_t retention_ = 30 * 86400;
  uint32_t uidvalidity_ = 0;
  uint64_t floor_ = 0;
  std::vector<ExpungeRecord> records_;
  size_t file_lines_ = 0;  // record lines in the file as we last wrote or read it
};

}  // namespace store::maildir
