// The backends the store conformance suite runs over. Add a backend with one
// line in store_backends(); each call of its factory must give an empty store.
#include <stdlib.h>

#include <filesystem>
#include <system_error>

#include "conformance.h"
#include "store/store.h"

namespace store_test {
namespace {

class TempDirStore final : public store::Store {
 public:
  TempDirStore(std::string dir, std::unique_ptr<store::Store> inner)
      : dir_(std::move(dir)), inner_(std::move(inner)) {}
  ~TempDirStore() override {
    inner_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  store::Result<std::shared_ptr<store::Account>> open_account(std::string_view domain,
                                                              std::string_view user) override {
    return inner_->open_account(domain, user);
  }

 private:
  std::string dir_;
  std::unique_ptr<store::Store> inner_;
};

}  // namespace

std::unique_ptr<store::Store> with_temp_dir(
    const std::function<std::unique_ptr<store::Store>(const std::string& dir)>& make) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern = (base / "roost-store-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return nullptr;
  auto inner = make(pattern);
  return std::make_unique<TempDirStore>(pattern, std::move(inner));
}

const std::vector<Backend>& store_backends() {
  static const std::vector<Backend> backends = {
      {"memory", [] { return store::make_memory_store(); }},
      {"maildir",
       [] {
         return with_temp_dir([](const std::string& dir) {
           return store::make_maildir_store(
               {dir + "/mail/{domain}/{user}", dir + "/index", /*fsync=*/false});
         });
       }},
  };
  return backends;
}

}  // namespace store_test
