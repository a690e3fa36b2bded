// HTTP/1.1 for Roost's operations plane: the admin API, /metrics and client
// autoconfig. Requests are parsed by Boost.Beast's sans-I/O parser
// (core/http/parser.cpp, the only file that includes Beast); the connection,
// TLS, limits and timers are the same core/net layer the mail protocols use.
// Handlers see only these plain structs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roost::http {

struct Request {
  std::string method;  // upper case as sent: "GET", "POST", "DELETE"
  std::string target;  // as sent: "/api/v1/sessions?account=a%40b"
  std::string path;    // target before '?', percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;  // names lower case; repeated ones joined with ", "
  std::string body;
  std::string remote;  // client IP (after a PROXY header, the real client)
  bool tls = false;
  std::string sni;  // TLS server name the client asked for, lower case; may be empty

  // The first query parameter of that name (case-sensitive), if any.
  std::optional<std::string> param(std::string_view name) const;
  // A header by lower-case name, or "".
  std::string header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// A handler runs on the store pool: it may block on the store or on disk.
// It must not throw (the session answers 500 and logs if one does).
using Handler = std::function<Response(const Request&)>;

// Small helpers shared by the admin API and autoconfig.
Response text(int status, std::string body);  // text/plain; charset=utf-8
Response json(int status, std::string body);  // application/json
std::string reason_phrase(int status);
std::string percent_decode(std::string_view s, bool plus_is_space);

}  // namespace roost::http
