// Parsing and checking of --device.
#include "fedkseed/common/device.h"

#include <torch/cuda.h>

#include "fedkseed/common/error.h"

namespace fedkseed {

const char* const kDeviceHelp = "auto (cuda:0 when a GPU is visible, else cpu) | cpu | cuda | cuda:N | N (GPU index)";

namespace {

bool cuda_visible() { return FEDKSEED_WITH_CUDA && torch::cuda::device_count() > 0; }

}  // namespace

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return c10::Device(c10::kCPU);
  if (text == "auto") return cuda_visible() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  std::string index_text;
  if (text == "cuda") {
    index_text = "0";
  } else if (text.rfind("cuda:", 0) == 0) {
    index_text = text.substr(5);
  } else {
    index_text = text;
  }
  const bool digits = !index_text.empty() && index_text.size() <= 3 &&
                      index_text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) throw Error("--device: '" + text + "' is invalid; accepted: auto|cpu|cuda|cuda:N|N");
  const int index = std::stoi(index_text);
  if (!FEDKSEED_WITH_CUDA) {
    throw Error("--device " + text + ": CUDA was asked for, but this is a CPU-only build; use --device cpu");
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (count == 0) throw Error("--device " + text + ": no CUDA device is visible; use --device cpu");
  if (index >= count) {
    throw Error("--device " + text + ": CUDA device " + std::to_string(index) + " does not exist (" +
                std::to_string(count) + " visible); use --device cpu or an index below " +
                std::to_string(count));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace fedkseed
