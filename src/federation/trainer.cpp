// The federated run, round by round: each cohort client receives the server's downlink,
// trains, and sends its uplink; the server aggregates the decoded uplinks and rebuilds the
// global model; rank 0 evaluates it and writes the run files. Under torchrun every rank holds
// a server and the clients' view, trains its share of the cohort and all-gathers the
// clients' records; every rank aggregates alike. This file orchestrates; the parts are
// run_plan.h (what the options decide up front), cohort_round.h (the clients' side of a round),
// run_progress.h, run_snapshot.h, run_files.h, run_console.h and run_stop.h.
#include "fedkseed/federation/trainer.h"

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>
#include <torch/cuda.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "fedkseed/common/device.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/interrupt.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/peak_memory.h"
#include "fedkseed/data/batch.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/federation/client.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/server.h"
#include "fedkseed/model/config_check.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/tokenizer.h"
#include "cohort_round.h"
#include "run_console.h"
#include "run_files.h"
#include "run_plan.h"
#include "run_progress.h"
#include "run_snapshot.h"
#include "run_stop.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class Federation {
 public:
  // `group` is null for a single-process run.
  Federation(const TrainOptions& options, const RunEvaluation& evaluation, c10::Device device, RankGroup* group);
  void run();

 private:
  RoundMetrics run_round(int64_t round);
  void save_round(int64_t round, bool best);
  double evaluate_round();
  void final_evaluation();

  TrainOptions options_;
  RunConsole console_;  // first, so that its wall clock includes loading the model and data
  const RunEvaluation& evaluation_;
  c10::Device device_;
  RankGroup* group_;
  bool writer_;  // rank 0 (or the only process): evaluates, logs, writes the run directory
  std::optional<RunDirectory> resumed_dir_;  // the writer's resumed run, locked before anything is loaded
  Tokenizer tokenizer_;
  FederatedData data_;
  double dp_noise_;  // σ, resolved before the model loads: an unreachable --dp_epsilon fails fast
  LlamaModel model_;
  int64_t pad_id_;
  std::optional<RunState> resumed_;
  SeedsAndSchedule seeds_;
  at::Tensor init_flat_;  // θ0: the replays' base, known to the server and every client
  NamedParams init_;
  Server server_;
  ClientView view_;  // the clients' view of the global model (client_view.h: shared)
  LocalTrainer trainer_;
  std::optional<DpAccountant> accountant_;  // with DP noise
  std::vector<Client> clients_;
  std::optional<RunFiles> files_;
  RunState progress_;  // eval history, totals, peaks, best round, last finished round
};

Federation::Federation(const TrainOptions& options, const RunEvaluation& evaluation, c10::Device device,
                       RankGroup* group)
    : options_(options),
      console_(options_, group ? group->size() : 0),
      evaluation_(evaluation),
      device_(device),
      group_(group),
      writer_(group == nullptr || group->rank() == 0),
      resumed_dir_(writer_ && !options_.resume.empty() ? std::optional(RunDirectory::open_locked(options_.resume))
                                                       : std::nullopt),
      tokenizer_(Tokenizer::load(options_.model)),
      data_(load_federated_data(options_, tokenizer_)),
      dp_noise_(resolve_dp_noise(options_, static_cast<int64_t>(data_.clients.size()))),
      model_(LlamaModel::load(options_.model, LlamaModel::resolve_dtype(options_.dtype, options_.model, device_), device_,
                              options_.allow_nonfinite)),
      pad_id_(batch_pad_id(tokenizer_, model_.config().vocab_size)),
      resumed_(options_.resume.empty() ? std::nullopt
                                       : std::optional<RunState>(read_run_state(RunDirectory::open(options_.resume)))),
      seeds_(seeds_and_schedule(options_, static_cast<int64_t>(data_.clients.size()), resumed_ ? &*resumed_ : nullptr)),
      init_flat_(options_.init_on == "cpu" && device_.is_cuda() ? model_.flat_parameters().to(at::kCPU).pin_memory()
                                                                 : model_.flat_parameters().clone()),
      init_(views_like(model_, init_flat_)),
      server_(model_, init_, seeds_.seeds, static_cast<int64_t>(data_.clients.size()),
              server_options(options_, dp_noise_)),
      view_(model_, init_, seeds_.seeds, {options_.lr, options_.weight_decay, parse_rng_kind(options_.rng)},
            options_.sync == "incremental"),
      trainer_(model_, device_, pad_id_,
               {options_.zo_eps, options_.lr, options_.weight_decay, options_.grad_clip, parse_rng_kind(options_.rng)},
               options_.seed, seeds_.seeds, uplink_shaping(options_, seeds_, dp_noise_)),
      accountant_(run_accountant(options_, static_cast<int64_t>(data_.clients.size()), dp_noise_)) {
  config_check_tokenizer(model_.config(), resolve_model_dir(options_.model) + "/config.json", tokenizer_);
  options_.num_clients = static_cast<int64_t>(data_.clients.size());
  for (int64_t c = 0; c < options_.num_clients; ++c) {
    clients_.emplace_back(data_.clients[c], c, options_.seed, options_.batch_size, options_.local_step,
                          options_.batch_or_epoch == "epoch");
  }
  progress_.best_eval_loss = std::nan("");
  if (resumed_) {
    restore_run(*resumed_, options_.resume + "/state.json", server_, view_, clients_);
    progress_ = *resumed_;
    log::info(c10::str("resuming after round ", resumed_->last_round, " of ", options_.rounds));
  }
  if (writer_) files_ = RunFiles::open(options_, seeds_, resumed_dir_, data_.files, progress_);
}

