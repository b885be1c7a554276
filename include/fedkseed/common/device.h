// The --device flag of every subcommand: auto | cpu | cuda | cuda:N | N (the reference passes a
// bare GPU index).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace fedkseed {

// Help text of --device, the same for every subcommand.
extern const char* const kDeviceHelp;

// "auto" is cuda:0 when this build sees a CUDA device, else the CPU. Throws fedkseed::Error
// naming --device when the text is malformed, when CUDA is asked for on a build without CUDA,
// or when the device does not exist.
c10::Device parse_device(const std::string& text);

}  // namespace fedkseed
