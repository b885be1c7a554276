// How many CPU threads LibTorch uses, and with it our own parallel loops (parallel.h). LibTorch's
// default is every core of the machine; on a shared machine (a CI runner, a login node) that
// oversubscribes the cores, and OpenMP's spinning threads then run steps tens of times slower
// than one thread would.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fedkseed {

// The cores this process may run on (its CPU affinity mask), capped by OMP_NUM_THREADS when
// that is a positive number.
int64_t default_thread_count();

// Sets LibTorch's intra-op thread count: `requested`, or default_thread_count() when it is 0.
// Throws fedkseed::Error naming `flag` for a negative count. Returns the count in use.
int64_t use_threads(int64_t requested, const std::string& flag = "--threads");

// LibTorch's intra-op thread count: the one use_threads() set.
int64_t thread_count();

// Times a small matrix product with thread_count() threads and with one. When the threads
// bring no speed-up, other work is using the cores: returns a one-line advice to pass fewer
// threads. Nothing with one thread. Costs a few milliseconds.
std::optional<std::string> oversubscription_advice();

}  // namespace fedkseed
