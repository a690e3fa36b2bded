// libFuzzer target: roost.yaml and domain-file loading from arbitrary text.
// Whatever the input, loading returns diagnostics and never throws or crashes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // deep YAML nesting is the parser's business, not ours
  std::string text(reinterpret_cast<const char*>(data), size);

  auto config = core::config::load_config_text(text, "/fuzz/roost.yaml");
  for (const auto& d : config.errors) (void)d.str();
  if (config.config && !config.config->trusted_networks.empty()) {
    (void)config.config->trusted_networks.front().contains("10.0.0.1");
  }

  auto domain = core::config::load_domain_text(text, "/fuzz/example.test.yaml");
  for (const auto& d : domain.errors) (void)d.str();
  return 0;
}
