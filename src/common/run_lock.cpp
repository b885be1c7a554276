// The lock is taken on the folder itself, so no lock file is left behind and a folder
// copied elsewhere is a new, unlocked run. flock locks belong to the open folder: the lock
// ends with this process, however it ends (kill -9 included).
#include "fedkseed/common/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fedkseed/common/error.h"

namespace fedkseed {

RunLock::RunLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  if (fd_ < 0) throw Error("run directory " + dir + ": cannot open (" + std::strerror(errno) + ")");
  int result = 0;
  do {
    result = ::flock(fd_, LOCK_EX | LOCK_NB);
  } while (result != 0 && errno == EINTR);
  if (result != 0) {
    const int error_number = errno;
    ::close(fd_);
    if (error_number == EWOULDBLOCK) {
      throw Error("run directory " + dir + ": another fedkseed process is training this run (it holds the run's "
                  "lock); wait for it to end or stop it first");
    }
    throw Error("run directory " + dir + ": cannot lock (" + std::strerror(error_number) + ")");
  }
}

RunLock::~RunLock() { ::close(fd_); }

}  // namespace fedkseed
