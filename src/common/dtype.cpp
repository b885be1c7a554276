// Parsing and naming of the floating-point types fedkseed runs in.
#include "fedkseed/common/dtype.h"

#include "fedkseed/common/error.h"

namespace fedkseed {

c10::ScalarType parse_dtype(const std::string& text, const std::string& flag) {
  if (text == "fp16") return c10::kHalf;
  if (text == "bf16") return c10::kBFloat16;
  if (text == "fp32") return c10::kFloat;
  throw Error(flag + ": '" + text + "' is invalid; accepted: fp16|bf16|fp32");
}

c10::ScalarType resolve_dtype(const std::string& text, c10::Device device, const std::string& stored,
                              const std::string& flag) {
  check_dtype_or_auto(text, flag);
  if (text != "auto") return parse_dtype(text, flag);
  if (device.is_cpu()) return c10::kFloat;
  if (stored == "float16") return c10::kHalf;
  if (stored == "bfloat16") return c10::kBFloat16;
  return c10::kFloat;
}

void check_dtype_or_auto(const std::string& text, const std::string& flag) {
  if (text != "auto" && text != "fp16" && text != "bf16" && text != "fp32") {
    throw Error(flag + ": '" + text + "' is invalid; accepted: fp16|bf16|fp32|auto");
  }
}

std::string dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::kHalf: return "fp16";
    case c10::kBFloat16: return "bf16";
    case c10::kFloat: return "fp32";
    default: throw Error(std::string("dtype ") + c10::toString(type) + " is not one of fp16|bf16|fp32");
  }
}

}  // namespace fedkseed
