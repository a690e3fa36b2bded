// Login throttling with time passed in.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "core/auth/throttle.h"

using core::auth::Throttle;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const Throttle::Clock::time_point t0 = Throttle::Clock::time_point() + std::chrono::hours(1000);

}  // namespace

TEST_CASE("throttle: pair delays double from the first delay and stop at the cap") {
  Throttle th(Throttle::Settings{});
  auto now = t0;
  CHECK(th.delay_before("192.0.2.1", "alice@example.org", now) == milliseconds(0));
  const long expect[] = {2000, 4000, 8000, 15000, 15000, 15000};
  for (long e : expect) {
    th.record_failure("192.0.2.1", "alice@example.org", now);
    now += seconds(1);
    CHECK(th.delay_before("192.0.2.1", "alice@example.org", now) == milliseconds(e));
  }
  // Other pairs are untouched (the IP is far from its threshold).
  CHECK(th.delay_before("192.0.2.1", "bob@example.org", now) == milliseconds(0));
  CHECK(th.delay_before("192.0.2.2", "alice@example.org", now) == milliseconds(0));
}

TEST_CASE("throttle: the user part is case-insensitive") {
  Throttle th(Throttle::Settings{});
  th.record_failure("192.0.2.1", "Alice@Example.ORG", t0);
  CHECK(th.delay_before("192.0.2.1", "alice@example.org", t0) == milliseconds(2000));
  th.record_failure("192.0.2.1", "ALICE@EXAMPLE.ORG", t0);
  CHECK(th.delay_before("192.0.2.1", "alice@example.org", t0) == milliseconds(4000));
}

TEST_CASE("throttle: a success clears the pair") {
  Throttle th(Throttle::Settings{});
  for (int i = 0; i < 3; ++i) th.record_failure("192.0.2.1", "alice", t0);
  CHECK(th.delay_before("192.0.2.1", "alice", t0) == milliseconds(8000));
  th.record_success("192.0.2.1", "ALICE");
  CHECK(th.delay_before("192.0.2.1", "alice", t0) == milliseconds(0));
  th.record_failure("192.0.2.1", "alice", t0);
  CHECK(th.delay_before("192.0.2.1", "alice", t0) == milliseconds(2000));
  // Success for a pair never seen is harmless.
  th.record_success("198.51.100.7", "nobody");
}

TEST_CASE("throttle: custom settings") {
  Throttle::Settings s;
  s.first_delay = milliseconds(100);
  s.max_delay = milliseconds(250);
  Throttle th(s);
  th.record_failure("::1", "u", t0);
  CHECK(th.delay_before("::1", "u", t0) == milliseconds(100));
  th.record_failure("::1", "u", t0);
  CHECK(th.delay_before("::1", "u", t0) == milliseconds(200));
  th.record_failure("::1", "u", t0);
  CHECK(th.delay_before("::1", "u", t0) == milliseconds(250));
  for (int i = 0; i < 100; ++i) th.record_failure("::1", "u", t0);  // no overflow
  CHECK(th.delay_before("::1", "u", t0) == milliseconds(250));

  s.first_delay = milliseconds(0);
  th.update_settings(s);
  CHECK(th.delay_before("::1", "u", t0) == milliseconds(0));
}

