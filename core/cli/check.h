// Configuration checks shared by `roost check-config` and `roostd --check-config`.
// They print every problem as "FILE:LINE: message" (warnings as
// "FILE:LINE: warning: message") and return a process exit code.
#pragma once

#include <ostream>
#include <string>

namespace core::cli {

// Loads and validates everything: the main config, every domain file
// (including each account's password hash), the directory (domains claimed
// twice), the TLS certificates and the store and state paths. Prints every
// problem; returns 1 when any is an error, else prints
// "configuration OK: N domains, M accounts" and returns 0.
int run_check_config(const std::string& config_path, std::ostream& out);

// Validates one domain file alone, as a control panel does before renaming it
// into place; needs no main config. A candidate written under a name that does
// not count as a domain file (".example.test.yaml", "example.test.yaml.tmp")
// passes with a warning that it must be renamed. When config_path is
// not empty and the main config loads, also checks that the domain and its
// alias domains are not claimed by another file of domains_dir (the file the
// candidate replaces is not counted). Returns 0 when the file is usable, else 1.
int run_check_domain(const std::string& domain_file, std::ostream& out,
                     const std::string& config_path = {});

}  // namespace core::cli
