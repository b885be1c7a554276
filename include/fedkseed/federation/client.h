// A federated client: its training data and its position in it, and its round — it applies
// the decoded downlink to its view of the global model, trains from that view with ZO steps
// along seeds drawn from the candidates (by the downlink's probabilities under FedKSeed-Pro),
// and returns the record of the round with its encoded uplink.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fedkseed/common/logging.h"
#include "fedkseed/common/random.h"
#include "fedkseed/data/batch.h"
#include "fedkseed/data/example.h"
#include "fedkseed/federation/client_data.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/cohort.h"
#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/uplink_shaping.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/optimizers/seed_sampler.h"
#include "fedkseed/optimizers/zo_flat.h"
#include "fedkseed/optimizers/zo_step.h"

namespace fedkseed {

// What every client's local training shares in the simulation: the model whose weights a
// client trains (one working copy: clients train one after another) and the run's settings.
class LocalTrainer {
 public:
  // `model` must outlive the trainer; `candidates` are the K seeds (empty: a fresh seed per step);
  // `shaping` what every client does to its uplink before sending it.
  LocalTrainer(LlamaModel& model, c10::Device device, int64_t pad_id, ZoStepOptions step, uint64_t seed,
               std::vector<uint64_t> candidates, UplinkShaping shaping = {});

  // `steps` ZO steps of client `client` in `round` on batches of `data`, starting from `start`
  // (a flat buffer laid out as the model's), seeds drawn by `probabilities` (empty: uniform).
  ClientRecord train(ClientData& data, int64_t client, int64_t round, int64_t steps, const at::Tensor& start,
                     const std::vector<double>& probabilities);

 private:
  at::Tensor batch_loss(const Batch& batch) const;
  std::vector<ZoStepResult> device_steps(ClientData& data, int64_t steps, Rng& rng, log::Progress& progress);
  std::vector<ZoStepResult> host_steps(ClientData& data, int64_t steps, Rng& rng, log::Progress& progress);

  LlamaModel& model_;
  c10::Device device_;
  int64_t pad_id_;
  ZoStepOptions step_;
  uint64_t seed_;
  SeedSampler sampler_;
  UplinkShaping shaping_;
  NamedParams working_;
  std::optional<ZoFlatParams> working_flat_;  // philox only
};

class Client {
 public:
  // `examples` must outlive the client. local_step counts batches, or with `per_epoch` passes.
  Client(const std::vector<Example>& examples, int64_t id, uint64_t seed, int64_t batch_size, int64_t local_step,
         bool per_epoch);

  // ZO steps per round.
  int64_t steps() const;
  // Decodes the server's message and brings `view` to the global model it describes.
  Downlink receive(const std::string& downlink, ClientView& view) const;
  // The round's training from `view` (synchronised by receive) with the message's probabilities.
  ClientRecord train(LocalTrainer& trainer, const ClientView& view, const Downlink& message);

  ClientData& data() { return data_; }
  const ClientData& data() const { return data_; }

 private:
  ClientData data_;
  int64_t id_;
  int64_t local_step_;
  bool per_epoch_;
};

}  // namespace fedkseed
