// The request side of Postfix's policy delegation protocol, as the
// quota-status service reads it: "name=value" lines ending in LF (a CR before
// it is dropped), an empty line ending a request. Pure: bytes in, requests
// out, no I/O, any split of the input gives the same result.
//
// A request that breaks the rules (a line without '=', an empty name, a NUL,
// a line over max_line, more than max_attributes lines or max_request
// octets) is still read up to its empty line, so that the connection stays
// in step, and comes out flagged `bad` with the first reason. Oversized lines
// are skipped, never buffered: memory stays bounded by the limits.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quota_status {

struct ParserLimits {
  size_t max_line = 4096;        // octets of one "name=value" line, LF excluded
  size_t max_request = 65536;    // octets of one request
  size_t max_attributes = 1000;  // lines of one request
};

struct Request {
  std::vector<std::pair<std::string, std::string>> attributes;  // in order
  bool bad = false;
  std::string reason;  // why it is bad (for the log)

  // The value of the last attribute with this name (names are case-sensitive,
  // as Postfix sends them lower case).
  std::optional<std::string_view> get(std::string_view name) const;
};

class Parser {
 public:
  explicit Parser(ParserLimits limits = {}) : limits_(limits) {}
  // Appends every request completed by these bytes to *out.
  void feed(std::string_view bytes, std::vector<Request>* out);
  // Octets of a request in progress (0 between requests).
  size_t pending() const { return request_bytes_; }

 private:
  void end_line(std::vector<Request>* out);
  void mark_bad(std::string reason);

  ParserLimits limits_;
  Request current_;
  std::string line_;
  bool skipping_ = false;  // in a line over max_line: drop bytes up to its LF
  size_t request_bytes_ = 0;
  size_t lines_ = 0;
};

}  // namespace quota_status
