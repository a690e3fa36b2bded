// The store conformance suite: every check in conformance.cpp runs against
// every backend listed in backends.cpp, each check with a fresh store.
// Checks test the contract of store/store.h only, nothing backend-specific.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace store_test {

using StoreFactory = std::function<std::unique_ptr<store::Store>()>;

struct Backend {
  std::string name;
  StoreFactory make;  // a fresh, empty store on every call
};

// Every backend under test (backends.cpp).
const std::vector<Backend>& store_backends();

// Wraps a store that lives in a fresh temporary directory: `make` gets the
// directory (absolute, empty); the directory is removed when the returned
// store is destroyed (after the inner store).
std::unique_ptr<store::Store> with_temp_dir(
    const std::function<std::unique_ptr<store::Store>(const std::string& dir)>& make);

}  // namespace store_test
