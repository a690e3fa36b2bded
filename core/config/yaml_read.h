// Private to core/config/*.cpp: helpers that read validated values out of
// yaml-cpp nodes and record a Diagnostic (file and line) for every problem.
// Never included by a public header, so no YAML type leaks out of the library.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace core::config::detail {

// Where diagnostics go while one file is read.
class Reader {
 public:
  Reader(std::string file, std::vector<Diagnostic>* errors, std::vector<Diagnostic>* warnings);

  const std::string& file() const { return file_; }
  // The directory relative paths in this file resolve against (absolute).
  const std::string& base_dir() const { return base_dir_; }

  void error(int line, std::string message);
  void warning(int line, std::string message);
  bool failed() const { return errors_->size() > errors_at_start_; }

  // An absolute, lexically normalised path; relative ones against base_dir().
  std::string resolve(const std::string& path) const;

  // Reads the whole text; a syntax error becomes a diagnostic and nullopt.
  std::optional<YAML::Node> parse(const std::string& text);

  // Checks that `node` is a map and calls f(key, key_line, value) for each
  // entry. Non-scalar and duplicate keys are reported. Returns false (and
  // reports) when the node is not a map; a null node counts as an empty map.
  bool each(const YAML::Node& node, int line, const std::string& path,
            const std::function<void(const std::string&, int, const YAML::Node&)>& f);

  void unknown_key(const std::string& path, const std::string& key, int line);

  // Typed getters: nullopt after reporting a problem. `line` is the key's line,
  // used when the value has no position of its own (null values).
  std::optional<std::string> string(const YAML::Node& v, int line, const std::string& path,
                                    bool allow_empty = false);
  std::optional<bool> boolean(const YAML::Node& v, int line, const std::string& path);
  std::optional<uint32_t> count(const YAML::Node& v, int line, const std::string& path,
                                bool allow_unlimited, uint32_t min = 0);
  std::optional<uint64_t> size(const YAML::Node& v, int line, const std::string& path);
  std::optional<Duration> duration(const YAML::Node& v, int line, const std::string& path);
  std::optional<std::string> path(const YAML::Node& v, int line, const std::string& path);
  template <class E>
  std::optional<E> choice(const YAML::Node& v, int line, const std::string& path,
                          const std::vector<std::pair<const char*, E>>& names) {
    auto s = string(v, line, path);
    if (!s) return std::nullopt;
    for (const auto& [name, value] : names) {
      if (*s == name) return value;
    }
    std::string list;
    for (const auto& [name, value] : names) {
      if (!list.empty()) list += " | ";
      list += name;
    }
    error(line_of(v, line), path + ": expected " + list + ", got \"" + *s + "\"");
    return std::nullopt;
  }

  // The value's own line, or `fallback` for nodes without a position.
  static int line_of(const YAML::Node& v, int fallback);

 private:
  std::string file_;
  std::string base_dir_;
  std::vector<Diagnostic>* errors_;
  std::vector<Diagnostic>* warnings_;
  size_t errors_at_start_;
  bool capped_ = false;
};

std::string describe(const YAML::Node& v);  // "a map", "a list", "\"text\""
std::optional<Protocol> protocol_from_name(const std::string& name);
std::optional<TlsMode> tls_mode_from_name(const std::string& name);

// policy: (main file, domain file, account entry).
PolicyOverride read_policy(Reader& r, const YAML::Node& node, int line, const std::string& path);
// public: endpoints; absent host/port are left empty/0 for the caller to fill.
PublicSettings read_public(Reader& r, const YAML::Node& node, int line, const std::string& path);
// The port clients expect for a service and TLS mode (993, 143, 995, 110, 465, 587).
uint16_t default_public_port(const std::string& service, TlsMode tls);

}  // namespace core::config::detail
