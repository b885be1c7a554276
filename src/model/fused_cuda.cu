// The kernels of fused_cuda.h: elementwise loops and row kernels, 16-byte accesses where the
// layout allows. Rounding points mirror ATen's:
// float opmath inside each op, one rounding to the tensor's dtype at the end of each op.
// The one-kernel RMSNorm also sums each row in the order of ATen's CUDA reduction (Reduce.cuh of
// the torch we build against), so that logits stay bit-identical to transformers; a bit-for-bit
// test against ATen's mean over the shapes we use guards it across torch versions.
#include "fused_cuda.h"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

namespace fedkseed::detail {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, sms * 32)));
}

// Row kernels: each row of `width` packs is split into chunks of kThreads, one block per chunk,
// so a thread finds its row and column with one 32-bit division (64-bit division and modulo
// per element cost more than the memory traffic of these kernels).
struct RowColumn {
  int64_t row;
  int column;
};

__device__ RowColumn row_column(int chunks) {
  const unsigned row = blockIdx.x / static_cast<unsigned>(chunks);
  const int chunk = static_cast<int>(blockIdx.x - row * static_cast<unsigned>(chunks));
  return {static_cast<int64_t>(row), chunk * kThreads + static_cast<int>(threadIdx.x)};
}

int chunks_for(int64_t width) { return static_cast<int>((width + kThreads - 1) / kThreads); }

int row_blocks(int64_t rows, int64_t width, const char* what) {
  const int64_t blocks = rows * chunks_for(width);
  TORCH_CHECK(width < (int64_t{1} << 30) && blocks < (int64_t{1} << 31), what, ": too many rows or columns");
  return static_cast<int>(blocks);
}

// V consecutive elements moved as one 16-byte access where the layout allows (V = 16 bytes /
// element size), else one at a time (V = 1): the same arithmetic per element either way.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T item[V];
};

template <int V, typename T>
__device__ Pack<T, V> load(const T* from) {
  return *reinterpret_cast<const Pack<T, V>*>(from);
}

template <int V, typename T>
__device__ void store(T* to, const Pack<T, V>& value) {
  *reinterpret_cast<Pack<T, V>*>(to) = value;
}

// Whether every count is a multiple of `width` elements and every pointer aligned to that many.
template <typename T>
bool packs_fit(int width, std::initializer_list<int64_t> counts, std::initializer_list<const void*> pointers) {
  for (const int64_t count : counts) {
    if (count % width != 0) return false;
  }
  for (const void* pointer : pointers) {
    if (reinterpret_cast<std::uintptr_t>(pointer) % (width * sizeof(T)) != 0) return false;
  }
  return true;
}

// The pack width for element type T (16 bytes) when the counts and pointers allow it, else 1.
template <typename T>
int pack_width(std::initializer_list<int64_t> counts, std::initializer_list<const void*> pointers) {
  constexpr int wide = static_cast<int>(16 / sizeof(T));
  return packs_fit<T>(wide, counts, pointers) ? wide : 1;
}

// Runs launch(std::integral_constant<int, V>{}) for the chosen pack width.
template <typename T, typename Launch>
void with_pack_width(int width, const Launch& launch) {
  if (width == 1) {
    launch(std::integral_constant<int, 1>{});
  } else {
    launch(std::integral_constant<int, static_cast<int>(16 / sizeof(T))>{});
  }
}

// pack_width, or pairs of elements where only those fit: head dims such as open-llama-3b's 100
// (halves of 50) would otherwise go one element per thread (on an H200, 9.4 us for its 10 MB of
// attention inputs a layer, 1.7x dj-1.3b's time per byte with 16-byte packs).
template <typename T>
int pack_width_or_pairs(std::initializer_list<int64_t> counts, std::initializer_list<const void*> pointers) {
  const int wide = pack_width<T>(counts, pointers);
  return wide == 1 && packs_fit<T>(2, counts, pointers) ? 2 : wide;
}
template <typename T, typename Launch>
void with_pack_width_or_pairs(int width, const Launch& launch) {
  if (width == 2) {
    launch(std::integral_constant<int, 2>{});
  } else {
    with_pack_width<T>(width, launch);
  }
}

template <typename T>
__global__ void square_to_float_kernel(const T* x, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{blockDim.x} * gridDim.x) {
    const float value = static_cast<float>(x[i]);
    out[i] = value * value;
  }
}

