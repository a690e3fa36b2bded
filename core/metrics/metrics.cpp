#include "core/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifndef ROOST_VERSION
#define ROOST_VERSION "unknown"
#endif

namespace core::metrics {

// ---- Histogram -------------------------------------------------------------

void Histogram::observe(std::chrono::nanoseconds d) {
  int64_t ns = std::max<int64_t>(0, d.count());
  double s = static_cast<double>(ns) / 1e9;
  size_t i = 0;
  while (i < kBuckets.size() && s > kBuckets[i]) ++i;
  per_bucket_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::observe_seconds(double s) {
  if (!(s >= 0)) s = 0;  // NaN or negative
  observe(std::chrono::nanoseconds(static_cast<int64_t>(std::min(s, 1e9) * 1e9)));
}

std::array<uint64_t, Histogram::kBuckets.size() + 1> Histogram::cumulative() const {
  std::array<uint64_t, kBuckets.size() + 1> out{};
  uint64_t run = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    run += per_bucket_[i].load(std::memory_order_relaxed);
    out[i] = run;
  }
  return out;
}

// ---- Family ----------------------------------------------------------------

namespace {

uint64_t hash_values(std::initializer_list<std::string_view> values) {
  uint64_t h = 1469598103934665603ull;
  for (auto v : values) {
    for (unsigned char c : v) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  }
  return h;
}

template <class S>
bool same(const S& s, std::initializer_list<std::string_view> values) {
  if (s.values.size() != values.size()) return false;
  size_t i = 0;
  for (auto v : values) {
    if (s.values[i++] != v) return false;
  }
  return true;
}

}  // namespace

template <class T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

template <class T>
Family<T>::~Family() {
  for (auto& s : slots_) delete s.load();
}

template <class T>
T& Family<T>::with(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) return overflow_;
  const uint64_t h = hash_values(values);
  Series* fresh = nullptr;
  for (size_t probe = 0; probe < kSlots; ++probe) {
    auto& slot = slots_[(h + probe) % kSlots];
    Series* cur = slot.load(std::memory_order_acquire);
    if (!cur) {
      if (!fresh) {
        fresh = new Series;
        fresh->values.reserve(values.size());
        for (auto v : values) fresh->values.emplace_back(v);
      }
      if (slot.compare_exchange_strong(cur, fresh, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return fresh->metric;
      }
      // Another thread filled this slot first: `cur` is now its series.
    }
    if (same(*cur, values)) {
      delete fresh;
      return cur->metric;
    }
  }
  delete fresh;
  return overflow_;
}

template <class T>
void Family<T>::for_each(
    const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
  for (const auto& slot : slots_) {
    if (const Series* s = slot.load(std::memory_order_acquire)) fn(s->values, s->metric);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Rendering -------------------------------------------------------------

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_double(double d) {
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (std::isnan(d)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  // Shortest form that reads back the same.
  for (int prec = 1; prec <= 17; ++prec) {
    char b2[64];
    std::snprintf(b2, sizeof b2, "%.*g", prec, d);
    if (std::strtod(b2, nullptr) == d && std::strchr(b2, 'e') == nullptr) return b2;
  }
  return buf;
}

// `{a="x",b="y"}` or "" without labels; `extra` is appended inside the braces.
std::string label_block(const std::vector<std::string>& names,
                        const std::vector<std::string>& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ',';
    out += names[i] + "=\"" + escape_label(values[i]) + '"';
  }
  if (!extra.empty()) {
    if (!out.empty()) out += ',';
    out += extra;
  }
  return out.empty() ? out : "{" + out + "}";
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

// Series sorted by label values so the output is stable.
template <class T>
std::vector<std::pair<std::vector<std::string>, const T*>> sorted(const Family<T>& f) {
  std::vector<std::pair<std::vector<std::string>, const T*>> v;
  f.for_each(
      [&](const std::vector<std::string>& values, const T& m) { v.emplace_back(values, &m); });
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return v;
}

}  // namespace

std::string render_family(const Family<Counter>& f) {
  std::string out;
  header(out, f.name(), f.help(), "counter");
  for (const auto& [values, m] : sorted(f)) {
    out +=
        f.name() + label_block(f.label_names(), values) + " " + std::to_string(m->value()) + "\n";
  }
  return out;
}

std::string render_family(const Family<Gauge>& f) {
  std::string out;
  header(out, f.name(), f.help(), "gauge");
  for (const auto& [values, m] : sorted(f)) {
    out +=
        f.name() + label_block(f.label_names(), values) + " " + std::to_string(m->value()) + "\n";
  }
  return out;
}

std::string render_family(const Family<Histogram>& f) {
  std::string out;
  header(out, f.name(), f.help(), "histogram");
  for (const auto& [values, m] : sorted(f)) {
    // One pass over the buckets gives every cumulative count, +Inf and
    // _count, so they agree even while other threads observe.
    auto cum = m->cumulative();
    for (size_t i = 0; i < Histogram::kBuckets.size(); ++i) {
      out += f.name() + "_bucket" +
             label_block(f.label_names(), values,
                         "le=\"" + format_double(Histogram::kBuckets[i]) + "\"") +
             " " + std::to_string(cum[i]) + "\n";
    }
    const uint64_t total = cum.back();
    out += f.name() + "_bucket" + label_block(f.label_names(), values, "le=\"+Inf\"") + " " +
           std::to_string(total) + "\n";
    out += f.name() + "_sum" + label_block(f.label_names(), values) + " " +
           format_double(m->sum_seconds()) + "\n";
    out += f.name() + "_count" + label_block(f.label_names(), values) + " " +
           std::to_string(total) + "\n";
  }
  return out;
}

// ---- Roost's metrics -------------------------------------------------------

namespace {

std::chrono::steady_clock::time_point start_time() {
  static const auto t = std::chrono::steady_clock::now();
  return t;
}

Counter& plain_counter(int which) {
  static Counter counters[5];
  return counters[which];
}

void render_counter(std::string& out, const char* name, const char* help, const Counter& c) {
  header(out, name, help, "counter");
  out += std::string(name) + " " + std::to_string(c.value()) + "\n";
}

}  // namespace

Family<Gauge>& connections() {
  static Family<Gauge> f("roost_connections", "Open client connections.", {"protocol", "tls"});
  return f;
}
Family<Counter>& connections_total() {
  static Family<Counter> f("roost_connections_total", "Client connections accepted.", {"protocol"});
  return f;
}
Family<Counter>& logins() {
  static Family<Counter> f("roost_logins_total", "Login attempts by result (ok, fail).",
                           {"protocol", "result"});
  return f;
}
Family<Counter>& commands() {
  static Family<Counter> f("roost_commands_total",
                           "Commands run; names outside the command table count as other.",
                           {"protocol", "command"});
  return f;
}
Family<Histogram>& command_duration() {
  static Family<Histogram> f("roost_command_duration_seconds",
                             "Time from a command's dispatch to its final answer.",
                             {"protocol", "command"});
  return f;
}
Family<Counter>& bytes_received() {
  static Family<Counter> f("roost_bytes_received_total",
                           "Bytes read from clients (on the wire, TLS included).", {"protocol"});
  return f;
}
Family<Counter>& bytes_sent() {
  static Family<Counter> f("roost_bytes_sent_total",
                           "Bytes written to clients (on the wire, TLS included).", {"protocol"});
  return f;
}
Family<Counter>& deliveries() {
  static Family<Counter> f("roost_deliveries_total",
                           "Deliveries per recipient by result (stored, over_quota, too_big, "
                           "failed).",
                           {"result"});
  return f;
}
Family<Counter>& admin_requests() {
  static Family<Counter> f("roost_admin_requests_total", "Admin API requests by status code.",
                           {"code"});
  return f;
}
Counter& quota_refusals() {
  return plain_counter(0);
}
Counter& index_rebuilds() {
  return plain_counter(1);
}
Counter& auth_throttled() {
  return plain_counter(2);
}
Counter& admin_unauthorized() {
  return plain_counter(3);
}
Gauge& domains_broken() {
  static Gauge g;
  return g;
}

void mark_start() {
  (void)start_time();
}

double uptime_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time()).count();
}

const char* version() {
  return ROOST_VERSION;
}

std::string render() {
  std::string out;
  out += render_family(connections());
  out += render_family(connections_total());
  out += render_family(logins());
  out += render_family(commands());
  out += render_family(command_duration());
  out += render_family(bytes_received());
  out += render_family(bytes_sent());
  out += render_family(deliveries());
  render_counter(out, "roost_quota_refusals_total",
                 "Deliveries refused or deferred because the account was over quota.",
                 quota_refusals());
  render_counter(out, "roost_index_rebuilds_total",
                 "Maildir indexes rebuilt from the Maildir (missing or damaged index).",
                 index_rebuilds());
  render_counter(out, "roost_auth_throttled_total",
                 "Logins answered after a throttling delay for earlier failures.",
                 auth_throttled());
  render_counter(out, "roost_admin_unauthorized_total",
                 "Admin API requests refused for a missing or wrong token.", admin_unauthorized());
  out += render_family(admin_requests());
  header(out, "roost_domains_broken", "Domain files that failed to load at the last (re)load.",
         "gauge");
  out += "roost_domains_broken " + std::to_string(domains_broken().value()) + "\n";
  header(out, "roost_uptime_seconds", "Seconds since roostd started.", "gauge");
  out += "roost_uptime_seconds " + format_double(std::floor(uptime_seconds() * 1000) / 1000) + "\n";
  header(out, "roost_build_info", "Always 1; the version is a label.", "gauge");
  out += "roost_build_info{version=\"" + escape_label(version()) + "\"} 1\n";
  return out;
}

// ---- CommandTimer ----------------------------------------------------------

void CommandTimer::start(std::string_view protocol, std::string_view command) {
  stop();
  commands().with({protocol, command}).inc();
  hist_ = &command_duration().with({protocol, command});
  t0_ = std::chrono::steady_clock::now();
}

void CommandTimer::stop() {
  if (!hist_) return;
  hist_->observe(std::chrono::steady_clock::now() - t0_);
  hist_ = nullptr;
}

}  // namespace core::metrics
