// The error type for bad user input (files, flags, data). Library code throws it
// with the object and a diagnosis; only src/main.cpp catches it (one line, exit 2).
#pragma once

#include <stdexcept>
#include <string>

namespace fedkseed {

// `text` with every control byte written as \xNN: a NUL would end what() early and a newline
// would break the one-line error contract (names and values come from user files).
inline std::string printable(const std::string& text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const unsigned char c : text) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// Bad input from the user: a missing or corrupt file, an impossible flag value.
// `what()` names the object first, e.g. "checkpoint dir/x.safetensors: header truncated".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(printable(message)) {}
};

}  // namespace fedkseed
