// Our own CPU parallelism: loops run on LibTorch's intra-op threads (at::parallel_for, OpenMP in
// LibTorch's CPU builds), whose count use_threads() sets (threads.h), so that our loops and
// LibTorch's kernels share one set of threads.
#pragma once

#include <cstdint>
#include <functional>

namespace fedkseed {

// Calls body(i) once for every i in [0, n) on up to at::get_num_threads() threads, each taking
// the next index as it finishes one (items of uneven cost balance out); serially when called
// inside a parallel region. Every index runs even when some throw; the exception of the lowest
// index that threw is then rethrown, the same error on any thread count.
void parallel_for_each(int64_t n, const std::function<void(int64_t)>& body);

}  // namespace fedkseed
