// Parallel loops on LibTorch's intra-op threads (see parallel.h).
#include "fedkseed/common/parallel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <vector>

// at::parallel_for is inline: without OpenMP in this translation unit it would run serially.
#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "fedkseed's parallel loops need OpenMP (CMakeLists.txt links OpenMP::OpenMP_CXX)"
#endif

namespace fedkseed {

void parallel_for_each(int64_t n, const std::function<void(int64_t)>& body) {
  if (n <= 0) return;
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
  std::atomic<int64_t> next{0};
  const int64_t workers = std::min<int64_t>(n, at::get_num_threads());
  // One task per worker (grain 1); each worker then takes indices until none are left.
  at::parallel_for(0, workers, 1, [&](int64_t, int64_t) {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  });
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace fedkseed
