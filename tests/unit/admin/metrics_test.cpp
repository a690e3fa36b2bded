// core/metrics: series lookup from many threads, histogram buckets, and the
// Prometheus text rendering read back line by line.
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics/metrics.h"

namespace m = core::metrics;

namespace {

// A tiny reader of the text format: "name{labels} value" lines; # lines
// collected separately.
struct Parsed {
  std::map<std::string, double> samples;  // "name{labels}" -> value
  std::map<std::string, std::string> types;
  std::vector<std::string> order;  // sample keys in output order
};

Parsed parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    REQUIRE(!line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      p.types[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    if (line[0] == '#') {
      CHECK(line.rfind("# HELP ", 0) == 0);
      continue;
    }
    auto sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    std::string key = line.substr(0, sp);
    std::string value = line.substr(sp + 1);
    double v = value == "+Inf" ? 1e308 : std::stod(value);
    CHECK(p.samples.count(key) == 0);
    p.samples[key] = v;
    p.order.push_back(key);
  }
  return p;
}

}  // namespace

TEST_CASE("counter family: series by label values, rendered sorted") {
  m::Family<m::Counter> f("t_requests_total", "Requests.", {"protocol", "result"});
  f.with({"imap", "ok"}).inc();
  f.with({"imap", "ok"}).inc(4);
  f.with({"pop3", "fail"}).inc();
  CHECK(f.with({"imap", "ok"}).value() == 5);
  auto p = parse(m::render_family(f));
  CHECK(p.types["t_requests_total"] == "counter");
  CHECK(p.samples["t_requests_total{protocol=\"imap\",result=\"ok\"}"] == 5);
  CHECK(p.samples["t_requests_total{protocol=\"pop3\",result=\"fail\"}"] == 1);
  CHECK(p.order.front() == "t_requests_total{protocol=\"imap\",result=\"ok\"}");
}

TEST_CASE("label values are escaped") {
  CHECK(m::escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  m::Family<m::Gauge> f("t_g", "G.", {"x"});
  f.with({"q\"uote"}).set(-3);
  auto text = m::render_family(f);
  CHECK(text.find("t_g{x=\"q\\\"uote\"} -3\n") != std::string::npos);
}

TEST_CASE("wrong number of label values folds into the overflow series") {
  m::Family<m::Counter> f("t_c", "C.", {"a"});
  f.with({"x", "y"}).inc();
  int series = 0;
  f.for_each([&](const auto&, const auto&) { ++series; });
  CHECK(series == 0);
}

TEST_CASE("a full family folds new series into the overflow one") {
  m::Family<m::Counter> f("t_many", "C.", {"a"});
  for (size_t i = 0; i < m::Family<m::Counter>::kSlots + 10; ++i) {
    f.with({std::to_string(i)}).inc();
  }
  size_t series = 0;
  uint64_t total = 0;
  f.for_each([&](const auto&, const m::Counter& c) {
    ++series;
    total += c.value();
  });
  CHECK(series == m::Family<m::Counter>::kSlots);
  CHECK(total == m::Family<m::Counter>::kSlots);
}

TEST_CASE("concurrent lookups create each series once and lose no increment") {
  m::Family<m::Counter> f("t_conc", "C.", {"k"});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) f.with({std::to_string(i % 7)}).inc();
    });
  }
  for (auto& t : ts) t.join();
  int series = 0;
  uint64_t total = 0;
  f.for_each([&](const auto&, const m::Counter& c) {
    ++series;
    total += c.value();
  });
  CHECK(series == 7);
  CHECK(total == 80000);
}

TEST_CASE("histogram: cumulative buckets, +Inf, sum and count") {
  m::Family<m::Histogram> f("t_seconds", "H.", {"command"});
  auto& h = f.with({"FETCH"});
  h.observe_seconds(0.0001);  // first bucket
  h.observe_seconds(0.001);   // le=0.001 (bounds are inclusive)
  h.observe_seconds(0.3);     // le=0.5
  h.observe_seconds(100);     // only +Inf
  auto p = parse(m::render_family(f));
  CHECK(p.types["t_seconds"] == "histogram");
  CHECK(p.samples["t_seconds_bucket{command=\"FETCH\",le=\"0.0005\"}"] == 1);
  CHECK(p.samples["t_seconds_bucket{command=\"FETCH\",le=\"0.001\"}"] == 2);
  CHECK(p.samples["t_seconds_bucket{command=\"FETCH\",le=\"0.25\"}"] == 2);
  CHECK(p.samples["t_seconds_bucket{command=\"FETCH\",le=\"0.5\"}"] == 3);
  CHECK(p.samples["t_seconds_bucket{command=\"FETCH\",le=\"10\"}"] == 3);
  CHECK(p.samples["t_seconds_bucket{command=\"FETCH\",le=\"+Inf\"}"] == 4);
  CHECK(p.samples["t_seconds_count{command=\"FETCH\"}"] == 4);
  CHECK(p.samples["t_seconds_sum{command=\"FETCH\"}"] == doctest::Approx(100.3011).epsilon(1e-6));
  // Every bucket line is at least the one before it.
  double last = -1;
  for (const auto& k : p.order) {
    if (k.find("_bucket") == std::string::npos) continue;
    CHECK(p.samples[k] >= last);
    last = p.samples[k];
  }
}

TEST_CASE("command timer counts once and observes once") {
  m::CommandTimer t;
  uint64_t before = m::commands().with({"test", "NOOP"}).value();
  uint64_t hbefore = m::command_duration().with({"test", "NOOP"}).count();
  t.start("test", "NOOP");
  CHECK(t.running());
  t.stop();
  t.stop();
  CHECK_FALSE(t.running());
  CHECK(m::commands().with({"test", "NOOP"}).value() == before + 1);
  CHECK(m::command_duration().with({"test", "NOOP"}).count() == hbefore + 1);
}

TEST_CASE("render: every family with HELP and TYPE, build info") {
  m::logins().with({"imap", "ok"}).inc();
  m::domains_broken().set(2);
  auto text = m::render();
  auto p = parse(text);
  for (const char* name :
       {"roost_connections", "roost_connections_total", "roost_logins_total",
        "roost_commands_total", "roost_command_duration_seconds", "roost_bytes_received_total",
        "roost_bytes_sent_total", "roost_deliveries_total", "roost_quota_refusals_total",
        "roost_index_rebuilds_total", "roost_auth_throttled_total", "roost_domains_broken",
        "roost_build_info", "roost_uptime_seconds"}) {
    CHECK_MESSAGE(p.types.count(name) == 1, name);
  }
  CHECK(p.types["roost_connections"] == "gauge");
  CHECK(p.types["roost_command_duration_seconds"] == "histogram");
  CHECK(p.samples["roost_domains_broken"] == 2);
  CHECK(p.samples["roost_logins_total{protocol=\"imap\",result=\"ok\"}"] >= 1);
  CHECK(text.find("roost_build_info{version=\"") != std::string::npos);
  CHECK(text.back() == '\n');
}
