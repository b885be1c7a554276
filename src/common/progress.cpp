// The main thread's progress counter (see progress.h).
#include "fedkseed/common/progress.h"

#include <atomic>

namespace fedkseed {
namespace {

std::atomic<int64_t> notes{0};

}  // namespace

void note_progress() noexcept { notes.fetch_add(1, std::memory_order_relaxed); }

int64_t progress_notes() noexcept { return notes.load(std::memory_order_relaxed); }

}  // namespace fedkseed
