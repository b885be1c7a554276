// parallel_for over [0, n) on thread_count() threads (internal to the data layer). The first
// exception thrown by any index (lowest index wins) is rethrown after all threads end.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "fedkseed/common/threads.h"

namespace fedkseed::detail {

template <class Body>
void parallel_for(int64_t n, Body&& body) {
  const int64_t workers = std::min<int64_t>(n, thread_count());
  std::vector<std::exception_ptr> errors(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::atomic<int64_t> next{0};
  const auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace fedkseed::detail
