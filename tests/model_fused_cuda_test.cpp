// The fused CUDA kernels of the LLaMA layer (src/model/fused_cuda.h) against the ATen op chains
// they replace: equal bit for bit in fp32, fp16 and bf16, for prefill- and decode-shaped input.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

#if FEDKSEED_WITH_CUDA
#include "fused_cuda.h"
#endif

namespace fedkseed {
namespace {

TEST(ModelFusedCuda, RmsNormAndSwigluEqualTheAtenChainsBitForBit) {
#if FEDKSEED_WITH_CUDA
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(0);
  const double eps = 1e-6;
  for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    // Widths that take 16-byte accesses (320, 96) and ones that cannot (38).
    for (const auto& [rows, hidden, inner] :
         {std::tuple{std::vector<int64_t>{2, 37}, int64_t{320}, int64_t{96}},
          std::tuple{std::vector<int64_t>{5, 1}, int64_t{320}, int64_t{96}},
          std::tuple{std::vector<int64_t>{3, 7}, int64_t{38}, int64_t{38}}}) {
      const auto options = at::TensorOptions().dtype(dtype).device(at::kCUDA);
      std::vector<int64_t> shape = rows;
      shape.push_back(hidden);
      const at::Tensor x = (at::randn(shape, options.dtype(at::kFloat)) * 3).to(dtype);
      const at::Tensor weight = (at::rand({hidden}, options.dtype(at::kFloat)) + 0.5).to(dtype);
      const at::Tensor xf = x.to(at::kFloat);
      const at::Tensor variance = xf.pow(2).mean(-1, true);
      const at::Tensor expected = weight * (xf * at::rsqrt(variance + eps)).to(dtype);
      const at::Tensor fused =
          detail::rms_norm_scale_cuda(x, detail::square_to_float_cuda(x).mean(-1, true), weight, eps);
      EXPECT_TRUE(at::equal(fused, expected)) << dtype << " rms_norm, max diff "
                                              << (fused.to(at::kFloat) - expected.to(at::kFloat)).abs().max();

      std::vector<int64_t> wide = rows;
      wide.push_back(2 * inner);
      const auto gate_up = (at::randn(wide, options.dtype(at::kFloat)) * 4).to(dtype).chunk(2, -1);
      ASSERT_TRUE(detail::silu_mul_cuda_accepts(gate_up[0], gate_up[1]));
      const at::Tensor product = detail::silu_mul_cuda(gate_up[0], gate_up[1]);
      const at::Tensor reference = at::silu(gate_up[0]) * gate_up[1];
      EXPECT_TRUE(product.is_contiguous());
      EXPECT_TRUE(at::equal(product, reference)) << dtype << " swiglu, max diff "
                                                 << (product.to(at::kFloat) - reference.to(at::kFloat)).abs().max();
    }
  }
  const at::Tensor strided = at::randn({4, 8, 16}, at::TensorOptions().device(at::kCUDA)).transpose(0, 1);
  EXPECT_FALSE(detail::silu_mul_cuda_accepts(strided, strided)) << "rows not at one stride: the ATen path";
#else
  GTEST_SKIP() << "a CPU-only build has no fused CUDA kernels";
#endif
}

TEST(ModelFusedCuda, OneKernelRmsNormEqualsTheAtenChainBitForBit) {
#if FEDKSEED_WITH_CUDA
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(2);
  const double eps = 1e-5;
  for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    const auto options = at::TensorOptions().dtype(dtype).device(at::kCUDA);
    // Training-shaped rows of the presets' widths (dj-1.3b, open-llama-3b, llama-7b/13b/33b),
    // rows that do not fill a block of 16, the widest row one warp sums, short rows, and
    // decoding's few rows, which ATen sums with up to 16 warps per row.
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{
             {256, 2048}, {256, 3200}, {64, 4096}, {48, 5120}, {17, 6656}, {74, 320}, {16, 8160}, {3, 128}, {1, 200},
             {1, 2048}, {1, 3200}, {1, 6656}, {2, 6656}, {5, 320}, {8, 4096}}) {
      const at::Tensor x = (at::randn({rows, width}, options.dtype(at::kFloat)) * 3).to(dtype);
      const at::Tensor delta = (at::randn({rows, width}, options.dtype(at::kFloat)) * 2).to(dtype);
      const at::Tensor weight = (at::rand({width}, options.dtype(at::kFloat)) + 0.5).to(dtype);
      ASSERT_TRUE(detail::rms_norm_rows_cuda_accepts(x, weight)) << rows << " x " << width;
      auto aten_norm = [&](const at::Tensor& input) {
        const at::Tensor xf = input.to(at::kFloat);
        return weight * (xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps)).to(dtype);
      };
      const at::Tensor expected = aten_norm(x), fused = detail::rms_norm_rows_cuda(x, weight, eps);
      EXPECT_TRUE(at::equal(fused, expected)) << dtype << " " << rows << " x " << width << ", max diff "
                                              << (fused.to(at::kFloat) - expected.to(at::kFloat)).abs().max();
      const auto [sum, normed] = detail::add_rms_norm_rows_cuda(x, delta, weight, eps);
      const at::Tensor expected_sum = x + delta;
      EXPECT_TRUE(at::equal(sum, expected_sum)) << dtype << " residual add";
      EXPECT_TRUE(at::equal(normed, aten_norm(expected_sum))) << dtype << " " << rows << " x " << width;
    }
    // ATen splits these rows across warps, or sums them unvectorised: the fused kernel refuses
    // them.
    for (const auto& [rows, width] : std::vector<std::pair<int64_t, int64_t>>{{16, 8192}, {1, 8192}, {4, 100}, {3, 130}}) {
      const at::Tensor x = at::zeros({rows, width}, options);
      EXPECT_FALSE(detail::rms_norm_rows_cuda_accepts(x, at::ones({width}, options))) << rows << " x " << width;
    }
  }
