// The default thread count: the process's CPU affinity, capped by OMP_NUM_THREADS.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>

#include "fedkseed/common/threads.h"

namespace fedkseed {
namespace {

int64_t affinity_size() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  return CPU_COUNT(&set);
}

TEST(Threads, DefaultIsTheAffinityCappedByOmpNumThreads) {
  const char* saved = std::getenv("OMP_NUM_THREADS");
  const std::string restore = saved ? saved : "";
  unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(default_thread_count(), affinity_size());
  setenv("OMP_NUM_THREADS", "1", 1);
  EXPECT_EQ(default_thread_count(), 1);
  setenv("OMP_NUM_THREADS", "100000", 1);
  EXPECT_EQ(default_thread_count(), affinity_size());
  setenv("OMP_NUM_THREADS", "junk", 1);
  EXPECT_EQ(default_thread_count(), affinity_size());
  if (saved) setenv("OMP_NUM_THREADS", restore.c_str(), 1); else unsetenv("OMP_NUM_THREADS");
}

TEST(Threads, UseThreadsSetsLibTorchsCount) {
  EXPECT_EQ(use_threads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(thread_count(), 1);
  EXPECT_FALSE(oversubscription_advice().has_value());  // one thread: nothing to advise
  EXPECT_THROW(use_threads(-2), std::exception);
}

}  // namespace
}  // namespace fedkseed
