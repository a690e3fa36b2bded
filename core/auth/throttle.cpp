// Login throttling: per (IP, user) pair and per IP failure records, each kept
// in least-recently-failed order so that forgetting and eviction take the
// oldest first.
//
// Pair delay: n failures -> first_delay * 2^(n-1), capped at max_delay; the
// pair is forgotten forget_after after its last failure, and a success
// clears it.
// IP delay: once an IP has failures_per_ip failures (any user) within the
// last forget_after, every attempt from it waits first_delay, doubling for
// each further failures_per_ip failures in that window, capped at max_delay.
// The window is kept as kSlots counters of forget_after / kSlots each, so it
// slides with that granularity and costs a fixed amount per IP.
// An attempt waits the larger of the two. Nothing is ever refused: a delay is
// the only penalty, so honest users behind a shared address still get in.
// failures_per_ip == 0 turns the IP rule off.
#include "core/auth/throttle.h"

#include <algorithm>
#include <array>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/util/ascii.h"

namespace core::auth {
namespace {

using Ms = std::chrono::milliseconds;
using TimePoint = Throttle::Clock::time_point;

constexpr int64_t kSlots = 8;

// Failures of one (IP, user) pair since it was last quiet for forget_after.
struct PairRecord {
  uint64_t failures = 0;
  TimePoint last;

  void add(TimePoint now, Ms /*forget_after*/) {
    ++failures;
    last = now;
  }
};

// Failures of one IP in a sliding window of forget_after.
struct IpRecord {
  TimePoint last;
  int64_t slot_ms = 0;  // width of one slot when the counters were written
  int64_t head = 0;     // slot number of the newest counter
  std::array<uint32_t, kSlots> counts{};

  static int64_t width(Ms forget_after) {
    return std::max<int64_t>(forget_after.count() / kSlots, 1);
  }
  static int64_t slot_of(TimePoint t, int64_t w) {
    return std::chrono::duration_cast<Ms>(t.time_since_epoch()).count() / w;
  }

  void add(TimePoint now, Ms forget_after) {
    const int64_t w = width(forget_after);
    const int64_t slot = slot_of(now, w);
    if (w != slot_ms || slot - head >= kSlots || slot < head - kSlots) {
      counts.fill(0);
      slot_ms = w;
      head = slot;
    } else {
      for (int64_t s = head + 1; s <= slot; ++s) counts[static_cast<size_t>(s % kSlots)] = 0;
      head = std::max(head, slot);
    }
    const size_t i = static_cast<size_t>(slot % kSlots);
    if (counts[i] < UINT32_MAX) ++counts[i];
    last = std::max(last, now);
  }

  uint64_t count(TimePoint now, Ms forget_after) const {
    const int64_t w = width(forget_after);
    if (w != slot_ms) return 0;
    const int64_t slot = slot_of(now, w);
    uint64_t n = 0;
    for (int64_t s = std::max(head - kSlots + 1, slot - kSlots + 1); s <= head; ++s) {
      n += counts[static_cast<size_t>(s % kSlots)];
    }
    return n;
  }
};

template <class R>
bool stale(const R& r, TimePoint now, Ms forget_after) {
  return std::chrono::duration_cast<Ms>(now - r.last) >= forget_after;
}

// A map whose entries are also kept in the order of their last failure.
template <class R>
class RecordTable {
 public:
  // The record for key, or null (a stale record is dropped first).
  const R* find(const std::string& key, TimePoint now, Ms forget_after) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (stale(it->second->second, now, forget_after)) {
      order_.erase(it->second);
      index_.erase(it);
      return nullptr;
    }
    return &it->second->second;
  }

  void add_failure(const std::string& key, TimePoint now, Ms forget_after) {
    auto it = index_.find(key);
    if (it != index_.end() && stale(it->second->second, now, forget_after)) {
      order_.erase(it->second);
      index_.erase(it);
      it = index_.end();
    }
    if (it == index_.end()) {
      order_.emplace_back(key, R{});
      it = index_.emplace(key, std::prev(order_.end())).first;
    } else {
      order_.splice(order_.end(), order_, it->second);  // now the most recent
    }
    it->second->second.add(now, forget_after);
  }

  void erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  // Drops records older than forget_after, then the oldest beyond max.
  void trim(TimePoint now, Ms forget_after, size_t max) {
    while (!order_.empty() && stale(order_.front().second, now, forget_after)) pop_front();
    bound(max);
  }

  // Drops the oldest records beyond max (at least one is kept).
  void bound(size_t max) {
    while (order_.size() > std::max<size_t>(max, 1)) pop_front();
  }

 private:
  void pop_front() {
    index_.erase(order_.front().first);
    order_.pop_front();
  }

  using Entry = std::pair<std::string, R>;
  std::list<Entry> order_;  // least recent failure first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

std::string pair_key(std::string_view ip, std::string_view user) {
  std::string k(ip);
  k.push_back('\0');
  k += core::ascii_lower(user);
  return k;
}

// first * 2^steps, capped at max.
Ms grow(Ms first, uint64_t steps, Ms max) {
  if (first <= Ms::zero()) return Ms::zero();
  Ms d = std::min(first, max);
  for (uint64_t i = 0; i < steps && d < max; ++i) d = std::min(d * 2, max);
  return d;
}

}  // namespace

struct Throttle::Impl {
  std::mutex mu;
  Settings settings;
  RecordTable<PairRecord> pairs;
  RecordTable<IpRecord> ips;
};

Throttle::Throttle(Settings s) : impl_(new Impl) {
  impl_->settings = s;
}

Throttle::~Throttle() {
  delete impl_;
}

std::chrono::milliseconds Throttle::delay_before(std::string_view ip, std::string_view user,
                                                 Clock::time_point now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Settings& s = impl_->settings;
  Ms delay = Ms::zero();
  if (const PairRecord* r = impl_->pairs.find(pair_key(ip, user), now, s.forget_after)) {
    if (r->failures > 0) delay = grow(s.first_delay, r->failures - 1, s.max_delay);
  }
  if (s.failures_per_ip > 0) {
    if (const IpRecord* r = impl_->ips.find(std::string(ip), now, s.forget_after)) {
      const uint64_t n = r->count(now, s.forget_after);
      if (n >= s.failures_per_ip) {
        const uint64_t steps = (n - s.failures_per_ip) / s.failures_per_ip;
        delay = std::max(delay, grow(s.first_delay, steps, s.max_delay));
      }
    }
  }
  return delay;
}

void Throttle::record_failure(std::string_view ip, std::string_view user, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Settings& s = impl_->settings;
  impl_->pairs.add_failure(pair_key(ip, user), now, s.forget_after);
  impl_->ips.add_failure(std::string(ip), now, s.forget_after);
  impl_->pairs.trim(now, s.forget_after, s.max_entries);
  impl_->ips.trim(now, s.forget_after, s.max_entries);
}

void Throttle::record_success(std::string_view ip, std::string_view user) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->pairs.erase(pair_key(ip, user));
}

void Throttle::update_settings(Settings s) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->settings = s;
  // Only the size bound applies at once; stale records go at the next failure.
  // A changed forget_after restarts the per-IP windows.
  impl_->pairs.bound(s.max_entries);
  impl_->ips.bound(s.max_entries);
}

}  // namespace core::auth
