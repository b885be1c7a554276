// The --dtype flag: fp16 | bf16 | fp32.
#pragma once

#include <c10/core/ScalarType.h>

#include <string>

namespace fedkseed {

// Throws fedkseed::Error naming `flag` when `text` is not fp16, bf16 or fp32.
c10::ScalarType parse_dtype(const std::string& text, const std::string& flag = "--dtype");
// "fp16", "bf16" or "fp32"; throws fedkseed::Error for other types.
std::string dtype_name(c10::ScalarType type);

}  // namespace fedkseed