double Federation::evaluate_round() {
  if (!writer_) return std::nan("");
  model_.flat_parameters().copy_(server_.global());
  return evaluation_.round_loss(model_, data_, pad_id_);
}

RoundMetrics Federation::run_round(int64_t round) {
  RoundMetrics metrics;
  metrics.round = round;
  const auto& cohort = seeds_.schedule[round - 1];
  const std::vector<Downlink> received = send_downlinks(server_, clients_, view_, cohort, round, metrics);

  auto start = std::chrono::steady_clock::now();
  const int64_t sent_before = group_ ? group_->bytes_sent() : 0;
  const std::vector<Uplink> uplinks =
      receive_uplinks(train_cohort(clients_, cohort, received, trainer_, view_, group_), cohort, clients_, metrics);
  metrics.seconds_train = seconds_since(start);

  start = std::chrono::steady_clock::now();
  server_.aggregate(uplinks);
  if (device_.is_cuda()) torch::cuda::synchronize();  // the replay runs asynchronously
  if (group_) group_->expect_same(c10::str("the replica after round ", round), replica_digest(server_, clients_));
  metrics.seconds_aggregate = seconds_since(start);
  if (accountant_) metrics.dp_epsilon = accountant_->epsilon(round, options_.dp_delta);
  // Every rank hands the process group equally long (padded) inputs: the total is size x ours.
  metrics.bytes_between_ranks = group_ ? (group_->bytes_sent() - sent_before) * group_->size() : 0;

  start = std::chrono::steady_clock::now();
  metrics.evaluated = round % options_.eval_every == 0 || round == options_.rounds;
  metrics.eval_loss = metrics.evaluated ? evaluate_round() : std::nan("");
  metrics.seconds_eval = seconds_since(start);

  const int64_t element_bytes = static_cast<int64_t>(model_.flat_parameters().element_size());
  metrics.bytes_fedavg = static_cast<int64_t>(cohort.size()) * 2 * model_.flat_parameters().numel() * element_bytes;
  std::tie(metrics.peak_memory_allocated, metrics.peak_memory_reserved) = peak_memory(device_);
  return metrics;
}

void Federation::save_round(int64_t round, bool best) {
  if (!files_) return;
  record_peak_memory(progress_, device_);
  files_->save_round(run_snapshot(progress_, options_, seeds_, server_, clients_, round), best, options_,
                     [&](const std::string& folder) {
                       model_.flat_parameters().copy_(server_.global());
                       model_.save(folder);
                     });
}

void Federation::final_evaluation() {
  model_.flat_parameters().copy_(server_.global());
  const FinalEvaluation result = evaluation_.final(model_, tokenizer_, data_, pad_id_);
  if (files_) files_->write_final_eval(options_.eval_metric, result, privacy_spent(options_, accountant_, dp_noise_));
  console_.summary(progress_, result.value, files_ ? files_->directory().path() : "");
}

void Federation::run() {
  console_.start(options_.num_clients, seeds_, server_.pool(), model_.flat_parameters().numel(), device_.str(),
                 dp_noise_, accountant_);
  if (progress_.last_round == 0 && progress_.eval_losses.empty() && writer_) {
    progress_.eval_losses.push_back(evaluate_round());
    log::info(c10::str("round 0: eval loss ", progress_.eval_losses.back()));
    save_round(0, false);
  }
  const RunFiles* files = files_ ? &*files_ : nullptr;
  const auto stopped_after = [&](int64_t round) {
    if (!stop_here(round, options_, group_, files)) return false;
    if (files) console_.stopped(progress_, round, files->directory().path(), files->resume_command());
    return true;
  };
  if (stopped_after(progress_.last_round)) return;
  for (int64_t round = progress_.last_round + 1; round <= options_.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const RoundMetrics metrics = run_round(round);
    const bool best = record_round(progress_, metrics, seconds_since(start));
    if (files_) files_->add_metrics(metrics);
    save_round(round, best);
    console_.round(metrics, progress_, seconds_since(start));
    if (stopped_after(round)) return;
  }
  console_.rounds_done();
  if (group_) group_->leave();
  if (writer_) final_evaluation();
}

}  // namespace

void run_training(const TrainOptions& options, const RunEvaluation& evaluation) {
  if (!fs::is_directory(resolve_model_dir(options.model))) {
    throw Error("--model " + options.model + ": no such folder (a local Hugging Face checkpoint folder is "
                "expected: config.json, weights, tokenizer.model; nothing is downloaded)");
  }
  const InterruptHandlers interrupts;
  const auto launch = launch_from_environment();
  if (!launch) {
    Federation(options, evaluation, parse_device(options.device), nullptr).run();
    return;
  }
  if (launch->rank != 0) log::set_level(log::Level::warn);  // rank 0 speaks for the run
  const c10::Device device = rank_device(options.device, *launch);
  RankGroup group(*launch, resolve_backend(options.backend, device), device,
                  std::chrono::seconds(options.dist_timeout));
  try {
    Federation(options, evaluation, device, &group).run();
  } catch (const Interrupted&) {
    throw;  // every rank agreed to stop and left the group
  } catch (const c10::Error& error) {
    group.report_failure(error.what_without_backtrace());
    throw;
  } catch (const std::exception& error) {
    group.report_failure(error.what());
    throw;
  }
}

}  // namespace fedkseed
