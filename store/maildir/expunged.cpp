#include "store/maildir/expunged.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "store/maildir/fsutil.h"

namespace store::maildir {

namespace {

constexpr std::string_view kMagic = "roost-expunged 1 ";

bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// Splits "a b c" at single spaces into exactly n fields.
bool fields(std::string_view line, size_t n, std::string_view* out) {
  for (size_t i = 0; i < n; ++i) {
    size_t sp = i + 1 < n ? line.find(' ') : std::string_view::npos;
    if (i + 1 < n && sp == std::string_view::npos) return false;
    out[i] = line.substr(0, sp);
    if (out[i].empty()) return false;
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  }
  return true;
}

}  // namespace

std::string encode_uid_list(const std::vector<uint32_t>& uids) {
  std::string out;
  size_t i = 0;
  while (i < uids.size()) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) {
      out += ':';
      out += std::to_string(uids[j]);
    }
    i = j + 1;
  }
  return out;
}

bool decode_uid_list(std::string_view text, std::vector<uint32_t>* uids) {
  uids->clear();
  if (text.empty()) return false;
  uint32_t last = 0;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return false;  // trailing comma
    size_t colon = part.find(':');
    uint64_t lo = 0, hi = 0;
    if (!parse_u64(part.substr(0, colon), &lo)) return false;
    hi = lo;
    if (colon != std::string_view::npos && !parse_u64(part.substr(colon + 1), &hi)) return false;
    if (lo == 0 || hi < lo || hi > 0xFFFFFFFFull || lo <= last) return false;
    if (hi - lo >= kExpungedUidsMax || uids->size() + (hi - lo) >= kExpungedUidsMax) return false;
    for (uint64_t u = lo; u <= hi; ++u) uids->push_back(static_cast<uint32_t>(u));
    last = static_cast<uint32_t>(hi);
  }
  return true;
}

std::string encode_expunged_line(const ExpungeRecord& r) {
  return std::to_string(r.modseq) + " " + std::to_string(r.time) + " " + encode_uid_list(r.uids) +
         "\n";
}

std::string encode_expunged_file(uint32_t uidvalidity, uint64_t floor,
                                 const std::vector<ExpungeRecord>& records) {
  std::string out(kMagic);
  out += std::to_string(uidvalidity) + " " + std::to_string(floor) + "\n";
  for (const auto& r : records) out += encode_expunged_line(r);
  return out;
}

bool decode_expunged_file(const std::string& bytes, uint32_t* uidvalidity, uint64_t* floor,
                          std::vector<ExpungeRecord>* records) {
  records->clear();
  std::string_view v = bytes;
  if (v.substr(0, kMagic.size()) != kMagic) return false;
  v.remove_prefix(kMagic.size());
  bool first = true;
  size_t total = 0;
  while (!v.empty()) {
    size_t nl = v.find('\n');
    if (nl == std::string_view::npos) return false;  // cut short
    std::string_view line = v.substr(0, nl);
    v.remove_prefix(nl + 1);
    if (first) {
      first = false;
      std::string_view f[2];
      uint64_t a = 0, b = 0;
      if (!fields(line, 2, f) || !parse_u64(f[0], &a) || !parse_u64(f[1], &b)) return false;
      if (a == 0 || a > 0xFFFFFFFFull) return false;
      *uidvalidity = static_cast<uint32_t>(a);
      *floor = b;
      continue;
    }
    std::string_view f[3];
    ExpungeRecord r;
    uint64_t t = 0;
    if (!fields(line, 3, f) || !parse_u64(f[0], &r.modseq) || !parse_u64(f[1], &t) ||
        r.modseq == 0 || t > static_cast<uint64_t>(INT64_MAX) || !decode_uid_list(f[2], &r.uids)) {
      return false;
    }
    r.time = static_cast<int64_t>(t);
    total += r.uids.size();
    if (total > kExpungedUidsMax) return false;
    records->push_back(std::move(r));
  }
  return !first;
}

