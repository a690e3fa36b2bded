// CONTEXT=SEARCH positions and PARTIAL ranges (see context.h).
#include "imap/search/context.h"

#include <algorithm>

namespace imap::search {

namespace {

// Groups ascending positions (with their items) into runs of adjacent ones.
std::vector<PositionedItems> runs(const std::vector<std::pair<uint32_t, uint32_t>>& pos_items) {
  std::vector<PositionedItems> out;
  for (const auto& [pos, item] : pos_items) {
    if (!out.empty() && out.back().position + out.back().items.size() == pos) {
      out.back().items.push_back(item);
    } else {
      out.push_back(PositionedItems{pos, {item}});
    }
  }
  return out;
}

bool parse_number(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0 || n > 0xffffffffull) return false;
  *out = static_cast<uint32_t>(n);
  return true;
}

}  // namespace

std::vector<PositionedItems> remove_from(std::vector<uint32_t>& result,
                                         const std::vector<uint32_t>& gone) {
  std::vector<std::pair<uint32_t, uint32_t>> hits;  // (old position, item)
  for (uint32_t g : gone) {
    auto it = std::lower_bound(result.begin(), result.end(), g);
    if (it == result.end() || *it != g) continue;
    hits.emplace_back(static_cast<uint32_t>(it - result.begin()) + 1, g);
  }
  std::sort(hits.begin(), hits.end());
  hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
  std::vector<PositionedItems> out = runs(hits);
  std::reverse(out.begin(), out.end());
  // Highest position first: the earlier positions stay valid.
  for (const PositionedItems& p : out) {
    result.erase(result.begin() + (p.position - 1),
                 result.begin() + (p.position - 1) + static_cast<long>(p.items.size()));
  }
  return out;
}

std::vector<PositionedItems> add_to(std::vector<uint32_t>& result,
                                    const std::vector<uint32_t>& fresh) {
  std::vector<uint32_t> merged;
  merged.reserve(result.size() + fresh.size());
  std::vector<uint32_t> added;
  for (uint32_t f : fresh) {
    if (!std::binary_search(result.begin(), result.end(), f)) added.push_back(f);
  }
  std::sort(added.begin(), added.end());
  added.erase(std::unique(added.begin(), added.end()), added.end());
  std::merge(result.begin(), result.end(), added.begin(), added.end(), std::back_inserter(merged));
  std::vector<std::pair<uint32_t, uint32_t>> hits;  // (new position, item)
  for (uint32_t a : added) {
    auto it = std::lower_bound(merged.begin(), merged.end(), a);
    hits.emplace_back(static_cast<uint32_t>(it - merged.begin()) + 1, a);
  }
  result = std::move(merged);
  return runs(hits);
}

std::string PartialRange::text() const {
  if (from_end) return "-" + std::to_string(first) + ":-" + std::to_string(last);
  return std::to_string(first) + ":" + std::to_string(last);
}

std::optional<ReturnOptions> parse_return_options(const std::vector<std::string>& opts,
                                                  std::string* error) {
  ReturnOptions r;
  for (size_t i = 0; i < opts.size(); ++i) {
    const std::string& opt = opts[i];
    if (opt == "PARTIAL") {
      if (r.partial || i + 1 >= opts.size()) {
        *error = "PARTIAL needs one range, such as PARTIAL 1:100";
        return std::nullopt;
      }
      r.partial = parse_partial(opts[++i]);
      if (!r.partial) {
        *error = "Invalid PARTIAL range " + opts[i] + " (use m:n or -m:-n, m and n > 0)";
        return std::nullopt;
      }
    } else if (opt == "CONTEXT") {
      // RFC 5267 4.2: a hint only.
    } else if (opt == "UPDATE") {
      r.update = true;
    } else if (opt == "MIN") {
      r.min = true;
    } else if (opt == "MAX") {
      r.max = true;
    } else if (opt == "COUNT") {
      r.count = true;
    } else if (opt == "ALL") {
      r.all = true;
    } else if (opt == "SAVE") {
      r.save = true;
    } else {
      *error = "Unknown RETURN option " + opt;
      return std::nullopt;
    }
  }
  return r;
}

std::optional<PartialRange> parse_partial(std::string_view atom) {
  const size_t colon = atom.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view a = atom.substr(0, colon);
  std::string_view b = atom.substr(colon + 1);
  const bool neg_a = !a.empty() && a.front() == '-';
  const bool neg_b = !b.empty() && b.front() == '-';
  if (neg_a != neg_b) return std::nullopt;
  if (neg_a) {
    a.remove_prefix(1);
    b.remove_prefix(1);
  }
  PartialRange r;
  r.from_end = neg_a;
  if (!parse_number(a, &r.first) || !parse_number(b, &r.last)) return std::nullopt;
  if (r.first > r.last) std::swap(r.first, r.last);
  return r;
}

std::vector<uint32_t> partial_slice(const std::vector<uint32_t>& ordered, const PartialRange& r) {
  std::vector<uint32_t> out;
  const size_t n = ordered.size();
  if (r.first > n) return out;
  const size_t last = std::min<size_t>(r.last, n);
  if (!r.from_end) {
    out.assign(ordered.begin() + (r.first - 1), ordered.begin() + last);
    return out;
  }
  // -1 is the last item: positions n - last + 1 .. n - first + 1, in order.
  out.assign(ordered.begin() + (n - last), ordered.begin() + (n - r.first + 1));
  return out;
}

}  // namespace imap::search
