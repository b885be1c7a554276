// The process-wide memory peaks a run reports (never reset, as the reference's
// torch.cuda.max_memory_*): the CUDA caching allocator's on a GPU, the resident set size on
// the CPU (both numbers then equal).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <utility>

namespace fedkseed {

// (peak allocated, peak reserved) bytes on `device`.
std::pair<int64_t, int64_t> peak_memory(c10::Device device);

}  // namespace fedkseed
