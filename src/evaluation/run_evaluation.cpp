// A training run's evaluations (see run_evaluation.h).
#include "fedkseed/evaluation/run_evaluation.h"

#include <nlohmann/json.hpp>

#include "fedkseed/data/federated_data.h"
#include "fedkseed/evaluation/evaluate.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {
namespace {

constexpr int64_t kMaxNewTokens = 128;  // the reference's generation budget
// Prompts decoded together in the final Rouge-L (the reference decodes one at a time; greedy
// tokens are the same, the batch only amortises the weights).
constexpr int64_t kGenerationBatch = 16;

}  // namespace

RunEvaluation run_evaluation(const TrainOptions& options) {
  RunEvaluation evaluation;
  const int64_t max_samples = options.eval_max_samples;
  evaluation.round_loss = [max_samples](const LlamaModel& model, const FederatedData& data, int64_t pad_id) {
    return evaluate_loss(model, data.test, pad_id, max_samples);
  };
  evaluation.final = [metric = options.eval_metric, max_samples](const LlamaModel& model, const Tokenizer& tokenizer,
                                                                 const FederatedData& data, int64_t pad_id) {
    FinalEvaluation result;
    if (metric != "rouge") {
      result.value = evaluate_loss(model, data.test, pad_id, max_samples);
      return result;
    }
    const auto rouge = evaluate_rouge(model, tokenizer, data.test_generation, kGenerationBatch, pad_id, kMaxNewTokens,
                                      max_samples);
    result.value = rouge.mean_rouge_l_f;
    for (std::size_t i = 0; i < rouge.hypotheses.size(); ++i) {
      result.generations +=
          nlohmann::json({{"hypothesis", rouge.hypotheses[i]}, {"reference", data.test_generation[i].reference}})
              .dump() + "\n";
    }
    return result;
  };
  return evaluation;
}

}  // namespace fedkseed
