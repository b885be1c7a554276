// Internal to src/federation: what distributed.cpp shares with rank_launch.cpp.
#pragma once

#include <optional>
#include <string>

namespace fedkseed {

// The value of environment variable `name`, or nullopt when it is unset or empty.
std::optional<std::string> environment(const char* name);

}  // namespace fedkseed
