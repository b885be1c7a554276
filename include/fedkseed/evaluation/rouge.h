// Rouge-L F exactly as the `rouge` 1.0.1 PyPI package (pltrdy) computes it with its
// defaults (summary-level union LCS, exclusive word sets) — the metric the reference
// reports — not Google's rouge_score. Torch-free.
#pragma once

#include <optional>
#include <string>

namespace fedkseed {

// Rouge-L F of one hypothesis against one reference, in [0, 1]. Returns nullopt where
// the package raises ValueError (a side with no sentence, e.g. "" or "..."); the
// reference scores those 0.
std::optional<double> rouge_l_f(const std::string& hypothesis, const std::string& reference);

}  // namespace fedkseed