#else
  GTEST_SKIP() << "a CPU-only build has no fused CUDA kernels";
#endif
}

TEST(ModelFusedCuda, ResidualAddAndRopeEqualTheAtenChainsBitForBit) {
#if FEDKSEED_WITH_CUDA
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(1);
  for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    const auto options = at::TensorOptions().dtype(dtype).device(at::kCUDA);
    // Prefill- and decode-shaped: [batch, tokens], with grouped key/value heads (6 query, 2 kv).
    // Shapes that take 16-byte accesses (width 320, head dim 16), pairs (head dims 12, and 16
    // padded to 22) and single elements (width 37, head dim 10).
    for (const auto& [batch, tokens, width, hd] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{
             {2, 37, 320, 16}, {5, 1, 320, 16}, {3, 5, 37, 12}, {2, 3, 37, 10}}) {
      const at::Tensor x = (at::randn({batch, tokens, width}, options.dtype(at::kFloat)) * 3).to(dtype);
      const at::Tensor delta = (at::randn({batch, tokens, width}, options.dtype(at::kFloat)) * 2).to(dtype);
      const auto [sum, squares] = detail::add_square_to_float_cuda(x, delta);
      const at::Tensor expected_sum = x + delta;
      EXPECT_TRUE(at::equal(sum, expected_sum)) << dtype << " residual add";
      EXPECT_TRUE(at::equal(squares, expected_sum.to(at::kFloat).pow(2))) << dtype << " squares";

      const int64_t heads = 6, kv = 2;
      const at::Tensor qkv = (at::randn({batch, tokens, (heads + 2 * kv) * hd}, options.dtype(at::kFloat)) * 2).to(dtype);
      const at::Tensor positions = at::randint(0, 500, {batch, tokens}, options.dtype(at::kLong));
      const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * at::rand({hd / 2}, options.dtype(at::kFloat));
      const at::Tensor angles = at::cat({freqs, freqs}, -1).unsqueeze(1);
      const at::Tensor cos = angles.cos().to(dtype), sin = angles.sin().to(dtype);
      const at::Tensor query_key =
          qkv.narrow(-1, 0, (heads + kv) * hd).view({batch, tokens, heads + kv, hd}).transpose(1, 2);
      const at::Tensor rotated_half =
          at::cat({-query_key.narrow(-1, hd / 2, hd / 2), query_key.narrow(-1, 0, hd / 2)}, -1);
      const at::Tensor expected = query_key * cos + rotated_half * sin;
      const at::Tensor fused = detail::rope_query_key_cuda(qkv, cos, sin, heads + kv, hd);
      EXPECT_EQ(fused.sizes(), expected.sizes());
      for (int64_t d = 0; d < fused.dim(); ++d) {  // the layout ATen's chain gives (a size-1 dim's stride is moot)
        if (fused.size(d) > 1) {
          EXPECT_EQ(fused.stride(d), expected.stride(d)) << "dim " << d;
        }
      }
      EXPECT_TRUE(at::equal(fused, expected)) << dtype << " rope, max diff "
                                              << (fused.to(at::kFloat) - expected.to(at::kFloat)).abs().max();

      // The attention inputs: the rotated heads, then the value heads, each zero-padded by 6.
      const at::Tensor values = qkv.narrow(-1, (heads + kv) * hd, kv * hd).view({batch, tokens, kv, hd}).transpose(1, 2);
      const at::Tensor padded = at::constant_pad_nd(at::cat({expected, values}, 1), {0, 6});
      const at::Tensor inputs = detail::attention_inputs_cuda(qkv, cos, sin, heads + kv, kv, hd, hd + 6);
      EXPECT_EQ(inputs.sizes(), padded.sizes());
      EXPECT_EQ(inputs.stride(-1), 1);
      EXPECT_TRUE(at::equal(inputs, padded)) << dtype << " attention inputs";
    }
  }
#else
  GTEST_SKIP() << "a CPU-only build has no fused CUDA kernels";
#endif
}

}  // namespace
}  // namespace fedkseed