void ExpungeLog::load(uint32_t uidvalidity, uint64_t hms, int64_t now) {
  uidvalidity_ = uidvalidity;
  auto bytes = read_small_file(path_, kExpungedFileMax);
  uint32_t v = 0;
  uint64_t fl = 0;
  std::vector<ExpungeRecord> recs;
  if (!bytes || !decode_expunged_file(*bytes, &v, &fl, &recs) || v != uidvalidity) {
    // Missing, damaged, cut short or left from an earlier UIDVALIDITY: what
    // was expunged before now is unknowable.
    reset(uidvalidity, hms);
    return;
  }
  floor_ = fl;
  records_ = std::move(recs);
  file_lines_ = records_.size();
  if (expire(now)) rewrite();
}

void ExpungeLog::reset(uint32_t uidvalidity, uint64_t hms) {
  uidvalidity_ = uidvalidity;
  floor_ = hms;
  records_.clear();
  rewrite();
}

bool ExpungeLog::expire(int64_t now) {
  bool dropped = false;
  std::vector<ExpungeRecord> kept;
  kept.reserve(records_.size());
  for (auto& r : records_) {
    if (retention_ <= 0 || r.time < now - retention_) {
      floor_ = std::max(floor_, r.modseq);
      dropped = true;
    } else {
      kept.push_back(std::move(r));
    }
  }
  records_ = std::move(kept);
  return dropped;
}

bool ExpungeLog::rewrite() {
  auto w = write_file_atomic(path_, encode_expunged_file(uidvalidity_, floor_, records_), fsync_);
  file_lines_ = records_.size();
  // A file we could not bring up to date must not survive to give a wrong
  // answer later: without it, the next load starts from the floor.
  if (!w) ::unlink(path_.c_str());
  return static_cast<bool>(w);
}

void ExpungeLog::record(std::vector<uint32_t> uids, uint64_t modseq, int64_t now) {
  if (uids.empty()) return;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  ExpungeRecord rec;
  rec.modseq = modseq;
  rec.time = now;
  rec.uids = std::move(uids);
  std::string line = encode_expunged_line(rec);
  records_.push_back(std::move(rec));
  bool expired = expire(now);
  if (expired && file_lines_ + 1 >= records_.size() + kExpungedCompactSlack) {
    // Compact: keep what other processes appended since we read the file.
    auto bytes = read_small_file(path_, kExpungedFileMax);
    uint32_t v = 0;
    uint64_t fl = 0;
    std::vector<ExpungeRecord> on_disk;
    if (bytes && decode_expunged_file(*bytes, &v, &fl, &on_disk) && v == uidvalidity_) {
      floor_ = std::max(floor_, fl);
      const ExpungeRecord* mine = records_.empty() ? nullptr : &records_.back();
      if (mine && mine->modseq == modseq && mine->time == now) on_disk.push_back(*mine);
      records_ = std::move(on_disk);
      expire(now);
    }
    rewrite();
    return;
  }
  if (retention_ <= 0) {
    rewrite();  // nothing is kept: the file only carries the floor
    return;
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  bool ok = fd >= 0 && write_all_fd(fd, line.data(), line.size()) && (!fsync_ || ::fsync(fd) == 0);
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  if (!ok) {
    // Missing (removed while we run) or not writable: the memory we hold is
    // complete since our floor, so write it all.
    rewrite();
    return;
  }
  ++file_lines_;
}

std::optional<std::vector<uint32_t>> ExpungeLog::since(uint64_t modseq) const {
  if (modseq < floor_) return std::nullopt;
  std::vector<uint32_t> out;
  for (const auto& r : records_) {
    if (r.modseq > modseq) out.insert(out.end(), r.uids.begin(), r.uids.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

uint64_t ExpungeLog::max_modseq() const {
  uint64_t m = floor_;
  for (const auto& r : records_) m = std::max(m, r.modseq);
  return m;
}

}  // namespace store::maildir
