// The end-to-end figures of `fedkseed bench`: batched greedy decoding and one Dolly-shaped
// federated round (client copies, device-side ZO loops, the server's replay, an eval pass).
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "fedkseed/common/random.h"
#include "fedkseed/optimizers/seed_sampler.h"
#include "fedkseed/optimizers/zo_flat.h"
#include "bench_internal.h"

namespace fedkseed::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Dolly-15K-like lengths: log-normal around 200 tokens (σ 0.7), clipped to [32, 4·seq].
int64_t dolly_length(Rng& rng, int64_t seq) {
  const double tokens = std::exp(std::log(200.0) + 0.7 * rng.normal());
  return std::clamp<int64_t>(std::llround(tokens), 32, std::max<int64_t>(32, 4 * seq));
}

}  // namespace

DecodeResult measure_decode(const LlamaModel& model, const BenchOptions& options, int64_t batch) {
  Rng rng(options.seed, "bench decode");
  std::vector<std::vector<int64_t>> prompts(batch);
  for (auto& prompt : prompts) {
    // Lengths vary by up to a quarter, so the batch is left-padded as in evaluation.
    const int64_t length = std::max<int64_t>(1, options.decode_prompt - rng.uniform_int(0, options.decode_prompt / 4 + 1));
    for (int64_t i = 0; i < length; ++i) prompt.push_back(rng.uniform_int(3, model.config().vocab_size));
  }
  // The same call untimed first: a new batch shape makes the libraries choose (and cuDNN
  // compile) their kernels once, which the figure, a steady-state rate, leaves out.
  model.generate(prompts, options.decode_tokens, {}, 0);
  synchronize(model.device());
  const auto start = std::chrono::steady_clock::now();
  const auto out = model.generate(prompts, options.decode_tokens, {}, 0);
  synchronize(model.device());
  DecodeResult result;
  result.seconds = seconds_since(start);
  int64_t generated = 0;
  for (const auto& tokens : out) generated += static_cast<int64_t>(tokens.size());
  result.tokens_per_s = static_cast<double>(generated) / result.seconds;
  return result;
}

RoundResult measure_round(LlamaModel& model, const BenchOptions& options, int round) {
  const int64_t vocab = model.config().vocab_size;
  Rng rng(options.seed, "bench round " + std::to_string(round));
  std::vector<uint64_t> candidates;
  for (int64_t j = 0; j < options.round_k; ++j) {
    candidates.push_back(static_cast<uint64_t>(rng.uniform_int(1, kSeedEnd)));
  }
  const SeedSampler sampler(candidates);
  const ZoFlatParams params(model.named_parameters(), parse_rng_kind(options.rng));
  const at::Tensor global = model.flat_parameters().clone();
  ZoStepOptions step_options;  // reference defaults: eps 5e-4, lr 3e-7
  step_options.rng = params.rng();
  ZoDeviceLoop loop(params, step_options, options.round_steps);
  std::map<uint64_t, double> summed;
  RoundResult result;
  int64_t tokens = 0;
  synchronize(model.device());
  const auto start = std::chrono::steady_clock::now();
  for (int64_t client = 0; client < options.round_clients; ++client) {
    model.flat_parameters().copy_(global);
    for (int64_t s = 0; s < options.round_steps; ++s) {
      const int64_t length = dolly_length(rng, options.seq);
      tokens += length;
      const auto [ids, labels] = random_example(length, vocab, rng.next_u64());
      loop.step(sampler.sample(rng), [&, ids = ids, labels = labels] { return model.graphed_loss(ids, labels); });
    }
    for (const ZoStepResult& step : loop.finish()) {
      if (step.applied) summed[step.seed] += step.g / static_cast<double>(options.round_clients);
      ++result.steps;
    }
  }
  result.train_seconds = seconds_since(start);
  const auto replay_start = std::chrono::steady_clock::now();
  model.flat_parameters().copy_(global);
  std::vector<SeedScalar> pairs;
  for (const auto& [seed, g] : summed) pairs.push_back({seed, g});
  params.replay_incremental(pairs, step_options.lr, step_options.weight_decay);
  synchronize(model.device());
  result.replay_seconds = seconds_since(replay_start);
  const auto eval_start = std::chrono::steady_clock::now();
  at::Tensor eval_total = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(model.device()));
  for (int64_t e = 0; e < options.round_eval; ++e) {
    const auto [ids, labels] = random_example(dolly_length(rng, options.seq), vocab, rng.next_u64());
    eval_total.add_(model.graphed_loss(ids, labels).reshape({}));
  }
  result.eval_loss = options.round_eval > 0 ? eval_total.item<double>() / static_cast<double>(options.round_eval) : 0.0;
  result.eval_seconds = seconds_since(eval_start);
  result.seconds = seconds_since(start);
  result.touched_seeds = static_cast<int64_t>(pairs.size());
  result.mean_tokens = result.steps > 0 ? static_cast<double>(tokens) / static_cast<double>(result.steps) : 0.0;
  return result;
}

}  // namespace fedkseed::bench
