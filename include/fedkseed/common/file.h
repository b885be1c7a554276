// Reading a whole file, and replacing one durably, the one way each.
#pragma once

#include <optional>
#include <string>

namespace fedkseed {

// The file's bytes, or nullopt when it cannot be opened.
std::optional<std::string> read_file(const std::string& path);

// Replaces `path` by `text` so that a crash or power loss leaves the old or the new contents,
// never a mix: writes <path>.tmp, fsyncs it, renames it over `path` and fsyncs the folder.
// Throws fedkseed::Error "write failed: <path>: <reason>" (e.g. No space left on device) and
// removes the temporary file when any step fails.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace fedkseed
