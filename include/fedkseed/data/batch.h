// Collation of examples into right-padded LibTorch batches for the loss. Unlike the
// reference (§4.4), the attention mask comes from the lengths, not from ids != pad, so a
// pad id that also occurs as a real token (e.g. EOS) is harmless.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "fedkseed/data/example.h"

namespace fedkseed {

// All int64 on the CPU, shape [batch, longest example].
struct Batch {
  at::Tensor input_ids;       // padded with pad_id
  at::Tensor labels;          // padded with kIgnoreIndex
  at::Tensor attention_mask;  // 1 for real tokens, 0 for padding
};

// Pads every example on the right to the longest one. `pad_id` must be a valid embedding
// row (see batch_pad_id); throws fedkseed::Error for an empty list or an empty example.
Batch collate(const std::vector<const Example*>& examples, int64_t pad_id);

// The id used for padding: the tokenizer's pad when it is a row of an embedding table of
// `embedding_rows` rows, else EOS (DataJuicer's <PAD> = 32004 fits a 32128-row table;
// OpenLLaMA's added [PAD] = 32000 does not fit its 32000 rows). Masks make the value moot.
int64_t batch_pad_id(const Tokenizer& tokenizer, int64_t embedding_rows);

}  // namespace fedkseed
