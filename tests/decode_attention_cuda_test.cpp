// decode_attention_cuda (src/model/decode_attention_cuda.h) against attention computed in fp64
// on the CPU from the same inputs: masked slots (holes included), grouped heads, head dims that
// are not multiples of 32, strided query views, slots split over several blocks and not; and the
// cache write against index_copy_; the split launches' counters, shared by all launches, back at zero.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <ATen/ATen.h>

#include <tuple>

#if FEDKSEED_WITH_CUDA
#include "decode_attention_cuda.h"
#endif

namespace fedkseed {
namespace {

TEST(DecodeAttentionCuda, MatchesFp64AttentionAndWritesTheSlot) {
#if FEDKSEED_WITH_CUDA
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(0);
  const int64_t batch = 3;
  at::Tensor tickets;  // shared by every launch, as by a model's layers and steps
  // (heads, kv heads, head dim, slots, slot)
  for (const auto& [heads, kv, dim, slots, slot] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>{4, 4, 64, 48, 47}, {8, 2, 104, 70, 17},
        {6, 1, 256, 33, 0}, {2, 2, 8, 5, 3}, {128, 32, 8, 40, 39}}) {
    for (const auto& [dtype, tolerance] : {std::tuple{at::kFloat, 2e-5}, std::tuple{at::kHalf, 4e-3},
                                           std::tuple{at::kBFloat16, 3e-2}}) {
      const auto cuda = at::TensorOptions().dtype(dtype).device(at::kCUDA);
      // q, k, v as the model passes them: head-major views of one token-major projection.
      const at::Tensor projection = at::randn({batch, 1, heads + 2 * kv, dim}, cuda.dtype(at::kFloat)).to(dtype);
      const at::Tensor q = projection.narrow(2, 0, heads).transpose(1, 2);
      const at::Tensor k = projection.narrow(2, heads, kv).transpose(1, 2);
      const at::Tensor v = projection.narrow(2, heads + kv, kv).transpose(1, 2);
      const at::Tensor keys = at::randn({batch, kv, slots, dim}, cuda.dtype(at::kFloat)).to(dtype);
      const at::Tensor values = at::randn({batch, kv, slots, dim}, cuda.dtype(at::kFloat)).to(dtype);
      at::Tensor mask = at::rand({batch, slots}, cuda.dtype(at::kFloat)) < 0.7;
      mask.select(1, slot).fill_(true);
      mask.narrow(1, slot + 1, slots - slot - 1).fill_(false);  // decoding fills the cache in order
      const at::Tensor slot_tensor = at::full({1}, slot, cuda.dtype(at::kLong));

      at::Tensor expected_keys = keys.clone(), expected_values = values.clone();
      expected_keys.index_copy_(2, slot_tensor, k);
      expected_values.index_copy_(2, slot_tensor, v);
      // fp64 reference on the CPU, from the cache as it is after the write.
      const at::Tensor q64 = q.to(at::kCPU, at::kDouble);
      const at::Tensor k64 = expected_keys.to(at::kCPU, at::kDouble).repeat_interleave(heads / kv, 1);
      const at::Tensor v64 = expected_values.to(at::kCPU, at::kDouble).repeat_interleave(heads / kv, 1);
      const at::Tensor scores = at::matmul(q64, k64.transpose(2, 3)) / std::sqrt(static_cast<double>(dim));
      const at::Tensor masked =
          scores.masked_fill(mask.to(at::kCPU).logical_not().view({batch, 1, 1, slots}), -INFINITY);
      const at::Tensor expected = at::matmul(at::softmax(masked, -1), v64).transpose(1, 2);  // [B, 1, H, D]

      const at::Tensor out = detail::decode_attention_cuda(q, k, v, keys, values, mask, slot_tensor,
                                                           1.0 / std::sqrt(static_cast<double>(dim)), tickets);
      ASSERT_EQ(out.sizes(), expected.sizes());
      EXPECT_TRUE(out.is_contiguous());
      const double error = (out.to(at::kCPU, at::kDouble) - expected).abs().max().item<double>();
      EXPECT_LE(error, tolerance) << dtype << " heads " << heads << "/" << kv << " dim " << dim;
      EXPECT_TRUE(at::equal(keys, expected_keys)) << dtype << " key cache";
      EXPECT_TRUE(at::equal(values, expected_values)) << dtype << " value cache";
      if (tickets.defined()) {
        EXPECT_EQ(tickets.count_nonzero().item<int64_t>(), 0) << "tickets left for the next launch";
      }
    }
  }
  EXPECT_TRUE(tickets.defined()) << "no case split the slots over blocks";
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

}  // namespace
}  // namespace fedkseed
