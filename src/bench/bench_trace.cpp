// `fedkseed bench --trace DIR`: a figure's work done once more, untimed, recorded by LibTorch's
// Kineto profiler (CPU operators and, on a GPU, every kernel with its own start and end, those
// replayed from CUDA graphs included) as a Chrome trace, DIR/<figure>.json, that Perfetto or
// chrome://tracing opens and scripts/trace_summary.py tabulates. Kernel times there are the
// device's own, so they show where a figure's time goes without hardware counters.
#include <torch/csrc/autograd/profiler_kineto.h>

#include <filesystem>

#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "bench_internal.h"

namespace fedkseed::bench {

void prepare_trace_dir(const BenchOptions& options) {
  if (options.trace_dir.empty()) return;
  std::error_code error;
  std::filesystem::create_directories(options.trace_dir, error);
  if (error || !std::filesystem::is_directory(options.trace_dir)) {
    throw Error("--trace " + options.trace_dir + ": cannot be created as a directory" +
                (error ? " (" + error.message() + ")" : ""));
  }
}

void trace_call(const BenchOptions& options, c10::Device device, const std::string& figure,
                const std::function<void()>& call) {
  if (options.trace_dir.empty()) return;
  namespace profiler = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  std::set<ActivityType> activities{ActivityType::CPU};
  if (device.is_cuda()) activities.insert(ActivityType::CUDA);
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  synchronize(device);
  profiler::prepareProfiler(config, activities);
  profiler::enableProfiler(config, activities);
  try {
    call();
    synchronize(device);
  } catch (...) {
    profiler::disableProfiler();  // a profiler left running crashes the process at exit
    throw;
  }
  const std::string path = (std::filesystem::path(options.trace_dir) / (figure + ".json")).string();
  profiler::disableProfiler()->save(path);
  log::info("bench: traced " + figure + " to " + path);
}

}  // namespace fedkseed::bench
