// A small learnable stand-in for Dolly-15K: the embedded default dataset and test input.
#pragma once

#include <cstdint>
#include <string>

namespace fedkseed {

// Writes `records` Dolly-format JSONL lines (instruction, context, response, category)
// over all 8 Dolly categories in roughly Dolly's proportions; each category is a simple
// deterministic task (counting, parity, arithmetic, copy, reverse, capitalise, lookup).
// Same (records, seed) -> same bytes. Throws fedkseed::Error when `path` cannot be written.
void write_synthetic_dolly(const std::string& path, int64_t records, uint64_t seed);

}  // namespace fedkseed
