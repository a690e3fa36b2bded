// Helpers of the IMAP command AST.
#include "imap/proto/command.h"

#include <algorithm>

namespace imap::proto {

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool Mailbox::is_inbox() const {
  return to_upper(name) == "INBOX";
}

std::vector<std::pair<uint32_t, uint32_t>> SequenceSet::resolve(uint32_t max) const {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (max == 0) return out;
  for (const SeqRange& r : ranges) {
    uint32_t lo = r.lo == kStar ? max : r.lo;
    uint32_t hi = r.hi == kStar ? max : r.hi;
    if (lo > hi) std::swap(lo, hi);
    if (lo > max) continue;
    if (hi > max) hi = max;
    out.emplace_back(lo, hi);
  }
  std::sort(out.begin(), out.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : out) {
    if (!merged.empty() && static_cast<uint64_t>(merged.back().second) + 1 >= r.first) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::vector<uint32_t> SequenceSet::expand(uint32_t max) const {
  std::vector<uint32_t> out;
  for (const auto& [lo, hi] : resolve(max)) {
    for (uint64_t n = lo; n <= hi; ++n) out.push_back(static_cast<uint32_t>(n));
  }
  return out;
}

bool SequenceSet::contains(uint32_t n, uint32_t max) const {
  if (n == 0) return false;
  for (const auto& [lo, hi] : resolve(max)) {
    if (n >= lo && n <= hi) return true;
  }
  return false;
}

}  // namespace imap::proto
