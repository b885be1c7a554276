// The --dtype flag: fp16 | bf16 | fp32, or auto (by device).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace fedkseed {

// Throws fedkseed::Error naming `flag` when `text` is not fp16, bf16 or fp32.
c10::ScalarType parse_dtype(const std::string& text, const std::string& flag = "--dtype");
// parse_dtype, or for "auto" fp32 on the CPU (where fp16 is about three times slower) and fp16
// (the reference's precision) on a GPU.
c10::ScalarType resolve_dtype(const std::string& text, c10::Device device, const std::string& flag = "--dtype");
// "fp16", "bf16" or "fp32"; throws fedkseed::Error for other types.
std::string dtype_name(c10::ScalarType type);

}  // namespace fedkseed
