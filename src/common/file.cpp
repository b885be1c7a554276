// Whole-file reading and durable replacement (see file.h).
#include "fedkseed/common/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

// Closes the descriptor on every path out; close() errors surface through fsync before it.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// Writes all of `text`, retrying short writes and interrupted calls; errno tells why on false.
bool write_all(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t wrote = ::write(fd, text.data() + done, text.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return false;
    done += static_cast<std::size_t>(wrote);
  }
  return true;
}

[[noreturn]] void fail(const std::string& path, int error_number, const std::string& temporary) {
  ::unlink(temporary.c_str());
  throw Error("write failed: " + path + ": " + std::strerror(error_number));
}

}  // namespace

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    Descriptor file{::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (file.fd < 0) fail(path, errno, temporary);
    if (!write_all(file.fd, text) || ::fsync(file.fd) != 0) fail(path, errno, temporary);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail(path, errno, temporary);
  // The rename itself is durable only once the folder's entry is on disk.
  const std::string folder = std::filesystem::path(path).parent_path().string();
  Descriptor directory{::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (directory.fd >= 0) ::fsync(directory.fd);
}

}  // namespace fedkseed
