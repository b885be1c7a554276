// Progress notes of the process's main thread: the training loop calls note_progress() at each
// ZO step and evaluation batch, so that a watcher on another thread (the rank group's, under
// torchrun) can tell a busy main thread from a hung one. Lock-free; any thread, any time.
#pragma once

#include <cstdint>

namespace fedkseed {

void note_progress() noexcept;
// Notes so far.
int64_t progress_notes() noexcept;

}  // namespace fedkseed
