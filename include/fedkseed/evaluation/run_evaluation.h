// The evaluations of a training run (federation/trainer.h's RunEvaluation): the test loss
// after a round, and the final --eval_metric (loss, or Rouge-L with its generations).
#pragma once

#include "fedkseed/common/options.h"
#include "fedkseed/federation/trainer.h"

namespace fedkseed {

RunEvaluation run_evaluation(const TrainOptions& options);

}  // namespace fedkseed