// ATen's add (float sum, cast to T), then that sum squared in float; V elements per step.
template <typename T, int V>
__global__ void add_square_kernel(const T* x, const T* delta, T* sum, float* squares, int64_t packs) {
  for (int64_t p = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; p < packs; p += int64_t{blockDim.x} * gridDim.x) {
    const Pack<T, V> a = load<V>(x + p * V), b = load<V>(delta + p * V);
    Pack<T, V> total;
    Pack<float, V> square;
    for (int v = 0; v < V; ++v) {
      total.item[v] = static_cast<T>(__fadd_rn(static_cast<float>(a.item[v]), static_cast<float>(b.item[v])));
      const float value = static_cast<float>(total.item[v]);
      square.item[v] = value * value;
    }
    store<V>(sum + p * V, total);
    store<V>(squares + p * V, square);
  }
}

// out[b, t, h, d] = x·cos + rotate_half(x)·sin over the first `rotated` heads of qkv, each
// product and the sum rounded to T (the _rn intrinsics keep fp32 from fusing them into an FMA);
// the next `copied` heads as they are. A thread takes V pairs (d, d + head_dim/2), which read
// each other's inputs; the head's threads zero out's columns past head_dim (rows out_head_dim wide).
template <typename T, int V>
__global__ void rope_kernel(const T* qkv, const T* cos, const T* sin, T* out, int chunks, int qkv_heads, int rotated,
                            int copied, int head_dim, int out_head_dim) {
  const RowColumn at = row_column(chunks);
  const int half = head_dim / 2, packs_per_head = half / V;
  if (at.column >= (rotated + copied) * packs_per_head) return;
  const int head = at.column / packs_per_head, pack = at.column - head * packs_per_head, d = pack * V;
  const T* x = qkv + (at.row * qkv_heads + head) * head_dim;
  T* y = out + (at.row * (rotated + copied) + head) * out_head_dim;
  for (int column = head_dim + pack; column < out_head_dim; column += packs_per_head) y[column] = static_cast<T>(0.0f);
  const Pack<T, V> low = load<V>(x + d), high = load<V>(x + d + half);
  if (head >= rotated) {
    store<V>(y + d, low);
    store<V>(y + d + half, high);
    return;
  }
  const T* c = cos + at.row * head_dim;  // cos and sin are [B, 1, T, head_dim]
  const T* s = sin + at.row * head_dim;
  const Pack<T, V> cos_low = load<V>(c + d), cos_high = load<V>(c + d + half);
  const Pack<T, V> sin_low = load<V>(s + d), sin_high = load<V>(s + d + half);
  auto rotate = [](float direct, float partner, T cosine, T sine) {  // −x is exact in T
    const T a = static_cast<T>(__fmul_rn(direct, static_cast<float>(cosine)));
    const T b = static_cast<T>(__fmul_rn(partner, static_cast<float>(sine)));
    return static_cast<T>(__fadd_rn(static_cast<float>(a), static_cast<float>(b)));
  };
  Pack<T, V> out_low, out_high;
  for (int v = 0; v < V; ++v) {
    const float l = static_cast<float>(low.item[v]), h = static_cast<float>(high.item[v]);
    out_low.item[v] = rotate(l, -h, cos_low.item[v], sin_low.item[v]);
    out_high.item[v] = rotate(h, l, cos_high.item[v], sin_high.item[v]);
  }
  store<V>(y + d, out_low);
  store<V>(y + d + half, out_high);
}

// ATen: variance + eps (eps as float), rsqrt, x * that, cast to T, then weight * it in float.
template <typename T, int V>
__global__ void rms_norm_scale_kernel(const T* x, const float* variance, const T* weight, float eps, T* out,
                                      int chunks, int width) {
  const RowColumn at = row_column(chunks);
  const int column = at.column * V;
  if (column >= width) return;
  const int64_t i = at.row * width + column;
  const float scale = rsqrtf(variance[at.row] + eps);
  const Pack<T, V> in = load<V>(x + i), w = load<V>(weight + column);
  Pack<T, V> result;
  for (int v = 0; v < V; ++v) {
    const T normed = static_cast<T>(static_cast<float>(in.item[v]) * scale);
    result.item[v] = static_cast<T>(static_cast<float>(w.item[v]) * static_cast<float>(normed));
  }
  store<V>(out + i, result);
}

