// Pure helpers behind CONTEXT=SEARCH (RFC 5267) and PARTIAL results
// (RFC 5267 4.4, with the negative ranges of RFC 9394): the positions of the
// ADDTO / REMOVEFROM updates of a search result, and the part of a result a
// PARTIAL range names. No I/O; the session glue is
// imap/commands/search_context.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imap::search {

// One "position set" pair of an ADDTO or REMOVEFROM update: `items` occupy
// the positions `position`, `position` + 1, ... of the result (1-based).
struct PositionedItems {
  uint32_t position = 0;
  std::vector<uint32_t> items;  // ascending
};

// Removes `gone` (ascending; values not in `result` are ignored) from
// `result` (ascending, unique) and returns the REMOVEFROM pairs: one per run
// of adjacent positions, highest position first, so that each position is
// still right when the client applies the pairs from left to right.
std::vector<PositionedItems> remove_from(std::vector<uint32_t>& result,
                                         const std::vector<uint32_t>& gone);

// Inserts `fresh` (ascending; values already in `result` are ignored) into
// `result` and returns the ADDTO pairs: one per run of adjacent positions in
// the new result, lowest position first (each position is where the run
// lands once the earlier pairs are applied).
std::vector<PositionedItems> add_to(std::vector<uint32_t>& result,
                                    const std::vector<uint32_t>& fresh);

// Appends " (pos set pos set ...)" for ADDTO / REMOVEFROM; `number` maps an
// item (a UID) to what the client is told (the UID or its message number).
template <class Fn>
void write_positioned(std::string& out, const std::vector<PositionedItems>& pairs, Fn number);

// A PARTIAL range: "first:last" with 1 <= first <= last (positions from the
// start) or, RFC 9394, "-first:-last" (positions from the end, -1 the last).
struct PartialRange {
  bool from_end = false;
  uint32_t first = 1;  // absolute values, first <= last
  uint32_t last = 1;
  // As the answer echoes it: "2:4", "-1:-5".
  std::string text() const;
};

// Parses a PARTIAL range as the parser keeps it (an atom such as "1:10" or
// "-1:-10"; the ends may be given in either order). nullopt for 0, "*",
// mixed signs or anything else.
std::optional<PartialRange> parse_partial(std::string_view atom);

// The RETURN options of SEARCH and SORT (RFC 4731, 5182, 5267, 9394), as the
// parser keeps them (PARTIAL's range is the atom after it). Each command
// refuses what it does not offer (SORT: SAVE and UPDATE).
struct ReturnOptions {
  bool min = false, max = false, count = false, all = false;
  bool save = false, update = false;
  std::optional<PartialRange> partial;
  // RETURN () means ALL (RFC 4731 3.1, RFC 5267 3.2).
  bool none_named() const { return !min && !max && !count && !all && !partial; }
};

// nullopt with the text of a BAD in *error for an unknown option, PARTIAL
// without one valid range, or PARTIAL twice. CONTEXT is a hint and ignored.
std::optional<ReturnOptions> parse_return_options(const std::vector<std::string>& opts,
                                                  std::string* error);

// The items of `ordered` at the positions the range names, in order.
std::vector<uint32_t> partial_slice(const std::vector<uint32_t>& ordered, const PartialRange& r);

// ---- template definition -----------------------------------------------------

template <class Fn>
void write_positioned(std::string& out, const std::vector<PositionedItems>& pairs, Fn number) {
  out += " (";
  bool first_pair = true;
  for (const PositionedItems& p : pairs) {
    if (!first_pair) out += ' ';
    first_pair = false;
    out += std::to_string(p.position);
    out += ' ';
    // Items are ascending and so are their numbers: join consecutive runs.
    size_t i = 0;
    bool first_run = true;
    while (i < p.items.size()) {
      const uint32_t lo = number(p.items[i]);
      uint32_t hi = lo;
      size_t j = i + 1;
      while (j < p.items.size() && number(p.items[j]) == hi + 1) {
        hi = number(p.items[j]);
        ++j;
      }
      if (!first_run) out += ',';
      first_run = false;
      out += std::to_string(lo);
      if (hi != lo) out += ':' + std::to_string(hi);
      i = j;
    }
  }
  out += ')';
}

}  // namespace imap::search
