// ZoFlatParams and ZoDeviceLoop: the chunk table, one launch per pass on CUDA, and the CPU twin
// (one host combine per tensor with the same terms and the same step scalars).
#include "fedkseed/optimizers/zo_flat.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <string>
#include <unordered_set>

#include "fedkseed/common/error.h"
#include "fedkseed/optimizers/perturbation_cuda.h"

namespace fedkseed {
namespace {

detail::ZoTerms inline_terms(std::initializer_list<std::pair<uint64_t, float>> pairs) {
  detail::ZoTerms terms;
  for (const auto& [seed, coeff] : pairs) {
    terms.inline_seeds[terms.count] = seed;
    terms.inline_coeffs[terms.count] = coeff;
    ++terms.count;
  }
  return terms;
}

// Host view of ZoTerms (CPU combines read seeds/coeffs through pointers).
detail::ZoTerms host_view(const detail::ZoTerms& terms) {
  detail::ZoTerms view = terms;
  if (terms.count <= detail::ZoTerms::kInline) {
    view.seeds = view.inline_seeds;
    view.coeffs = view.inline_coeffs;
  }
  return view;
}

}  // namespace

ZoFlatParams::ZoFlatParams(const NamedParams& params, RngKind rng) : params_(params), rng_(rng) {
  if (params.empty()) throw Error("zo: the parameter list is empty");
  if (!rng_is_philox(rng)) throw Error("zo: --rng torch has no one-launch passes; use philox-icdf or philox");
  dtype_ = params.front().second.scalar_type();
  device_ = params.front().second.device();
  if (dtype_ != at::kFloat && dtype_ != at::kHalf && dtype_ != at::kBFloat16) {
    throw Error("zo: parameter " + params.front().first + " has dtype " +
                std::string(c10::toString(dtype_)) + "; perturbations take fp32, fp16 or bf16");
  }
  std::unordered_set<std::string> names;
  std::vector<detail::ZoChunk> chunks;
  for (const auto& [name, tensor] : params) {
    if (!names.insert(name).second) throw Error("zo: parameter " + name + " appears twice");
    if (tensor.scalar_type() != dtype_ || tensor.device() != device_ || !tensor.is_contiguous()) {
      throw Error("zo: parameter " + name + " is not a contiguous " + c10::toString(dtype_) +
                  " tensor on " + device_.str() + " like " + params.front().first);
    }
    const uint64_t hash = philox::name_hash(name.data(), name.size());
    hashes_.push_back(hash);
    numel_ += tensor.numel();
    const auto base = reinterpret_cast<uint64_t>(tensor.data_ptr());
    for (int64_t begin = 0; begin < tensor.numel(); begin += detail::ZoChunk::kElements) {
      detail::ZoChunk chunk;
      chunk.address = base + static_cast<uint64_t>(begin * tensor.element_size());
      chunk.begin = begin;
      chunk.name_hash = hash;
      chunk.count = static_cast<int32_t>(std::min(detail::ZoChunk::kElements, tensor.numel() - begin));
      chunk.decays = zo_decays(name) ? 1 : 0;
      chunks.push_back(chunk);
    }
  }
  chunk_count_ = static_cast<int64_t>(chunks.size());
  if (!device_.is_cpu()) {
#if FEDKSEED_WITH_CUDA
    const auto bytes = static_cast<int64_t>(chunks.size() * sizeof(detail::ZoChunk));
    chunks_ = at::from_blob(chunks.data(), {bytes}, at::kByte).to(device_);
#else
    throw Error("zo: parameters on " + device_.str() + " but fedkseed was built without CUDA kernels");
#endif
  }
}

int64_t ZoFlatParams::bytes() const { return numel_ * static_cast<int64_t>(c10::elementSize(dtype_)); }

void ZoFlatParams::run(const detail::ZoFlatTerms& terms) const {
#if FEDKSEED_WITH_CUDA
  if (!device_.is_cpu()) return detail::zo_flat_cuda(chunks_, chunk_count_, dtype_, terms, rng_);
#endif
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const int decays = zo_decays(params_[i].first) ? 1 : 0;
    const at::Tensor& theta = params_[i].second;
    detail::zo_combine_host(theta, theta, terms.alpha[decays], hashes_[i],
                            host_view(terms.terms[decays]), rng_);
  }
}

void ZoFlatParams::run_step(const detail::ZoStepTerms& terms) const {
#if FEDKSEED_WITH_CUDA
  if (!device_.is_cpu()) return detail::zo_flat_step_cuda(chunks_, chunk_count_, dtype_, terms, rng_);
#endif
  detail::ZoFlatTerms fixed;
  if (terms.loss_plus != nullptr) {
    const detail::ZoStepScalars s = detail::zo_step_scalars(*terms.loss_plus, *terms.loss_minus, terms);
    *terms.g_out = s.g;
    *terms.applied_out = s.applied ? 1.0f : 0.0f;
    for (int c = 0; c < 2; ++c) {
      fixed.alpha[c] = s.alpha[c];
      fixed.terms[c] = terms.has_next
                           ? inline_terms({{terms.previous_seed, s.coeff[c]}, {terms.next_seed, terms.next_coeff}})
                           : inline_terms({{terms.previous_seed, s.coeff[c]}});
    }
  } else if (terms.has_next) {
    fixed.terms[0] = fixed.terms[1] = inline_terms({{terms.next_seed, terms.next_coeff}});
  }
  run(fixed);
}