TEST_CASE("throttle: an IP over its failure threshold slows every attempt from it") {
  Throttle::Settings s;
  s.failures_per_ip = 5;
  Throttle th(s);
  auto now = t0;
  // A sprayer tries one password for many users: each pair fails once.
  for (int i = 0; i < 4; ++i) th.record_failure("203.0.113.9", "user" + std::to_string(i), now);
  CHECK(th.delay_before("203.0.113.9", "fresh", now) == milliseconds(0));
  th.record_failure("203.0.113.9", "user4", now);
  CHECK(th.delay_before("203.0.113.9", "fresh", now) == milliseconds(2000));
  // Another IP is not affected.
  CHECK(th.delay_before("203.0.113.10", "fresh", now) == milliseconds(0));
  // Grows with further failures: doubling per further failures_per_ip failures.
  for (int i = 5; i < 10; ++i) th.record_failure("203.0.113.9", "user" + std::to_string(i), now);
  CHECK(th.delay_before("203.0.113.9", "fresh", now) == milliseconds(4000));
  for (int i = 10; i < 100; ++i) th.record_failure("203.0.113.9", "user" + std::to_string(i), now);
  CHECK(th.delay_before("203.0.113.9", "fresh", now) == milliseconds(15000));
  // A pair delay larger than the IP delay wins, and vice versa.
  Throttle th2(s);
  for (int i = 0; i < 4; ++i) th2.record_failure("203.0.113.9", "victim", now);
  CHECK(th2.delay_before("203.0.113.9", "victim", now) == milliseconds(15000));
  CHECK(th2.delay_before("203.0.113.9", "other", now) == milliseconds(0));
  th2.record_failure("203.0.113.9", "victim", now);
  CHECK(th2.delay_before("203.0.113.9", "other", now) == milliseconds(2000));
}

TEST_CASE("throttle: failures_per_ip = 0 turns the IP rule off") {
  Throttle::Settings s;
  s.failures_per_ip = 0;
  Throttle th(s);
  for (int i = 0; i < 50; ++i) th.record_failure("203.0.113.9", "u" + std::to_string(i), t0);
  CHECK(th.delay_before("203.0.113.9", "fresh", t0) == milliseconds(0));
}

TEST_CASE("throttle: honest users behind a NAT with an attacker see a bounded delay") {
  Throttle th(Throttle::Settings{});  // defaults: 20 failures per IP
  const std::string nat = "100.64.0.1";
  auto now = t0;
  // One attacker hammers one account for an hour, 1 try every 5 seconds.
  for (int i = 0; i < 720; ++i) {
    const auto d = th.delay_before(nat, "ceo@example.org", now);
    CHECK(d <= seconds(15));
    now += std::max<Throttle::Clock::duration>(d, seconds(5));
    th.record_failure(nat, "ceo@example.org", now);
  }
  // 500 honest users log in from the same address, each with the right
  // password: never more than the cap, never refused, and their own record
  // stays clean.
  for (int u = 0; u < 500; ++u) {
    const std::string user = "user" + std::to_string(u) + "@example.org";
    const auto d = th.delay_before(nat, user, now);
    CHECK(d > milliseconds(0));
    CHECK(d <= seconds(15));
    th.record_success(nat, user);
  }
  // A typo by one of them adds only its own pair's small delay.
  th.record_failure(nat, "user1@example.org", now);
  CHECK(th.delay_before(nat, "user1@example.org", now) <= seconds(15));
  // When the attacker stops, the IP is forgiven after forget_after.
  now += minutes(15);
  CHECK(th.delay_before(nat, "user2@example.org", now) == milliseconds(0));
  CHECK(th.delay_before(nat, "ceo@example.org", now) == milliseconds(0));
}

TEST_CASE("throttle: records are forgotten after forget_after") {
  Throttle::Settings s;
  s.forget_after = minutes(15);
  s.failures_per_ip = 3;
  Throttle th(s);
  for (int i = 0; i < 3; ++i) th.record_failure("192.0.2.1", "alice", t0);
  CHECK(th.delay_before("192.0.2.1", "alice", t0 + minutes(14)) == milliseconds(8000));
  CHECK(th.delay_before("192.0.2.1", "bob", t0 + minutes(14)) == milliseconds(2000));
  CHECK(th.delay_before("192.0.2.1", "alice", t0 + minutes(15)) == milliseconds(0));
  CHECK(th.delay_before("192.0.2.1", "bob", t0 + minutes(15)) == milliseconds(0));
  // A new failure after forgetting starts again from the first delay.
  th.record_failure("192.0.2.1", "alice", t0 + minutes(16));
  CHECK(th.delay_before("192.0.2.1", "alice", t0 + minutes(16)) == milliseconds(2000));
  CHECK(th.delay_before("192.0.2.1", "bob", t0 + minutes(16)) == milliseconds(0));
}

