// Memory peaks (see peak_memory.h).
#include "fedkseed/common/peak_memory.h"

#include <sys/resource.h>

#if FEDKSEED_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace fedkseed {

std::pair<int64_t, int64_t> peak_memory(c10::Device device) {
#if FEDKSEED_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    return {stats.allocated_bytes[all].peak, stats.reserved_bytes[all].peak};
  }
#endif
  (void)device;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const int64_t bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  return {bytes, bytes};
}

}  // namespace fedkseed
