// An exclusive advisory lock (flock) on a run folder, held while one process trains or
// resumes it, so that a second process cannot write into the same run.
#pragma once

#include <string>

namespace fedkseed {

class RunLock {
 public:
  // Locks the folder `dir` without waiting. Throws fedkseed::Error naming `dir` when another
  // process holds the lock, or when `dir` cannot be opened.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;  // the folder, opened read-only: closing it releases the lock
};

}  // namespace fedkseed