TEST_CASE("throttle: failures keep a record alive; forgetting counts from the last one") {
  Throttle th(Throttle::Settings{});
  auto now = t0;
  for (int i = 0; i < 4; ++i) {
    th.record_failure("192.0.2.1", "alice", now);
    now += minutes(10);
  }
  CHECK(th.delay_before("192.0.2.1", "alice", now - minutes(10) + minutes(14)) ==
        milliseconds(15000));
}

TEST_CASE("throttle: the number of records is bounded, oldest evicted first") {
  Throttle::Settings s;
  s.max_entries = 3;
  s.failures_per_ip = 1000;
  Throttle th(s);
  auto now = t0;
  for (int i = 0; i < 4; ++i) {
    th.record_failure("192.0.2." + std::to_string(i), "u", now);
    now += seconds(1);
  }
  CHECK(th.delay_before("192.0.2.0", "u", now) == milliseconds(0));  // evicted
  CHECK(th.delay_before("192.0.2.1", "u", now) == milliseconds(2000));
  CHECK(th.delay_before("192.0.2.2", "u", now) == milliseconds(2000));
  CHECK(th.delay_before("192.0.2.3", "u", now) == milliseconds(2000));
  // A new failure refreshes a record, so the least recent one goes next.
  th.record_failure("192.0.2.1", "u", now);
  th.record_failure("192.0.2.9", "u", now);
  CHECK(th.delay_before("192.0.2.2", "u", now) == milliseconds(0));
  CHECK(th.delay_before("192.0.2.1", "u", now) == milliseconds(4000));
  // Shrinking the bound evicts at once.
  s.max_entries = 1;
  th.update_settings(s);
  CHECK(th.delay_before("192.0.2.3", "u", now) == milliseconds(0));
  CHECK(th.delay_before("192.0.2.1", "u", now) == milliseconds(0));
  CHECK(th.delay_before("192.0.2.9", "u", now) == milliseconds(2000));
}

TEST_CASE("throttle: many records stay bounded and cheap") {
  Throttle::Settings s;
  s.max_entries = 1000;
  Throttle th(s);
  for (int i = 0; i < 20000; ++i) {
    th.record_failure("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "u", t0);
  }
  int remembered = 0;
  for (int i = 0; i < 20000; ++i) {
    if (th.delay_before("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "u", t0)
            .count() > 0) {
      ++remembered;
    }
  }
  CHECK(remembered == 1000);
}

TEST_CASE("throttle: concurrent use") {
  Throttle th(Throttle::Settings{});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&th, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string ip = "192.0.2." + std::to_string(i % 7);
        const std::string user = "u" + std::to_string((i + t) % 13);
        th.record_failure(ip, user, t0);
        (void)th.delay_before(ip, user, t0);
        if (i % 5 == 0) th.record_success(ip, user);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(th.delay_before("192.0.2.1", "u1", t0) <= seconds(15));
}

TEST_CASE("throttle: the IP threshold counts failures within forget_after only") {
  Throttle::Settings s;
  s.failures_per_ip = 5;
  s.forget_after = minutes(15);
  Throttle th(s);
  auto now = t0;
  // A slow sprayer: one failure every 5 minutes, for 10 hours, never has 5
  // failures in a 15-minute window, so the IP rule never triggers.
  for (int i = 0; i < 120; ++i) {
    th.record_failure("203.0.113.9", "user" + std::to_string(i), now);
    CHECK(th.delay_before("203.0.113.9", "fresh", now) == milliseconds(0));
    now += minutes(5);
  }
  // Five failures within ten minutes do trigger it.
  for (int i = 0; i < 5; ++i) {
    th.record_failure("198.51.100.1", "user" + std::to_string(i), now);
    now += milliseconds(150000);
  }
  CHECK(th.delay_before("198.51.100.1", "fresh", now) == milliseconds(2000));
  // ... until they age out of the window.
  CHECK(th.delay_before("198.51.100.1", "fresh", now + minutes(15)) == milliseconds(0));
}