// How ATen's reduction (Reduce.cuh) sums each row for a float mean over a contiguous last
// dimension of `width` >= 128 elements in `rows` rows: in 4-element vectors, with `lanes`
// threads per row (32 to 512; a block holds rows_per_block rows and lanes·rows_per_block <= 512
// threads), unless it splits a row across warps or blocks (another order).
struct RowReduceShape {
  int lanes = 0;
  bool splits_rows = false;
};

int last_pow2(int64_t n) {
  int p = 1;
  while (2 * static_cast<int64_t>(p) <= n) p *= 2;
  return p;
}

RowReduceShape aten_row_reduce_shape(int64_t rows, int64_t width) {
  constexpr int kMaxThreads = 512;
  const int64_t vectors = width / 4;
  const int vectors_pow2 = vectors < kMaxThreads ? last_pow2(vectors) : kMaxThreads;
  const int rows_pow2 = rows < kMaxThreads ? last_pow2(rows) : kMaxThreads;
  const int rows_per_block = std::min(rows_pow2, kMaxThreads / std::min(vectors_pow2, 32));
  RowReduceShape shape;
  shape.lanes = std::min(vectors_pow2, kMaxThreads / rows_per_block);
  const int64_t values_per_thread = (width + shape.lanes - 1) / shape.lanes;
  shape.splits_rows = values_per_thread >= std::min(rows_per_block * 16, 256);
  return shape;
}

// A whole RMSNorm (after the residual add when kAdd), one row per block of kRowThreads. The
// block loads the row at once (each thread up to kRowVectors 4-element vectors, kept in
// registers) and leaves the squares in shared memory; the row's sum of squares is then taken in
// ATen's order for this shape (`lanes` as aten_row_reduce_shape): lane l keeps four
// accumulators over the vectors l, l + lanes, ..., adds them in order; a shared-memory tree
// folds the lanes down to 32 (offsets lanes/2, ..., 32), then a shuffle tree (offsets 16, 8,
// 4, 2, 1); times ATen's factor. Then rms_norm_scale_kernel's arithmetic on the registers.
constexpr int kRowThreads = 512, kRowVectors = 4;
template <typename T, bool kAdd>
__global__ void __launch_bounds__(kRowThreads) rms_norm_rows_kernel(const T* x, const T* delta, T* sum, const T* weight,
                                                                    T* out, int width, int lanes, float factor,
                                                                    float eps) {
  using Vec = Pack<T, 4>;
  extern __shared__ float4 squares[];  // [width / 4], then [lanes] partial sums
  float* partial = reinterpret_cast<float*>(squares + width / 4);
  const int64_t row = blockIdx.x;
  const int vectors = width / 4, thread = static_cast<int>(threadIdx.x);
  const Vec* in = reinterpret_cast<const Vec*>(x + row * width);
  const Vec* other = reinterpret_cast<const Vec*>(delta + row * width);
  const Vec* w = reinterpret_cast<const Vec*>(weight);
  Vec values[kRowVectors], scales[kRowVectors], addend[kRowVectors];
#pragma unroll
  for (int j = 0; j < kRowVectors; ++j) {
    const int t = thread + kRowThreads * j;
    if (t < vectors) {
      values[j] = in[t];
      scales[j] = w[t];
      if constexpr (kAdd) addend[j] = other[t];
    }
  }
#pragma unroll
  for (int j = 0; j < kRowVectors; ++j) {
    const int t = thread + kRowThreads * j;
    if (t >= vectors) break;
    if constexpr (kAdd) {
      for (int i = 0; i < 4; ++i) {
        values[j].item[i] =
            static_cast<T>(__fadd_rn(static_cast<float>(values[j].item[i]), static_cast<float>(addend[j].item[i])));
      }
      reinterpret_cast<Vec*>(sum + row * width)[t] = values[j];
    }
    float4 square;
    float* item = &square.x;
    for (int i = 0; i < 4; ++i) {
      const float value = static_cast<float>(values[j].item[i]);
      item[i] = __fmul_rn(value, value);
    }
    squares[t] = square;
  }
  __syncthreads();
  float square_sum = 0.0f;
  if (thread < lanes) {
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int t = thread; t < vectors; t += lanes) {
      const float4 square = squares[t];
      acc[0] = __fadd_rn(acc[0], square.x);
      acc[1] = __fadd_rn(acc[1], square.y);
      acc[2] = __fadd_rn(acc[2], square.z);
      acc[3] = __fadd_rn(acc[3], square.w);
    }
    square_sum = __fadd_rn(__fadd_rn(__fadd_rn(acc[0], acc[1]), acc[2]), acc[3]);
    partial[thread] = square_sum;
  }
  for (int offset = lanes / 2; offset >= 32; offset /= 2) {
    __syncthreads();
    if (thread < offset) {
      square_sum = __fadd_rn(square_sum, partial[thread + offset]);
      partial[thread] = square_sum;
    }
  }
  if (thread < 32) {
    for (int offset = 16; offset > 0; offset /= 2) {
      square_sum = __fadd_rn(square_sum, __shfl_down_sync(0xFFFFFFFFu, square_sum, offset));
    }
  }
  __syncthreads();
  if (thread == 0) partial[0] = square_sum;
  __syncthreads();
  const float scale = rsqrtf(__fadd_rn(__fmul_rn(partial[0], factor), eps));
  Vec* result = reinterpret_cast<Vec*>(out + row * width);
