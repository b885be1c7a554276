// A client's round and the local training the simulation's clients share (see client.h).
#include "fedkseed/federation/client.h"

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>

#include <cmath>

#include "fedkseed/federation/replica.h"

namespace fedkseed {

LocalTrainer::LocalTrainer(LlamaModel& model, c10::Device device, int64_t pad_id, ZoStepOptions step, uint64_t seed,
                           std::vector<uint64_t> candidates, UplinkShaping shaping)
    : model_(model),
      device_(device),
      pad_id_(pad_id),
      step_(step),
      seed_(seed),
      sampler_(std::move(candidates)),
      shaping_(std::move(shaping)),
      working_(model.named_parameters()) {
  if (rng_is_philox(step_.rng)) working_flat_.emplace(working_, step_.rng);
}

// The loss at the current parameters on one batch, enqueued without waiting on the host: one
// CUDA graph per bucketed length for unpadded batches on a GPU, the eager forward otherwise.
at::Tensor LocalTrainer::batch_loss(const Batch& batch) const {
  if (device_.is_cuda() && batch.attention_mask.all().item<bool>()) {
    return model_.graphed_loss(batch.input_ids, batch.labels);
  }
  return model_.loss(batch.input_ids.to(device_), batch.labels.to(device_), batch.attention_mask.to(device_));
}

// philox keeps every step's scalars on the device (g and the skip rule there, the
// restore+update fused with the next +eps) and waits on the host once per client.
std::vector<ZoStepResult> LocalTrainer::device_steps(ClientData& data, int64_t steps, Rng& rng,
                                                     log::Progress& progress) {
  ZoDeviceLoop loop(*working_flat_, step_, steps);
  for (int64_t step = 0; step < steps; ++step) {
    const Batch batch = collate(data.next_batch(), pad_id_);
    loop.step(sampler_.sample(rng), [&] { return batch_loss(batch); });
    progress.update(step + 1);
  }
  return loop.finish();
}

// torch takes the reference's host steps, as its generator lives on the host.
std::vector<ZoStepResult> LocalTrainer::host_steps(ClientData& data, int64_t steps, Rng& rng,
                                                   log::Progress& progress) {
  std::vector<ZoStepResult> outcomes;
  double loss_sum = 0.0;
  int64_t applied = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const Batch batch = collate(data.next_batch(), pad_id_);
    const LossFn loss = [&] { return batch_loss(batch).item<double>(); };
    outcomes.push_back(zo_train_step(working_, sampler_, rng, loss, step_));
    if (outcomes.back().applied) {
      loss_sum += outcomes.back().loss_plus;
      ++applied;
    }
    progress.update(step + 1, c10::str("L+ ", applied ? loss_sum / applied : NAN));
  }
  return outcomes;
}

// The Pro history is not recorded here but by the server from the uplinks: the probabilities
// only change at round start, so that is the same record in the same order.
ClientRecord LocalTrainer::train(ClientData& data, int64_t client, int64_t round, int64_t steps,
                                 const at::Tensor& start, const std::vector<double>& probabilities) {
  model_.flat_parameters().copy_(start);
  if (!probabilities.empty()) sampler_.set_probabilities(probabilities);
  Rng rng(seed_, c10::str("steps/", round, "/", client));
  log::Progress progress(c10::str("round ", round, " client ", client), steps);
  const std::vector<ZoStepResult> outcomes = rng_is_philox(step_.rng) && steps > 0
                                                 ? device_steps(data, steps, rng, progress)
                                                 : host_steps(data, steps, rng, progress);
  const bool unbounded = sampler_.candidates().empty();
  Uplink reply;
  reply.data_size = static_cast<uint32_t>(data.num_batches());  // len(train_loader), as the reference weighs
  reply.unbounded_seeds = unbounded;
  ClientRecord record;
  for (const auto& outcome : outcomes) {
    if (!outcome.applied) continue;
    record.loss_sum += outcome.loss_plus;
    reply.seeds.push_back(unbounded ? outcome.seed : static_cast<uint64_t>(outcome.seed_index));
    reply.values.push_back(static_cast<float>(outcome.g));  // g is an fp32 product: exact
  }
  record.applied = static_cast<int64_t>(reply.seeds.size());
  progress.finish(c10::str("mean L+ ", record.applied ? record.loss_sum / record.applied : NAN, ", ",
                           steps - record.applied, " skipped"));
  shaping_.apply(reply, client, round);
  record.uplink = encode(reply);
  record.pass = data.position().pass;
  record.offset = data.position().offset;
  return record;
}

Client::Client(const std::vector<Example>& examples, int64_t id, uint64_t seed, int64_t batch_size,
               int64_t local_step, bool per_epoch)
    : data_(examples, id, seed, batch_size), id_(id), local_step_(local_step), per_epoch_(per_epoch) {}

int64_t Client::steps() const { return per_epoch_ ? local_step_ * data_.num_batches() : local_step_; }

Downlink Client::receive(const std::string& downlink, ClientView& view) const {
  Downlink message = decode_downlink(downlink);
  view.apply(message);
  return message;
}

ClientRecord Client::train(LocalTrainer& trainer, const ClientView& view, const Downlink& message) {
  return trainer.train(data_, id_, message.round, steps(), view.flat(), message.probabilities);
}

}  // namespace fedkseed
