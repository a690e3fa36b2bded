#include "imap/mailbox/pattern.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "core/util/ascii.h"
#include "core/util/utf7.h"

namespace imap::mailbox {
namespace {

// Length of the name's leading INBOX part compared without case: 5 for
// "INBOX" and "INBOX/...", else 0.
size_t inbox_prefix(std::string_view name) {
  if (name.size() < 5) return 0;
  for (size_t i = 0; i < 5; ++i) {
    if (core::ascii_lower(name[i]) != "inbox"[i]) return 0;
  }
  if (name.size() == 5 || name[5] == kSeparator) return 5;
  return 0;
}

}  // namespace

std::optional<std::string> decode_pattern(std::string_view raw, proto::Utf8Mode utf8) {
  if (utf8 == proto::Utf8Mode::kOn) {
    if (!core::valid_utf8(raw)) return std::nullopt;
    return std::string(raw);
  }
  return core::mutf7_decode(raw, core::Mutf7Mode::kLenient);
}

std::string join_pattern(std::string_view reference, std::string_view pattern) {
  std::string out(reference);
  if (!out.empty() && out.back() == kSeparator && !pattern.empty() &&
      pattern.front() == kSeparator) {
    pattern.remove_prefix(1);
  }
  out += pattern;
  return out;
}

bool pattern_match(std::string_view pattern, std::string_view name) {
  const size_t fold = inbox_prefix(name);
  const size_t n = name.size();
  // reach[j]: the pattern read so far can consume exactly name[0, j).
  // One row per pattern character keeps this O(|pattern| * |name|) even for
  // patterns full of wildcards.
  std::vector<char> reach(n + 1, 0), next(n + 1, 0);
  reach[0] = 1;
  for (char p : pattern) {
    std::fill(next.begin(), next.end(), 0);
    if (p == '*') {
      bool on = false;
      for (size_t j = 0; j <= n; ++j) {
        on = on || reach[j];
        next[j] = on;
      }
    } else if (p == '%') {
      bool on = false;
      for (size_t j = 0; j <= n; ++j) {
        // '%' may extend over name[j - 1] only if it is not the separator.
        if (j > 0 && name[j - 1] == kSeparator) on = false;
        on = on || reach[j];
        next[j] = on;
      }
    } else {
      for (size_t j = 0; j < n; ++j) {
        if (!reach[j]) continue;
        const bool same =
            j < fold ? core::ascii_lower(name[j]) == core::ascii_lower(p) : name[j] == p;
        if (same) next[j + 1] = 1;
      }
    }
    reach.swap(next);
  }
  return reach[n] != 0;
}

bool is_below(std::string_view name, std::string_view ancestor) {
  return name.size() > ancestor.size() + 1 && name.substr(0, ancestor.size()) == ancestor &&
         name[ancestor.size()] == kSeparator;
}

std::vector<std::string> ancestors(std::string_view name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == kSeparator && i > 0) out.emplace_back(name.substr(0, i));
  }
  return out;
}

bool name_less(std::string_view a, std::string_view b) {
  const bool ia = a == "INBOX", ib = b == "INBOX";
  if (ia != ib) return ia;
  return a < b;
}

}  // namespace imap::mailbox