#pragma unroll
  for (int j = 0; j < kRowVectors; ++j) {
    const int t = thread + kRowThreads * j;
    if (t >= vectors) break;
    for (int i = 0; i < 4; ++i) {
      const T normed = static_cast<T>(static_cast<float>(values[j].item[i]) * scale);
      scales[j].item[i] = static_cast<T>(static_cast<float>(scales[j].item[i]) * static_cast<float>(normed));
    }
    result[t] = scales[j];
  }
}

// ATen's silu (x / (1 + exp(-x)) in float, cast to T), then the product in float, cast to T.
template <typename T, int V>
__global__ void silu_mul_kernel(const T* gate, const T* up, int64_t row_stride, T* out, int chunks, int width) {
  const RowColumn at = row_column(chunks);
  const int column = at.column * V;
  if (column >= width) return;
  const int64_t from = at.row * row_stride + column;
  const Pack<T, V> g = load<V>(gate + from), u = load<V>(up + from);
  Pack<T, V> result;
  for (int v = 0; v < V; ++v) {
    const float value = static_cast<float>(g.item[v]);
    const T activated = static_cast<T>(value / (1.0f + expf(-value)));
    result.item[v] = static_cast<T>(static_cast<float>(activated) * static_cast<float>(u.item[v]));
  }
  store<V>(out + at.row * width + column, result);
}

// The stride between consecutive rows of a [..., I] view whose rows lie at one stride (size-1
// dimensions ignored), or 0 when they don't or the last dimension is not contiguous.
int64_t uniform_row_stride(const at::Tensor& view) {
  if (view.dim() == 0 || view.stride(-1) != 1) return 0;
  int64_t row_stride = 0, span = 0;
  for (int64_t d = view.dim() - 2; d >= 0; --d) {
    if (view.size(d) == 1) continue;
    if (row_stride == 0) {
      row_stride = view.stride(d);
    } else if (view.stride(d) != span) {
      return 0;
    }
    span = view.stride(d) * view.size(d);
  }
  return row_stride == 0 ? view.size(-1) : row_stride;
}

}  // namespace

