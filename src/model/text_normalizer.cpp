// Normalizer steps; utf8proc provides the Unicode normal forms and stays inside this file.
#include "text_normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "fedkseed/common/error.h"
#include "byte_level.h"

namespace fedkseed::bpe {
namespace {

std::string normal_form(const std::string& text, utf8proc_option_t options) {
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &result, static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (length < 0) throw Error(std::string("tokenizer: cannot normalize text (") + utf8proc_errmsg(length) + ")");
  std::string out(reinterpret_cast<const char*>(result), static_cast<size_t>(length));
  std::free(result);
  return out;
}

}  // namespace

std::string normalize(const std::vector<NormalizerStep>& steps, const std::string& segment) {
  std::string text = segment;
  for (const auto& step : steps) {
    switch (step.kind) {
      case NormalizerStep::Kind::kNfc:
        text = normal_form(text, UTF8PROC_COMPOSE);
        break;
      case NormalizerStep::Kind::kNfd:
        text = normal_form(text, UTF8PROC_DECOMPOSE);
        break;
      case NormalizerStep::Kind::kNfkc:
        text = normal_form(text, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
        break;
      case NormalizerStep::Kind::kNfkd:
        text = normal_form(text, static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
        break;
      case NormalizerStep::Kind::kPrepend:
        if (!text.empty()) text.insert(0, step.content);  // tokenizers leaves an empty segment alone
        break;
      case NormalizerStep::Kind::kReplace:
        text = replace_all(text, step.pattern, step.content);
        break;
    }
  }
  return text;
}

}  // namespace fedkseed::bpe
