// The --dtype flag: fp16 | bf16 | fp32, and auto (the checkpoint's own dtype) where a
// checkpoint is loaded.
#pragma once

#include <c10/core/ScalarType.h>

#include <string>

namespace fedkseed {

// Throws fedkseed::Error naming `flag` when `text` is not fp16, bf16 or fp32.
c10::ScalarType parse_dtype(const std::string& text, const std::string& flag = "--dtype");
// fp16|bf16|fp32 as parse_dtype, or "auto": `stored`, the dtype a checkpoint's config.json names
// (float16, bfloat16; float32 for any other or none).
c10::ScalarType parse_dtype_or_auto(const std::string& text, const std::string& stored,
                                    const std::string& flag = "--dtype");
// Throws fedkseed::Error naming `flag` unless `text` is fp16, bf16, fp32 or auto.
void check_dtype_or_auto(const std::string& text, const std::string& flag = "--dtype");
// "fp16", "bf16" or "fp32"; throws fedkseed::Error for other types.
std::string dtype_name(c10::ScalarType type);

}  // namespace fedkseed
