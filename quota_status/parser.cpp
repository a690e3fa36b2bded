#include "quota_status/parser.h"

namespace quota_status {

std::optional<std::string_view> Request::get(std::string_view name) const {
  for (auto it = attributes.rbegin(); it != attributes.rend(); ++it) {
    if (it->first == name) return std::string_view(it->second);
  }
  return std::nullopt;
}

void Parser::mark_bad(std::string reason) {
  if (current_.bad) return;
  current_.bad = true;
  current_.reason = std::move(reason);
  current_.attributes.clear();  // never used once bad: free it
}

void Parser::feed(std::string_view bytes, std::vector<Request>* out) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view part = bytes.substr(0, nl);
    if (nl != std::string_view::npos)
      bytes.remove_prefix(nl + 1);
    else
      bytes = {};
    request_bytes_ += part.size() + (nl != std::string_view::npos ? 1 : 0);
    if (!skipping_) {
      // +1: room for a CR that ends the line.
      if (line_.size() + part.size() > limits_.max_line + 1) {
        skipping_ = true;
        line_.clear();
        mark_bad("line too long");
      } else {
        line_.append(part);
      }
    }
    if (nl == std::string_view::npos) break;
    end_line(out);
  }
}

void Parser::end_line(std::vector<Request>* out) {
  bool was_skipping = skipping_;
  skipping_ = false;
  std::string line = std::move(line_);
  line_.clear();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (!was_skipping && line.size() > limits_.max_line) mark_bad("line too long");
  if (line.empty() && !was_skipping) {
    // The end of a request.
    if (current_.attributes.empty() && !current_.bad) mark_bad("empty request");
    out->push_back(std::move(current_));
    current_ = Request{};
    request_bytes_ = 0;
    lines_ = 0;
    return;
  }
  if (was_skipping || current_.bad) return;
  if (++lines_ > limits_.max_attributes) return mark_bad("too many attributes");
  if (request_bytes_ > limits_.max_request) return mark_bad("request too large");
  if (line.find('\0') != std::string::npos) return mark_bad("NUL in a line");
  size_t eq = line.find('=');
  if (eq == std::string::npos) return mark_bad("line without '='");
  if (eq == 0) return mark_bad("empty attribute name");
  current_.attributes.emplace_back(line.substr(0, eq), line.substr(eq + 1));
}

}  // namespace quota_status
