// What the Maildir backend's tests share: a temporary directory, a Store
// on it (fsync off, as tests may), the account example.com/alice, and
// appending and opening in one step.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace store_test {

struct TempDir {
  TempDir() {
    std::string p = (std::filesystem::temp_directory_path() / "roost-store-test-XXXXXX").string();
    REQUIRE(::mkdtemp(p.data()) != nullptr);
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

inline std::unique_ptr<store::Store> make(const TempDir& t) {
  return store::make_maildir_store({t.path + "/mail/{domain}/{user}", t.path + "/index", false});
}

// The Maildir of example.com/alice.
inline std::string root_of(const TempDir& t) {
  return t.path + "/mail/example.com/alice";
}

inline std::shared_ptr<store::Account> account(store::Store& s) {
  auto a = s.open_account("example.com", "alice");
  REQUIRE(a.ok());
  return *a;
}

inline uint32_t append(store::Account& a, const std::string& mbox, const std::string& body,
                       uint32_t flags = 0, std::vector<std::string> kw = {}, int64_t date = 0) {
  auto tx = a.begin_append(mbox, flags, std::move(kw), date);
  REQUIRE(tx.ok());
  REQUIRE((*tx)->write(body).ok());
  auto uid = (*tx)->commit();
  REQUIRE(uid.ok());
  return *uid;
}

inline std::unique_ptr<store::Mailbox> open(store::Account& a, const std::string& name,
                                            bool read_only = false) {
  auto mb = a.open_mailbox(name, read_only);
  REQUIRE(mb.ok());
  return std::move(*mb);
}

}  // namespace store_test
