// The --dtype flag: fp16 | bf16 | fp32, or auto (by device and checkpoint).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace fedkseed {

// Throws fedkseed::Error naming `flag` when `text` is not fp16, bf16 or fp32.
c10::ScalarType parse_dtype(const std::string& text, const std::string& flag = "--dtype");
// parse_dtype, or for "auto": fp32 on the CPU (where fp16 is about three times slower), else
// `stored`, the dtype a checkpoint's config.json names (float16, bfloat16; fp32 for any other
// or none). Throws fedkseed::Error naming `flag` for any other text.
c10::ScalarType resolve_dtype(const std::string& text, c10::Device device, const std::string& stored,
                              const std::string& flag = "--dtype");
// Throws fedkseed::Error naming `flag` unless `text` is fp16, bf16, fp32 or auto.
void check_dtype_or_auto(const std::string& text, const std::string& flag = "--dtype");
// "fp16", "bf16" or "fp32"; throws fedkseed::Error for other types.
std::string dtype_name(c10::ScalarType type);

}  // namespace fedkseed
