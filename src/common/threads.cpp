// Thread counts (see threads.h).
#include "fedkseed/common/threads.h"

#include <ATen/Parallel.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/ones.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

int64_t affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

// Best of a few timings of a product large enough for LibTorch to split across threads.
double product_seconds() {
  const at::Tensor a = at::ones({384, 384});
  double best = 1e30;
  for (int repeat = 0; repeat < 5; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i) (void)at::mm(a, a);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

int64_t default_thread_count() {
  int64_t cores = affinity_cores();
  if (const char* omp = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long value = std::strtol(omp, &end, 10);
    if (end != omp && *end == '\0' && value > 0) cores = std::min<int64_t>(cores, value);
  }
  return cores;
}

int64_t use_threads(int64_t requested, const std::string& flag) {
  if (requested < 0) throw Error(flag + " " + std::to_string(requested) + ": must be 0 (automatic) or a positive count");
  const int64_t count = requested == 0 ? default_thread_count() : requested;
  at::set_num_threads(static_cast<int>(count));
  return count;
}

int64_t thread_count() { return at::get_num_threads(); }

std::optional<std::string> oversubscription_advice() {
  const int64_t threads = thread_count();
  if (threads <= 1) return std::nullopt;
  const double with_all = product_seconds();
  at::set_num_threads(1);
  const double with_one = product_seconds();
  at::set_num_threads(static_cast<int>(threads));
  // Idle cores give close to `threads`-fold; no gain at all means they are taken.
  if (with_all < 0.9 * with_one) return std::nullopt;
  char advice[256];
  std::snprintf(advice, sizeof(advice),
                "%lld threads ran a probe no faster than one thread (%.1f ms vs %.1f ms): other work is using the "
                "cores, which can slow steps tens of times; pass --threads 1 (or a count of idle cores)",
                static_cast<long long>(threads), with_all * 1e3, with_one * 1e3);
  return std::string(advice);
}

}  // namespace fedkseed