void ZoFlatParams::perturb(uint64_t seed, double scale) const {
  detail::ZoFlatTerms terms;
  terms.terms[0] = terms.terms[1] = inline_terms({{seed, static_cast<float>(scale)}});
  run(terms);
}

void ZoFlatParams::replay_incremental(const std::vector<SeedScalar>& pairs, double lr,
                                      double weight_decay) const {
  detail::ReplayCoefficients c = detail::zo_replay_coefficients(pairs, lr, weight_decay);
  const auto count = static_cast<int64_t>(c.seeds.size());
  detail::ZoFlatTerms terms;
  terms.alpha[1] = c.alpha_decayed;
  at::Tensor seeds, coeffs;  // keep the device copies alive until the launch is enqueued
  if (count <= detail::ZoTerms::kInline) {
    for (int k = 0; k < 2; ++k) {
      const std::vector<float>& values = k == 1 ? c.decayed : c.plain;
      terms.terms[k].count = count;
      std::copy(c.seeds.begin(), c.seeds.end(), terms.terms[k].inline_seeds);
      std::copy(values.begin(), values.end(), terms.terms[k].inline_coeffs);
    }
  } else {
    seeds = at::from_blob(c.seeds.data(), {count}, at::kLong).to(device_);
    coeffs = at::stack({at::from_blob(c.plain.data(), {count}, at::kFloat),
                        at::from_blob(c.decayed.data(), {count}, at::kFloat)})
                 .to(device_);
    for (int k = 0; k < 2; ++k) {
      terms.terms[k].count = count;
      terms.terms[k].seeds = static_cast<const uint64_t*>(seeds.const_data_ptr());
      terms.terms[k].coeffs = coeffs[k].const_data_ptr<float>();
    }
  }
  run(terms);
}

ZoDeviceLoop::ZoDeviceLoop(const ZoFlatParams& params, const ZoStepOptions& options, int64_t max_steps)
    : params_(params), options_(options), max_steps_(max_steps) {
  if (options.rng != params.rng()) {
    throw Error("zo device loop: --rng " + rng_kind_name(options.rng) + " on parameters prepared for " +
                rng_kind_name(params.rng()));
  }
  if (!(options.eps > 0.0)) {
    throw Error("zo device loop: --zo_eps is " + std::to_string(options.eps) + "; it must be positive");
  }
  if (max_steps < 1) throw Error("zo device loop: max_steps is " + std::to_string(max_steps));
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(params.device());
  losses_ = at::zeros({max_steps, 2}, f32);
  results_ = at::zeros({max_steps, 2}, f32);
}

// The step options and, after a first step, the last step's restore+update from its losses.
detail::ZoStepTerms ZoDeviceLoop::step_terms() const {
  detail::ZoStepTerms terms;
  terms.eps = options_.eps;
  terms.lr = options_.lr;
  terms.weight_decay = options_.weight_decay;
  terms.grad_clip = options_.grad_clip;
  const auto t = static_cast<int64_t>(picks_.size());
  if (t > 0) {
    terms.previous_seed = picks_.back().seed;
    terms.loss_plus = losses_[t - 1][0].const_data_ptr<float>();
    terms.loss_minus = losses_[t - 1][1].const_data_ptr<float>();
    terms.g_out = results_[t - 1][0].data_ptr<float>();
    terms.applied_out = results_[t - 1][1].data_ptr<float>();
  }
  return terms;
}

void ZoDeviceLoop::step(const SeedPick& pick, const DeviceLossFn& loss) {
  const auto t = static_cast<int64_t>(picks_.size());
  if (t >= max_steps_) {
    throw Error("zo device loop: step " + std::to_string(t) + " is past max_steps " + std::to_string(max_steps_));
  }
  detail::ZoStepTerms terms = step_terms();
  terms.has_next = true;
  terms.next_seed = pick.seed;
  terms.next_coeff = static_cast<float>(options_.eps);
  picks_.push_back(pick);
  params_.run_step(terms);
  losses_[t][0].copy_(loss().reshape({}));
  params_.perturb(pick.seed, -2.0 * options_.eps);
  losses_[t][1].copy_(loss().reshape({}));
}

std::vector<ZoStepResult> ZoDeviceLoop::finish() {
  const auto count = static_cast<int64_t>(picks_.size());
  std::vector<ZoStepResult> results;
  if (count == 0) return results;
  params_.run_step(step_terms());
  const at::Tensor losses = losses_.narrow(0, 0, count).cpu();
  const at::Tensor scalars = results_.narrow(0, 0, count).cpu();
  for (int64_t t = 0; t < count; ++t) {
    ZoStepResult r;
    r.seed_index = picks_[t].index;
    r.seed = picks_[t].seed;
    r.loss_plus = losses[t][0].item<float>();
    r.loss_minus = losses[t][1].item<float>();
    r.applied = scalars[t][1].item<float>() != 0.0f;
    r.g = r.applied ? scalars[t][0].item<float>() : 0.0;
    results.push_back(r);
  }
  picks_.clear();
  return results;
}

}  // namespace fedkseed