at::Tensor square_to_float_cuda(const at::Tensor& x) {
  const at::Tensor input = x.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  const int64_t n = input.numel();
  if (n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "square_to_float_cuda", [&] {
    square_to_float_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        input.data_ptr<scalar_t>(), out.data_ptr<float>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::pair<at::Tensor, at::Tensor> add_square_to_float_cuda(const at::Tensor& x, const at::Tensor& delta) {
  const at::Tensor input = x.contiguous(), other = delta.contiguous();
  TORCH_CHECK(input.sizes() == other.sizes() && input.scalar_type() == other.scalar_type(),
              "add_square_to_float_cuda: mismatched operands");
  at::Tensor sum = at::empty_like(input);
  at::Tensor squares = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  const int64_t n = input.numel();
  if (n == 0) return {sum, squares};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "add_square_to_float_cuda", [&] {
    const int pack = pack_width<scalar_t>({n}, {input.data_ptr(), other.data_ptr(), sum.data_ptr(), squares.data_ptr()});
    with_pack_width<scalar_t>(pack, [&](auto width) {
      constexpr int V = decltype(width)::value;
      add_square_kernel<scalar_t, V><<<blocks_for(n / V), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
          input.data_ptr<scalar_t>(), other.data_ptr<scalar_t>(), sum.data_ptr<scalar_t>(), squares.data_ptr<float>(),
          n / V);
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {sum, squares};
}

at::Tensor rope_query_key_cuda(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                               int64_t rotated, int64_t head_dim) {
  return attention_inputs_cuda(qkv, cos, sin, rotated, 0, head_dim, head_dim);
}

at::Tensor attention_inputs_cuda(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                                 int64_t rotated, int64_t copied, int64_t head_dim, int64_t padded_head_dim) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.is_contiguous() && cos.is_contiguous() && sin.is_contiguous() &&
                  cos.scalar_type() == qkv.scalar_type() && sin.scalar_type() == qkv.scalar_type() &&
                  head_dim % 2 == 0 && padded_head_dim >= head_dim && qkv.size(2) % head_dim == 0 &&
                  rotated + copied <= qkv.size(2) / head_dim &&
                  cos.numel() == qkv.size(0) * qkv.size(1) * head_dim && sin.numel() == cos.numel(),
              "attention_inputs_cuda: mismatched operands");
  const int64_t batch = qkv.size(0), tokens = qkv.size(1), heads = rotated + copied;
  at::Tensor out = at::empty({batch, tokens, heads, padded_head_dim}, qkv.options());
  const int64_t n = out.numel();
  if (n > 0) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, qkv.scalar_type(), "attention_inputs_cuda", [&] {
      const int pack = pack_width_or_pairs<scalar_t>(
          {head_dim / 2, padded_head_dim}, {qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), out.data_ptr()});
      with_pack_width_or_pairs<scalar_t>(pack, [&](auto width) {
        constexpr int V = decltype(width)::value;
        const int64_t packs = heads * (head_dim / 2) / V;
        rope_kernel<scalar_t, V><<<row_blocks(batch * tokens, packs, "attention_inputs_cuda"), kThreads, 0,
                                   at::cuda::getCurrentCUDAStream()>>>(
            qkv.data_ptr<scalar_t>(), cos.data_ptr<scalar_t>(), sin.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
            chunks_for(packs), static_cast<int>(qkv.size(2) / head_dim), static_cast<int>(rotated),
            static_cast<int>(copied), static_cast<int>(head_dim), static_cast<int>(padded_head_dim));
      });
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out.transpose(1, 2);
}

at::Tensor rms_norm_scale_cuda(const at::Tensor& x, const at::Tensor& variance, const at::Tensor& weight,
                               double eps) {
  const at::Tensor input = x.contiguous(), var = variance.contiguous(), w = weight.contiguous();
  TORCH_CHECK(var.scalar_type() == at::kFloat && w.scalar_type() == input.scalar_type() &&
                  w.numel() == input.size(-1) && var.numel() * input.size(-1) == input.numel(),
              "rms_norm_scale_cuda: mismatched operands");
  at::Tensor out = at::empty_like(input);
  const int64_t n = input.numel();
  if (n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "rms_norm_scale_cuda", [&] {
    const int64_t width = input.size(-1);
    const int pack = pack_width<scalar_t>({width}, {input.data_ptr(), w.data_ptr(), out.data_ptr()});
    with_pack_width<scalar_t>(pack, [&](auto packed) {
      constexpr int V = decltype(packed)::value;
      rms_norm_scale_kernel<scalar_t, V><<<row_blocks(n / width, width / V, "rms_norm_scale_cuda"), kThreads, 0,
                                           at::cuda::getCurrentCUDAStream()>>>(
          input.data_ptr<scalar_t>(), var.data_ptr<float>(), w.data_ptr<scalar_t>(), static_cast<float>(eps),
          out.data_ptr<scalar_t>(), chunks_for(width / V), static_cast<int>(width));
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

bool rms_norm_rows_cuda_accepts(const at::Tensor& x, const at::Tensor& weight) {
  const at::ScalarType type = x.scalar_type();
  const auto aligned = [&](const at::Tensor& t) {
    return reinterpret_cast<std::uintptr_t>(t.data_ptr()) % (4 * t.element_size()) == 0;
  };
  if (!x.is_cuda() || !x.is_contiguous() || x.dim() == 0 ||
      (type != at::kFloat && type != at::kHalf && type != at::kBFloat16) || !weight.is_contiguous() ||
      weight.scalar_type() != type || weight.numel() != x.size(-1) || !aligned(x) || !aligned(weight)) {
    return false;
  }
  // ATen reads 4-element vectors from rows at least 128 wide; rows it would split across warps
  // are summed in another order.
  const int64_t width = x.size(-1), rows = width > 0 ? x.numel() / width : 0;
  return width % 4 == 0 && width >= 128 && width <= 4 * kRowThreads * kRowVectors && rows > 0 &&
         rows < (int64_t{1} << 31) && !aten_row_reduce_shape(rows, width).splits_rows;
}

namespace {

template <bool kAdd>
void launch_rms_norm_rows(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& sum,
                          const at::Tensor& weight, const at::Tensor& out, double eps) {
  const int64_t width = x.size(-1), rows = x.numel() / width;
  // ATen's mean factor: float(outputs) / numel, the element count converted to float.
  const float factor = static_cast<float>(rows) / static_cast<float>(rows * width);
  const int lanes = aten_row_reduce_shape(rows, width).lanes;
  const size_t shared = sizeof(float) * (width + lanes);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "rms_norm_rows_cuda", [&] {
    rms_norm_rows_kernel<scalar_t, kAdd><<<static_cast<unsigned>(rows), kRowThreads, shared,
                                           at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), kAdd ? delta.data_ptr<scalar_t>() : nullptr, kAdd ? sum.data_ptr<scalar_t>() : nullptr,
        weight.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), static_cast<int>(width), lanes, factor,
        static_cast<float>(eps));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

at::Tensor rms_norm_rows_cuda(const at::Tensor& x, const at::Tensor& weight, double eps) {
  TORCH_CHECK(rms_norm_rows_cuda_accepts(x, weight), "rms_norm_rows_cuda: unsupported operands");
  at::Tensor out = at::empty_like(x);
  if (x.numel() > 0) launch_rms_norm_rows<false>(x, x, x, weight, out, eps);
  return out;
}

bool add_rms_norm_rows_cuda_accepts(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight) {
  return rms_norm_rows_cuda_accepts(x, weight) && rms_norm_rows_cuda_accepts(delta, weight) && delta.sizes() == x.sizes();
}

std::pair<at::Tensor, at::Tensor> add_rms_norm_rows_cuda(const at::Tensor& x, const at::Tensor& delta,
                                                         const at::Tensor& weight, double eps) {
  TORCH_CHECK(add_rms_norm_rows_cuda_accepts(x, delta, weight), "add_rms_norm_rows_cuda: unsupported operands");
  at::Tensor sum = at::empty_like(x), out = at::empty_like(x);
  if (x.numel() > 0) launch_rms_norm_rows<true>(x, delta, sum, weight, out, eps);
  return {sum, out};
}

bool silu_mul_cuda_accepts(const at::Tensor& gate, const at::Tensor& up) {
  return gate.is_cuda() && gate.sizes() == up.sizes() && gate.strides() == up.strides() &&
         gate.scalar_type() == up.scalar_type() && uniform_row_stride(gate) > 0;
}

at::Tensor silu_mul_cuda(const at::Tensor& gate, const at::Tensor& up) {
  TORCH_CHECK(silu_mul_cuda_accepts(gate, up), "silu_mul_cuda: unsupported views");
  at::Tensor out = at::empty(gate.sizes(), gate.options().memory_format(at::MemoryFormat::Contiguous));
  const int64_t n = gate.numel();
  if (n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gate.scalar_type(), "silu_mul_cuda", [&] {
    const int64_t width = gate.size(-1), row_stride = uniform_row_stride(gate);
    const int pack = pack_width<scalar_t>({width, row_stride}, {gate.data_ptr(), up.data_ptr(), out.data_ptr()});
    with_pack_width<scalar_t>(pack, [&](auto packed) {
      constexpr int V = decltype(packed)::value;
      silu_mul_kernel<scalar_t, V><<<row_blocks(n / width, width / V, "silu_mul_cuda"), kThreads, 0,
                                     at::cuda::getCurrentCUDAStream()>>>(
          gate.data_ptr<scalar_t>(), up.data_ptr<scalar_t>(), row_stride, out.data_ptr<scalar_t>(),
          chunks_for(width / V), static_cast<int>(width));
    });
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace fedkseed::detail
