#include "core/util/header_fields.h"

namespace core {

namespace {
constexpr bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}
}  // namespace

std::string filter_header_fields(std::string_view header,
                                 const std::function<bool(std::string_view name)>& keep_name) {
  std::string out;
  bool keep = false;
  while (!header.empty()) {
    size_t nl = header.find('\n');
    std::string_view line = nl == std::string_view::npos ? header : header.substr(0, nl);
    header.remove_prefix(nl == std::string_view::npos ? header.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the header's own blank line
    if (!is_wsp(line[0])) {
      size_t colon = line.find(':');
      keep = false;
      if (colon != std::string_view::npos) {
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
        keep = !name.empty() && keep_name(name);
      }
    }
    // Continuation lines follow their field's fate.
    if (keep) {
      out.append(line.data(), line.size());
      out += "\r\n";
    }
  }
  out += "\r\n";
  return out;
}

}  // namespace core
