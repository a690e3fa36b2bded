// Structured logging: one event per line, JSON (default) or text, on stderr
// (journald or the service manager takes it from there). Thread-safe.
// Never pass a password, an AUTH payload or a message body as a field.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace core::log {

enum class Level { kDebug, kInfo, kWarning, kError };

struct Field {
  using Value = std::variant<std::string_view, int64_t, bool>;
  std::string_view key;
  Value value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
};

void configure(bool json, Level level);
std::optional<Level> parse_level(std::string_view name);
bool enabled(Level level);

// Writes {"ts":...,"level":...,"event":event, fields...}.
void event(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void info(std::string_view ev, std::initializer_list<Field> f) {
  event(Level::kInfo, ev, f);
}
inline void warn(std::string_view ev, std::initializer_list<Field> f) {
  event(Level::kWarning, ev, f);
}
inline void error(std::string_view ev, std::initializer_list<Field> f) {
  event(Level::kError, ev, f);
}
inline void debug(std::string_view ev, std::initializer_list<Field> f) {
  if (enabled(Level::kDebug)) event(Level::kDebug, ev, f);
}

}  // namespace core::log
