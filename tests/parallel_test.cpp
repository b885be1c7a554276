// parallel_for_each: every index once, on several of LibTorch's threads, the lowest index's
// exception whatever the thread count, and serial inside another parallel loop.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fedkseed/common/parallel.h"

namespace fedkseed {
namespace {

// Sets LibTorch's thread count for one test and restores it.
class ThreadCount {
 public:
  explicit ThreadCount(int count) : saved_(at::get_num_threads()) { at::set_num_threads(count); }
  ~ThreadCount() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

TEST(Parallel, RunsEveryIndexOnce) {
  for (int threads : {1, 3}) {
    const ThreadCount count(threads);
    for (int64_t n : {0, 1, 2, 1000}) {
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(n));
      parallel_for_each(n, [&](int64_t i) { ++runs[i]; });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << "index " << i << " of " << n;
    }
  }
}

TEST(Parallel, UsesSeveralThreads) {
  const ThreadCount count(2);
  // Each index waits until both have started (up to a generous bound, so that a serial loop
  // fails instead of hanging): only another thread can start the second while the first waits.
  std::atomic<int> started{0};
  std::thread::id ran_on[2];
  parallel_for_each(2, [&](int64_t i) {
    ++started;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (started.load() < 2 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    ran_on[i] = std::this_thread::get_id();
  });
  EXPECT_NE(ran_on[0], ran_on[1]);
}

TEST(Parallel, RethrowsTheLowestIndexErrorAfterRunningEveryIndex) {
  for (int threads : {1, 4}) {
    const ThreadCount count(threads);
    std::atomic<int> ran{0};
    try {
      parallel_for_each(100, [&](int64_t i) {
        ++ran;
        if (i == 90 || i == 7 || i == 40) throw std::runtime_error("index " + std::to_string(i));
      });
      ADD_FAILURE() << "no exception with " << threads << " threads";
    } catch (const std::runtime_error& error) {
      EXPECT_EQ(std::string(error.what()), "index 7") << threads << " threads";
    }
    EXPECT_EQ(ran.load(), 100) << threads << " threads";
  }
}

TEST(Parallel, NestedLoopsRunEveryIndex) {
  const ThreadCount count(3);
  std::vector<std::atomic<int>> runs(40);
  parallel_for_each(4, [&](int64_t outer) {
    parallel_for_each(10, [&](int64_t inner) { ++runs[outer * 10 + inner]; });
  });
  for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "index " << i;
}

}  // namespace
}  // namespace fedkseed
