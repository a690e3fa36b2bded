// Counters for tests of the Maildir backend (process-wide, monotonic).
#pragma once

#include <cstdint>

namespace store::maildir {

struct Counters {
  uint64_t message_reads = 0;  // message files read to compute a size
  uint64_t cur_scans = 0;      // full listings of a cur/ directory
  uint64_t index_loads = 0;    // index files loaded and accepted
  uint64_t index_writes = 0;   // index files written
};

Counters counters();

}  // namespace store::maildir
