// Reading a whole file, the one way.
#pragma once

#include <optional>
#include <string>

namespace fedkseed {

// The file's bytes, or nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

}  // namespace fedkseed
