// The Outlook (v1) Autodiscover request body, read with expat: the text of
// Autodiscover/Request/EMailAddress, whatever namespace the client used.
#include <expat.h>

#include "autoconfig/autoconfig.h"

namespace autoconfig {

namespace {

struct State {
  XML_Parser parser = nullptr;
  std::vector<std::string> stack;  // local names of the open elements
  bool in_address = false;
  bool done = false;
  bool rejected = false;
  std::string address;
};

// Element names arrive as "namespace-URI|local" (namespace processing on).
std::string local_name(const XML_Char* name) {
  std::string n(name);
  auto bar = n.rfind('|');
  return bar == std::string::npos ? n : n.substr(bar + 1);
}

void XMLCALL on_start(void* data, const XML_Char* name, const XML_Char**) {
  auto* s = static_cast<State*>(data);
  s->stack.push_back(local_name(name));
  if (s->stack.size() > 16) {
    s->rejected = true;
    XML_StopParser(s->parser, XML_FALSE);
    return;
  }
  if (!s->done && s->stack.size() == 3 && s->stack[0] == "Autodiscover" &&
      s->stack[1] == "Request" && s->stack[2] == "EMailAddress") {
    s->in_address = true;
  }
}

void XMLCALL on_end(void* data, const XML_Char*) {
  auto* s = static_cast<State*>(data);
  if (s->in_address) {
    s->in_address = false;
    s->done = true;
  }
  if (!s->stack.empty()) s->stack.pop_back();
}

void XMLCALL on_text(void* data, const XML_Char* text, int len) {
  auto* s = static_cast<State*>(data);
  if (s->in_address && s->address.size() < 1024) s->address.append(text, static_cast<size_t>(len));
}

// No DOCTYPE at all: a request never needs one, and refusing it rules out
// entity expansion tricks.
void XMLCALL on_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  auto* s = static_cast<State*>(data);
  s->rejected = true;
  XML_StopParser(s->parser, XML_FALSE);
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::optional<std::string> outlook_request_address(std::string_view xml) {
  if (xml.empty() || xml.size() > 1024 * 1024) return std::nullopt;
  State state;
  XML_Parser p = XML_ParserCreateNS(nullptr, '|');
  if (!p) return std::nullopt;
  state.parser = p;
  XML_SetUserData(p, &state);
  XML_SetElementHandler(p, on_start, on_end);
  XML_SetCharacterDataHandler(p, on_text);
  XML_SetStartDoctypeDeclHandler(p, on_doctype);
  auto status = XML_Parse(p, xml.data(), static_cast<int>(xml.size()), XML_TRUE);
  XML_ParserFree(p);
  if (status != XML_STATUS_OK || state.rejected || !state.done) return std::nullopt;
  std::string a = trim(state.address);
  if (a.empty()) return std::nullopt;
  return a;
}

}  // namespace autoconfig
