// COMPRESS (RFC 4978): DEFLATE is the only mechanism. The compression itself
// is a layer of the connection (core/net/deflate.h); the session sends the
// tagged OK uncompressed and then turns it on.
#include "imap/commands/commands.h"

namespace imap {

void cmd_compress(Session& s, const proto::Command& c) {
  const auto& a = std::get<proto::CompressArgs>(c.args);
  if (a.mechanism != "DEFLATE") {
    return s.bad("Unknown compression mechanism; only DEFLATE is supported");
  }
  if (s.conn().compression_active()) {
    return s.no("DEFLATE is already active", "COMPRESSIONACTIVE");
  }
  s.start_compression();
}

}  // namespace imap
