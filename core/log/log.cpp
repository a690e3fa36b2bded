#include "core/log/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace core::log {
namespace {

std::atomic<bool> g_json{true};
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto ms = duration_cast<milliseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

void configure(bool json, Level level) {
  g_json = json;
  g_level = static_cast<int>(level);
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warning" || name == "warn") return Level::kWarning;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load();
}

void event(Level level, std::string_view ev, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  if (g_json) {
    nlohmann::ordered_json j;
    j["ts"] = timestamp();
    j["level"] = level_name(level);
    j["event"] = std::string(ev);
    for (const auto& f : fields) {
      std::string key(f.key);
      if (auto* s = std::get_if<std::string_view>(&f.value)) {
        j[key] = std::string(*s);
      } else if (auto* i = std::get_if<int64_t>(&f.value)) {
        j[key] = *i;
      } else {
        j[key] = std::get<bool>(f.value);
      }
    }
    // Invalid UTF-8 from a client (e.g. a user name) is replaced, never fatal.
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = timestamp() + " " + level_name(level) + " " + std::string(ev);
    for (const auto& f : fields) {
      line += " ";
      line += f.key;
      line += "=";
      if (auto* s = std::get_if<std::string_view>(&f.value)) {
        for (char c : *s) line += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
      } else if (auto* i = std::get_if<int64_t>(&f.value)) {
        line += std::to_string(*i);
      } else {
        line += std::get<bool>(f.value) ? "true" : "false";
      }
    }
  }
  line += '\n';
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace core::log
