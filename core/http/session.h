// An HTTP/1.1 connection on the core/net layer (admin API, /metrics,
// autoconfig). One request at a time: the parser frames it, the handler runs
// on the store pool (it may block), the answer goes out with Content-Length,
// then the next pipelined request is taken. Keep-alive unless the client
// asked for "Connection: close" (or spoke HTTP/1.0 without keep-alive); a
// malformed request or one over a limit gets its status with
// "Connection: close" and the connection ends after it.
//
// HEAD is answered as GET without the body (handlers see "GET"). A handler
// that throws gets a 500 (logged) and the connection goes on. One `http` log
// event per request: listener, method, path (never the query string or any
// header), status, remote, duration_ms.
//
// Limits: limits.http_header_size, limits.http_body_size and
// limits.idle_timeout.http (between requests and while one is incomplete).
#pragma once

#include <memory>
#include <string_view>

#include "core/http/http.h"
#include "core/net/connection.h"
#include "core/server/services.h"

namespace roost::http {

// A session for one accepted connection of an HTTP listener. The caller
// (the daemon's listener factory) registers it in the Registry as it does
// for every protocol; the session removes itself when it closes.
std::shared_ptr<core::net::Session> make_http_session(core::server::Services& services,
                                                      Handler handler,
                                                      std::string_view listener_name);

// The bytes of a response (status line, headers, body). With `head_only` the
// body is left out but Content-Length still gives its size. Exposed for tests.
std::string serialize(const Response& response, bool close, bool head_only);

}  // namespace roost::http
