// Process-wide counters, gauges and histograms for GET /metrics and the
// admin API's /api/v1/stats. Every update is a relaxed atomic operation; a
// labelled series is found (or created, once) in a fixed-size open-addressing
// table with compare-and-swap, so the hot paths (bytes read, commands) never
// take a lock. Series are never removed: label values must come from bounded
// sets (protocol names, command names from the command tables, "other").
//
// Rendering follows the Prometheus text exposition format 0.0.4.
//
// This header stays light (no JSON, no OpenSSL, no config): sessions and the
// connection include it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace core::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void add(int64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  void sub(int64_t n = 1) { v_.fetch_sub(n, std::memory_order_relaxed); }
  void set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Fixed buckets (upper bounds in seconds, see kBuckets); the sum is kept in
// nanoseconds so it can be an integer atomic.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  void observe(std::chrono::nanoseconds d);
  void observe_seconds(double s);
  // Cumulative counts per bucket, then +Inf (== count()).
  std::array<uint64_t, kBuckets.size() + 1> cumulative() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const {
    return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> per_bucket_{};  // not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

// A metric name with a fixed list of label names and one series per
// distinct list of label values.
template <class T>
class Family {
 public:
  static constexpr size_t kSlots = 1024;  // series per family; more fold into one overflow series

  Family(std::string name, std::string help, std::vector<std::string> label_names);
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series for these label values (as many as label names), created on
  // first use. Lock-free; safe from any thread.
  T& with(std::initializer_list<std::string_view> values);

  // Every series created so far, in no particular order.
  void for_each(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  struct Series {
    std::vector<std::string> values;
    T metric;
  };
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::array<std::atomic<Series*>, kSlots> slots_{};
  T overflow_;
};

// ---- Roost's metrics -------------------------------------------------------

Family<Gauge>& connections();           // roost_connections{protocol,tls}
Family<Counter>& connections_total();   // roost_connections_total{protocol}
Family<Counter>& logins();              // roost_logins_total{protocol,result}
Family<Counter>& commands();            // roost_commands_total{protocol,command}
Family<Histogram>& command_duration();  // roost_command_duration_seconds{protocol,command}
Family<Counter>& bytes_received();      // roost_bytes_received_total{protocol}
Family<Counter>& bytes_sent();          // roost_bytes_sent_total{protocol}
Family<Counter>& deliveries();          // roost_deliveries_total{result}
Counter& quota_refusals();              // roost_quota_refusals_total
Counter& index_rebuilds();              // roost_index_rebuilds_total
Counter& auth_throttled();              // roost_auth_throttled_total
Counter& admin_unauthorized();          // roost_admin_unauthorized_total
Family<Counter>& admin_requests();      // roost_admin_requests_total{code}
Gauge& domains_broken();                // roost_domains_broken

// Seconds since the process started (the first call of any function here or
// mark_start()).
void mark_start();
double uptime_seconds();
const char* version();

// Everything above plus roost_build_info{version} and
// roost_uptime_seconds, in the Prometheus text format 0.0.4.
std::string render();

// Rendering one family (exposed for tests).
std::string render_family(const Family<Counter>& f);
std::string render_family(const Family<Gauge>& f);
std::string render_family(const Family<Histogram>& f);

// Label value escaping: backslash, double quote and line feed.
std::string escape_label(std::string_view v);

// Times one command of a session: start() counts it and notes the time;
// stop() records the duration once (later calls do nothing). A session
// keeps one; not thread-safe (the session's loop thread only).
class CommandTimer {
 public:
  void start(std::string_view protocol, std::string_view command);
  void stop();
  bool running() const { return hist_ != nullptr; }

 private:
  Histogram* hist_ = nullptr;
  std::chrono::steady_clock::time_point t0_{};
};

}  // namespace core::metrics
