// Right padding, attention mask and -100 label padding for a list of examples.
#include "fedkseed/data/batch.h"

#include <ATen/ops/empty.h>

#include <algorithm>

#include "fedkseed/common/error.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {

Batch collate(const std::vector<const Example*>& examples, int64_t pad_id) {
  if (examples.empty()) throw Error("collate: empty batch");
  size_t longest = 0;
  for (const Example* example : examples) {
    if (example->input_ids.empty() || example->labels.size() != example->input_ids.size()) {
      throw Error("collate: an example has no tokens or labels of a different length");
    }
    longest = std::max(longest, example->input_ids.size());
  }
  const auto rows = static_cast<int64_t>(examples.size());
  const auto columns = static_cast<int64_t>(longest);
  Batch batch{at::empty({rows, columns}, at::kLong), at::empty({rows, columns}, at::kLong),
              at::empty({rows, columns}, at::kLong)};
  auto* ids = batch.input_ids.data_ptr<int64_t>();
  auto* labels = batch.labels.data_ptr<int64_t>();
  auto* mask = batch.attention_mask.data_ptr<int64_t>();
  for (int64_t row = 0; row < rows; ++row) {
    const Example& example = *examples[row];
    const auto length = static_cast<int64_t>(example.input_ids.size());
    for (int64_t column = 0; column < columns; ++column) {
      const bool real = column < length;
      const int64_t at = row * columns + column;
      ids[at] = real ? example.input_ids[column] : pad_id;
      labels[at] = real ? example.labels[column] : kIgnoreIndex;
      mask[at] = real ? 1 : 0;
    }
  }
  return batch;
}

int64_t batch_pad_id(const Tokenizer& tokenizer, int64_t embedding_rows) {
  const int64_t pad = tokenizer.pad_id();
  return pad >= 0 && pad < embedding_rows ? pad : tokenizer.eos_id();
}

}  // namespace fedkseed
