// The pure HTTP/1.1 request parser: bytes in, events out, no I/O. Requests
// are framed by Boost.Beast's sans-I/O parser (only parser.cpp includes
// Beast); this class adds Roost's limits, the checks Beast leaves to its
// caller (version, Transfer-Encoding, Content-Length with chunked), the
// mapping of every failure to the status to answer, and the conversion into
// the plain http::Request that handlers see.
//
// Usage: feed() whatever arrived, then call next() until it says kNeedMore.
// Pipelined requests come out one by one, in order. After kError the parser
// is finished: the session answers `status` and closes the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/http/http.h"

namespace roost::http {

struct ParserLimits {
  uint64_t header_size = 16 * 1024;  // request line and headers, CRLFs included
  uint64_t body_size = 1024 * 1024;  // after chunked decoding
};

struct Event {
  enum class Kind {
    kNeedMore,  // everything buffered is consumed or incomplete
    kContinue,  // headers of a request with "Expect: 100-continue" are in and
                // acceptable: the session may send "100 Continue"; the same
                // request comes out as kRequest once its body is complete
    kRequest,   // a complete request
    kError,     // malformed or over a limit: answer `status`, then close
  };
  Kind kind = Kind::kNeedMore;
  Request request;          // kRequest (remote, tls, sni are left empty)
  bool keep_alive = false;  // kRequest: the client allows another request
  int status = 0;           // kError: 400, 413, 431, 501 or 505
  std::string reason;       // kError: for the log, never shown to clients as is
};

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Appends bytes from the client (they are buffered until consumed).
  void feed(std::string_view bytes);
  // The next event from what has been fed.
  Event next();

  // Bytes fed but not consumed yet (the start of the next request).
  size_t buffered() const { return buf_.size(); }
  bool failed() const { return failed_; }

 private:
  struct Impl;
  Event fail(int status, std::string reason);

  ParserLimits limits_;
  std::unique_ptr<Impl> impl_;  // the Beast parser of the current request
  std::string buf_;
  bool failed_ = false;
  bool continue_sent_ = false;  // kContinue already given for this request
  size_t scanned_ = 0;          // bytes of buf_ searched for the header's end
};

// Splits a request target into path and query (exposed for tests):
// "/a%20b?x=1&y=%40" -> path "/a b", query [("x","1"),("y","@")]. An
// absolute-form target ("http://host/p") keeps only its path and query.
void split_target(std::string_view target, std::string* path,
                  std::vector<std::pair<std::string, std::string>>* query);

}  // namespace roost::http
