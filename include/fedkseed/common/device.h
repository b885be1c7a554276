// The --device flag: cpu | cuda | cuda:N | N (the reference passes a bare GPU index).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace fedkseed {

// Throws fedkseed::Error naming --device when the text is malformed, when CUDA is
// asked for on a build without CUDA, or when the device does not exist.
c10::Device parse_device(const std::string& text);

}  // namespace fedkseed
