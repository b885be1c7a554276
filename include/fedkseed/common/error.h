// The error type for bad user input (files, flags, data). Library code throws it
// with the object and a diagnosis; only src/main.cpp catches it (one line, exit 2).
#pragma once

#include <stdexcept>
#include <string>

namespace fedkseed {

// Bad input from the user: a missing or corrupt file, an impossible flag value.
// `what()` names the object first, e.g. "checkpoint dir/x.safetensors: header truncated".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace fedkseed
