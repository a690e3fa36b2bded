#include "imap/recent.h"

#include <map>
#include <mutex>
#include <tuple>

#include <algorithm>

namespace imap {

bool UidRanges::count(uint32_t uid) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), uid,
                             [](uint32_t u, const auto& r) { return u < r.first; });
  if (it == ranges_.begin()) return false;
  --it;
  return uid <= it->second;
}

void UidRanges::insert(uint32_t uid) {
  if (ranges_.empty() || uid > ranges_.back().second) {
    if (!ranges_.empty() && uid == ranges_.back().second + 1) {
      ranges_.back().second = uid;
    } else {
      ranges_.push_back({uid, uid});
    }
    ++size_;
    return;
  }
  if (count(uid)) return;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), uid,
                             [](uint32_t u, const auto& r) { return u < r.first; });
  // `it` is the first range starting above uid; try to extend its neighbours.
  bool joins_prev = it != ranges_.begin() && std::prev(it)->second + 1 == uid;
  bool joins_next = it != ranges_.end() && it->first == uid + 1;
  if (joins_prev && joins_next) {
    std::prev(it)->second = it->second;
    ranges_.erase(it);
  } else if (joins_prev) {
    std::prev(it)->second = uid;
  } else if (joins_next) {
    it->first = uid;
  } else {
    ranges_.insert(it, {uid, uid});
  }
  ++size_;
}

void UidRanges::erase(uint32_t uid) {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), uid,
                             [](uint32_t u, const auto& r) { return u < r.first; });
  if (it == ranges_.begin()) return;
  --it;
  if (uid > it->second) return;
  --size_;
  if (it->first == it->second) {
    ranges_.erase(it);
  } else if (uid == it->first) {
    ++it->first;
  } else if (uid == it->second) {
    --it->second;
  } else {
    auto hi = it->second;
    it->second = uid - 1;
    ranges_.insert(std::next(it), {uid + 1, hi});
  }
}

namespace {

struct Key {
  std::string account, mailbox;
  uint32_t uidvalidity;
  bool operator<(const Key& o) const {
    return std::tie(account, mailbox, uidvalidity) < std::tie(o.account, o.mailbox, o.uidvalidity);
  }
};

std::mutex mu;
std::map<Key, uint32_t>& claimed() {
  static std::map<Key, uint32_t> m;
  return m;
}

}  // namespace

uint32_t RecentTracker::claim(const std::string& account, const std::string& mailbox,
                              uint32_t uidvalidity, uint32_t up_to) {
  std::lock_guard lock(mu);
  uint32_t& last = claimed()[Key{account, mailbox, uidvalidity}];
  uint32_t first = last + 1;
  if (up_to > last) last = up_to;
  return first;
}

uint32_t RecentTracker::peek(const std::string& account, const std::string& mailbox,
                             uint32_t uidvalidity) {
  std::lock_guard lock(mu);
  auto it = claimed().find(Key{account, mailbox, uidvalidity});
  return it == claimed().end() ? 1 : it->second + 1;
}

}  // namespace imap
