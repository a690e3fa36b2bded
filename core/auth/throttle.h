// Brute-force throttling for logins. Pure logic with time passed in, so tests
// need no clock. Thread-safe.
//
// Failures slow down their (IP, user) pair with a growing delay (first delay,
// doubling, capped). Past `failures_per_ip` recent failures from one IP (any
// user), every new login attempt from that IP is delayed too, which slows a
// password sprayer without locking out the honest users behind a carrier NAT:
// they see a delay, never a refusal. A success clears the pair's record.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace core::auth {

class Throttle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Settings {
    std::chrono::milliseconds first_delay{2000};
    std::chrono::milliseconds max_delay{15000};
    uint32_t failures_per_ip = 20;
    std::chrono::milliseconds forget_after{std::chrono::minutes(15)};
    size_t max_entries = 100000;  // memory bound; oldest entries evicted
  };

  explicit Throttle(Settings s);
  ~Throttle();
  Throttle(const Throttle&) = delete;
  Throttle& operator=(const Throttle&) = delete;

  // How long to wait before answering a login attempt (success or failure)
  // from ip for user, given the failures so far. Zero when nothing is recorded.
  std::chrono::milliseconds delay_before(std::string_view ip, std::string_view user,
                                         Clock::time_point now);
  void record_failure(std::string_view ip, std::string_view user, Clock::time_point now);
  void record_success(std::string_view ip, std::string_view user);
  void update_settings(Settings s);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace core::auth
