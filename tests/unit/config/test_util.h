// Helpers shared by the config unit tests.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace test_util {

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("roost-config-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string dump(const std::vector<core::config::Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.str() + "\n";
  return out;
}

// The one diagnostic whose message contains `needle`, or nullptr.
inline const core::config::Diagnostic* find(const std::vector<core::config::Diagnostic>& ds,
                                            const std::string& needle) {
  for (const auto& d : ds) {
    if (d.message.find(needle) != std::string::npos) return &d;
  }
  return nullptr;
}

// Checks that some diagnostic contains `needle` and sits on `line`.
#define CHECK_DIAG(ds, needle, line_no)                                    \
  do {                                                                     \
    const auto* found_ = test_util::find((ds), (needle));                  \
    INFO("looking for: " << (needle) << "\nin:\n" << test_util::dump(ds)); \
    REQUIRE(found_ != nullptr);                                            \
    CHECK(found_->line == (line_no));                                      \
  } while (0)

}  // namespace test_util
