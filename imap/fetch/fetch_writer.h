// The FETCH response of one message (RFC 9051 6.4.5 / 7.5.2, RFC 3516
// BINARY), written without the session: given the message's metadata, the
// requested attributes and a way to read its stored bytes, FetchWriter
// appends "* n FETCH (...)\r\n".
//
// It never holds a large message whole: section data streams from the reader
// in 64 KiB reads, and write() stops after about `budget` bytes of output and
// resumes where it stopped on the next call, so the FETCH command can emit a
// big body over several store-pool steps. The MIME structure is parsed (in
// 64 KiB pieces) only when an attribute needs it, once per message.
//
// Section data is the CRLF-normalised form of the stored bytes (bare LF line
// ends become CRLF on the fly), so sizes agree with RFC822.SIZE and the
// BODYSTRUCTURE sizes. A NUL octet cannot travel in an IMAP literal: in BODY
// data it is sent as 0x80 (same size); BINARY data with NUL goes out as a
// literal8 "~{n}".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imap/proto/command.h"
#include "imap/proto/writer.h"
#include "store/store.h"

namespace imap::fetch {

inline constexpr size_t kReadChunk = 64 * 1024;
inline constexpr size_t kStepBytes = 256 * 1024;

// The stored bytes of one message, as the store keeps them (LF or CRLF).
class Reader {
 public:
  virtual ~Reader() = default;
  // Moves to an offset of the stored bytes; false on error.
  virtual bool seek(uint64_t offset) = 0;
  // Reads up to n bytes: their count, 0 at the end, -1 on error.
  virtual int64_t read(char* buf, size_t n) = 0;
  // Size of the stored bytes.
  virtual uint64_t size() const = 0;
};

// Over bytes in memory (tests, small messages). The bytes must outlive it.
class StringReader final : public Reader {
 public:
  explicit StringReader(std::string_view bytes) : bytes_(bytes) {}
  bool seek(uint64_t offset) override;
  int64_t read(char* buf, size_t n) override;
  uint64_t size() const override { return bytes_.size(); }
  // Counts read() calls (tests check that big bodies are read in pieces).
  size_t reads() const { return reads_; }

 private:
  std::string_view bytes_;
  uint64_t pos_ = 0;
  size_t reads_ = 0;
};

// Over a store::MessageStream, which must outlive it.
class StreamReader final : public Reader {
 public:
  explicit StreamReader(store::MessageStream& stream) : stream_(stream) {}
  bool seek(uint64_t offset) override;
  int64_t read(char* buf, size_t n) override;
  uint64_t size() const override { return stream_.raw_size(); }

 private:
  store::MessageStream& stream_;
};

// Whether an attribute implicitly sets \Seen (BODY[..], BINARY[..], RFC822,
// RFC822.TEXT; not their .PEEK forms).
bool sets_seen(const proto::FetchAtt& att);
// Whether an attribute needs the stored bytes (anything but FLAGS,
// INTERNALDATE, RFC822.SIZE, UID, MODSEQ, SAVEDATE, EMAILID and THREADID).
bool needs_message(const proto::FetchAtt& att);
// Whether it needs the MIME structure.
bool needs_structure(const proto::FetchAtt& att);
// Whether the store's cached header fields (store::Mailbox::cached_headers)
// answer it as the stored message would: ENVELOPE, and BODY[HEADER.FIELDS
// (...)] of the message itself naming only cached fields. A reader over
// that header then stands in for the message.
bool answered_by_cached_header(const proto::FetchAtt& att);

struct Options {
  uint32_t seq = 0;     // message number
  bool uid = false;     // UID FETCH: UID goes first unless requested
  bool flags = false;   // flags changed by this FETCH: FLAGS added at the end unless requested
  bool modseq = false;  // CHANGEDSINCE: MODSEQ added at the end unless requested
  bool recent = false;  // \Recent in FLAGS (IMAP4rev1 sessions only)
  proto::Utf8Mode utf8 = proto::Utf8Mode::kOff;
};

// Why no response could be written for a message; the command then ends
// with NO [UNKNOWN-CTE] or BAD.
enum class Problem {
  kNone,
  kUnknownCte,       // BINARY of a part whose Content-Transfer-Encoding is unknown
  kBinaryMultipart,  // BINARY / BINARY.SIZE of a multipart part
};

class FetchWriter {
 public:
  // `atts` and `reader` must outlive the writer. `reader` may be null when
  // the message could not be opened: attributes needing its bytes are then
  // answered with empty values and read_failed() is true.
  FetchWriter(const store::MessageMeta& meta, const std::vector<proto::FetchAtt>& atts,
              Options options, Reader* reader);
  ~FetchWriter();
  FetchWriter(const FetchWriter&) = delete;
  FetchWriter& operator=(const FetchWriter&) = delete;

  // Reads what has to be known before any output (the MIME structure when
  // needed) and checks the BINARY items. Called by the first write() if not
  // called before. Not kNone: write() writes nothing for this message.
  Problem prepare();
  // Appends the response, stopping once about `budget` bytes were added (a
  // read chunk may overshoot it); true while more remains.
  bool write(std::string& out, size_t budget = kStepBytes);
  Problem problem() const;
  // Some stored bytes could not be read: the response was completed with
  // placeholder content (empty strings or padding) to stay well formed.
  bool read_failed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The response of a FETCH whose attributes all come from the metadata
// (FLAGS, UID, MODSEQ, RFC822.SIZE, INTERNALDATE, ...): what FetchWriter
// writes for them, without its per-message set-up. A resync of a big
// mailbox ("FETCH 1:* (UID FLAGS)") is this, message after message.
class MetaItems {
 public:
  // `atts` must outlive this; none of them may need the message
  // (needs_message() false for each).
  explicit MetaItems(const std::vector<proto::FetchAtt>& atts);
  // Appends "* n FETCH (...)\r\n" as FetchWriter would.
  void write(std::string& out, const store::MessageMeta& meta, const Options& options) const;

 private:
  const std::vector<proto::FetchAtt>& atts_;
  bool uid_ = false, flags_ = false, modseq_ = false;  // requested
};

}  // namespace imap::fetch
