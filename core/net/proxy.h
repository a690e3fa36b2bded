// The PROXY protocol header (HAProxy, versions 2 and 1) that a load balancer
// sends before anything else on a connection, naming the client it accepted
// the connection from. Pure: bytes in, a result out; no I/O, never throws.
//
// The connection keeps every byte it has read so far and calls parse() on
// the whole of it after each read; kNeedMore asks for more, kDone says how
// many bytes the header took (what follows belongs to the protocol or to
// TLS), kError says why the connection must be closed. A mismatch is
// reported as soon as the bytes seen so far cannot start a header, so a
// client that does not speak the protocol is closed at its first read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace core::net::proxy {

enum class Status { kNeedMore, kDone, kError };

// LOCAL: the proxy speaks for itself (health checks); PROXY: on behalf of a client.
enum class Command { kLocal, kProxy };

enum class Family { kUnspec, kInet, kInet6, kUnix };

struct Header {
  int version = 2;  // 2 (binary) or 1 (text)
  Command command = Command::kLocal;
  Family family = Family::kUnspec;
  bool stream = false;  // transport is STREAM (TCP)
  // True only for a PROXY command over TCP for IPv4 or IPv6: then the four
  // fields below are the client's and the proxy's side of the connection.
  // Otherwise the receiver keeps the socket's own peer address.
  bool has_address = false;
  std::string source_ip;  // textual, as inet_ntop writes it
  std::string dest_ip;
  uint16_t source_port = 0;
  uint16_t dest_port = 0;
  size_t tlv_count = 0;  // version 2 type-length-value extensions, skipped
};

struct Result {
  Status status = Status::kNeedMore;
  size_t consumed = 0;  // kDone: the header's length in bytes
  Header header;
  std::string error;  // kError: the reason, for the log
};

// The version 2 header is 16 bytes plus at most 65535; version 1 is at most
// 107 bytes. `max_length` bounds the whole header (a larger declared length
// is an error); values under kMinMaxLength are raised to it.
constexpr size_t kV1MaxLength = 107;
constexpr size_t kV2FixedLength = 16;
constexpr size_t kMinMaxLength = kV2FixedLength + 216;  // room for AF_UNIX addresses

Result parse(std::string_view bytes, size_t max_length);

// An IPv4 or IPv6 address literal in canonical text form (an IPv4-mapped IPv6
// address as IPv4), e.g. for IMAP ID x-originating-ip. False for anything
// else (names, CIDR ranges, ports, surrounding spaces).
bool canonical_ip(std::string_view text, std::string* out);

// Builds a version 2 header (tests, fuzz seeds): PROXY over TCP from
// `source` to `dest` (both IPv4 or both IPv6, textual), or LOCAL when
// `source` is empty. `tlvs` is appended verbatim after the addresses.
// Returns an empty string for an address inet_pton does not accept.
std::string build_v2(std::string_view source, uint16_t source_port, std::string_view dest,
                     uint16_t dest_port, std::string_view tlvs = {});

}  // namespace core::net::proxy
