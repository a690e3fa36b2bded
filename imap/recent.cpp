#include "imap/recent.h"

#include <map>
#include <mutex>
#include <tuple>

namespace imap {

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
