// The federated run, round by round: each cohort client receives the server's downlink,
// trains, and sends its uplink; the server aggregates the decoded uplinks and rebuilds the
// global model; rank 0 evaluates it and writes the run files. Under torchrun every rank holds
// a server and the clients' view, trains its share of the cohort and all-gathers the
// clients' records; every rank aggregates alike.
#include "fedkseed/federation/trainer.h"

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>
#include <torch/cuda.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/hash.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/peak_memory.h"
#include "fedkseed/data/batch.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/federation/client.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/server.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/config_check.h"
#include "fedkseed/model/tokenizer.h"
#include "run_files.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The candidate seeds and client schedule: a resumed run's, --seeds_file's or drawn.
SeedsAndSchedule seeds_and_schedule(const TrainOptions& options, int64_t num_clients, const RunState* resumed) {
  SeedsAndSchedule seeds;
  if (resumed) {
    seeds = resumed->seeds;
  } else if (!options.seeds_file.empty()) {
    seeds = read_seeds_file(options.seeds_file);
  } else {
    seeds.seeds = SeedPool::draw(options.K, options.seed).seeds();
    seeds.schedule = draw_client_schedule(num_clients, options.m, options.rounds, options.seed);
  }
  check_schedule(seeds, num_clients, options.rounds, options.seeds_file);
  return seeds;
}

// Adds an evaluated round's loss to the history; true when it is the best so far (NaN never is).
bool record_evaluation(RunState& progress, int64_t round, double loss) {
  progress.eval_losses.push_back(loss);
  if (std::isnan(loss) || (!std::isnan(progress.best_eval_loss) && loss >= progress.best_eval_loss)) return false;
  progress.best_eval_loss = loss;
  progress.best_round = round;
  return true;
}

class Federation {
 public:
  // `group` is null for a single-process run.
  Federation(const TrainOptions& options, const RunEvaluation& evaluation, c10::Device device, RankGroup* group);
  void run();

 private:
  RoundMetrics run_round(int64_t round);
  std::vector<ClientRecord> train_cohort(const std::vector<int64_t>& cohort, const std::vector<Downlink>& received);
  std::string replica_digest() const;
  RunState snapshot(int64_t last_round) const;
  void save_round(int64_t round, bool best);
  double evaluate_round();
  void final_evaluation();
  void log_round(const RoundMetrics& metrics, double seconds) const;

  TrainOptions options_;
  const RunEvaluation& evaluation_;
  c10::Device device_;
  RankGroup* group_;
  bool writer_;  // rank 0 (or the only process): evaluates, logs, writes the run directory
  Tokenizer tokenizer_;
  FederatedData data_;
  LlamaModel model_;
  int64_t pad_id_;
  std::optional<RunState> resumed_;
  SeedsAndSchedule seeds_;
  at::Tensor init_flat_;  // θ0: the replays' base, known to the server and every client
  NamedParams init_;
  Server server_;
  ClientView view_;  // the clients' view of the global model (client_view.h: shared)
  LocalTrainer trainer_;
  std::vector<Client> clients_;
  std::optional<RunFiles> files_;
  RunState progress_;  // eval history, totals, peaks, best round, last finished round
};

Federation::Federation(const TrainOptions& options, const RunEvaluation& evaluation, c10::Device device,
                       RankGroup* group)
    : options_(options),
      evaluation_(evaluation),
      device_(device),
      group_(group),
      writer_(group == nullptr || group->rank() == 0),
      tokenizer_(Tokenizer::load(options_.model)),
      data_(load_federated_data(options_, tokenizer_)),
      model_(LlamaModel::load(options_.model, LlamaModel::resolve_dtype(options_.dtype, options_.model), device_, options_.allow_nonfinite)),
      pad_id_(batch_pad_id(tokenizer_, model_.config().vocab_size)),
      resumed_(options_.resume.empty() ? std::nullopt
                                       : std::optional<RunState>(read_run_state(RunDirectory::open(options_.resume)))),
      seeds_(seeds_and_schedule(options_, static_cast<int64_t>(data_.clients.size()), resumed_ ? &*resumed_ : nullptr)),
      init_flat_(options_.init_on == "cpu" && device_.is_cuda() ? model_.flat_parameters().to(at::kCPU).pin_memory()
                                                                 : model_.flat_parameters().clone()),
      init_(views_like(model_, init_flat_)),
      server_(model_, init_, seeds_.seeds, static_cast<int64_t>(data_.clients.size()),
              {{options_.lr, options_.weight_decay, parse_rng_kind(options_.rng)}, options_.sync == "incremental",
               options_.equal_weight, options_.bias_sampling, options_.bias_loss_clip, options_.grad_initial}),
      view_(model_, init_, seeds_.seeds, {options_.lr, options_.weight_decay, parse_rng_kind(options_.rng)},
            options_.sync == "incremental"),
      trainer_(model_, device_, pad_id_,
               {options_.zo_eps, options_.lr, options_.weight_decay, options_.grad_clip, parse_rng_kind(options_.rng)},
               options_.seed, seeds_.seeds) {
  config_check_tokenizer(model_.config(), resolve_model_dir(options_.model) + "/config.json", tokenizer_);
  options_.num_clients = static_cast<int64_t>(data_.clients.size());
  for (int64_t c = 0; c < options_.num_clients; ++c) {
    clients_.emplace_back(data_.clients[c], c, options_.seed, options_.batch_size, options_.local_step,
                          options_.batch_or_epoch == "epoch");
  }
  progress_.best_eval_loss = std::nan("");
  if (resumed_) {
    const std::string source = options_.resume + "/state.json";
    server_.restore(*resumed_, seeds_.schedule, source);
    view_.restore(*resumed_, source);
    for (std::size_t c = 0; c < clients_.size() && c < resumed_->data_positions.size(); ++c) {
      clients_[c].data().set_position({resumed_->data_positions[c].first, resumed_->data_positions[c].second});
    }
    progress_ = *resumed_;
    log::info(c10::str("resuming after round ", resumed_->last_round, " of ", options_.rounds));
  }
  if (!writer_) return;
  if (resumed_) {
    files_ = RunFiles::reopen(options_.resume, progress_);
  } else if (options_.log) {
    files_ = RunFiles::create(options_, seeds_);
  }
  if (files_) {
    log::add_file_sink(files_->directory().file("train.log"));
    log::info("run directory: " + files_->directory().path());
  }
}

// Every cohort client's round, in cohort order. With several ranks each trains the clients
// assigned to it (balanced by step counts) and the ranks all-gather the records.
std::vector<ClientRecord> Federation::train_cohort(const std::vector<int64_t>& cohort,
                                                   const std::vector<Downlink>& received) {
  std::vector<int64_t> costs;
  for (int64_t client : cohort) costs.push_back(clients_[client].steps());
  const auto owners = assign_balanced(costs, group_ ? group_->size() : 1);
  std::vector<ClientRecord> results(cohort.size()), mine;
  for (std::size_t slot = 0; slot < cohort.size(); ++slot) {
    if (owners[slot] != (group_ ? group_->rank() : 0)) continue;
    results[slot] = clients_[cohort[slot]].train(trainer_, view_, received[slot]);
    results[slot].slot = static_cast<uint32_t>(slot);
    mine.push_back(results[slot]);
  }
  if (!group_) return results;
  for (const auto& bytes : group_->all_gather(encode_records(mine))) {
    for (auto& record : decode_records(bytes)) {
      if (record.slot >= results.size()) throw Error("rank exchange: a record for cohort slot " + std::to_string(record.slot));
      results[record.slot] = std::move(record);
    }
  }
  return results;
}

// The server's digest and the clients' data positions.
std::string Federation::replica_digest() const {
  uint64_t hash = kFnv1aOffset;
  for (const auto& client : clients_) {
    const auto position = client.data().position();
    hash = fnv1a(&position.offset, sizeof(position.offset), fnv1a(&position.pass, sizeof(position.pass), hash));
  }
  return c10::str(server_.digest(), ", data positions ", hash);
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
  std::vector<Downlink> received;
  for (int64_t client : cohort) {
    const std::string downlink = server_.downlink(client, round);
    metrics.bytes_down += static_cast<int64_t>(downlink.size());
    received.push_back(clients_[client].receive(downlink, view_));
  }

  auto start = std::chrono::steady_clock::now();
  const int64_t sent_before = group_ ? group_->bytes_sent() : 0;
  const std::vector<ClientRecord> results = train_cohort(cohort, received);
  std::vector<Uplink> uplinks;
  double loss_sum = 0.0;
  for (std::size_t slot = 0; slot < cohort.size(); ++slot) {
    // The server sees only the decoded message, as it would over a network.
    uplinks.push_back(decode_uplink(results[slot].uplink));
    const auto applied = static_cast<int64_t>(uplinks.back().seeds.size());
    metrics.bytes_up += static_cast<int64_t>(results[slot].uplink.size());
    metrics.steps_applied += applied;
    metrics.steps_skipped += clients_[cohort[slot]].steps() - applied;
    loss_sum += results[slot].loss_sum;
    clients_[cohort[slot]].data().set_position({results[slot].pass, results[slot].offset});
  }
  metrics.train_loss = metrics.steps_applied ? loss_sum / metrics.steps_applied : std::nan("");
  metrics.seconds_train = seconds_since(start);

  start = std::chrono::steady_clock::now();
  server_.aggregate(uplinks);
  if (device_.is_cuda()) torch::cuda::synchronize();  // the replay runs asynchronously
  if (group_) group_->expect_same(c10::str("the replica after round ", round), replica_digest());
  metrics.seconds_aggregate = seconds_since(start);
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

RunState Federation::snapshot(int64_t last_round) const {
  RunState state = progress_;
  state.options_json = options_to_json(options_);
  state.last_round = last_round;
  state.seeds = seeds_;
  server_.save_to(state);
  state.data_positions.clear();
  for (const auto& client : clients_) {
    state.data_positions.emplace_back(client.data().position().pass, client.data().position().offset);
  }
  return state;
}

void Federation::save_round(int64_t round, bool best) {
  if (!files_) return;
  const auto [allocated, reserved] = peak_memory(device_);
  progress_.peak_memory_allocated = std::max(progress_.peak_memory_allocated, allocated);
  progress_.peak_memory_reserved = std::max(progress_.peak_memory_reserved, reserved);
  files_->save_round(snapshot(round), best, options_, [&](const std::string& folder) {
    model_.flat_parameters().copy_(server_.global());
    model_.save(folder);
  });
}

void Federation::final_evaluation() {
  model_.flat_parameters().copy_(server_.global());
  const std::string& metric = options_.eval_metric;
  const FinalEvaluation result = evaluation_.final(model_, tokenizer_, data_, pad_id_);
  if (files_ && metric == "rouge") files_->directory().write_file("final_generations.jsonl", result.generations);
  if (files_) files_->write_final_eval(metric, result.value);
  std::cout << "final round " << metric << ": " << result.value
            << (metric == "rouge" ? c10::str(" (Rouge-L ", result.value * 100, ")") : std::string()) << std::endl;
}

void Federation::log_round(const RoundMetrics& metrics, double seconds) const {
  log::info(c10::str("round ", metrics.round, "/", options_.rounds, ": train L+ ", metrics.train_loss, ", eval loss ",
                     metrics.eval_loss, ", bytes up ", metrics.bytes_up, " down ", metrics.bytes_down, " (total ",
                     progress_.bytes_up + progress_.bytes_down, "; FedAvg would send ", metrics.bytes_fedavg,
                     " this round)",
                     group_ ? c10::str(", between ", group_->size(), " ranks ", metrics.bytes_between_ranks) : "",
                     ", ", seconds, " s"));
}

void Federation::run() {
  log::info(c10::str(options_.bias_sampling ? "FedKSeed-Pro" : "FedKSeed", ": ", options_.num_clients,
                     " clients, ", seeds_.schedule.empty() ? 0 : seeds_.schedule[0].size(), " per round, K = ",
                     server_.pool().unbounded() ? std::string("unbounded") : std::to_string(server_.pool().size()),
                     ", ", model_.flat_parameters().numel(), " parameters on ", device_.str(),
                     group_ ? c10::str(", cohort split over ", group_->size(), " ranks") : std::string()));
  if (progress_.last_round == 0 && progress_.eval_losses.empty() && writer_) {
    progress_.eval_losses.push_back(evaluate_round());
    log::info(c10::str("round 0: eval loss ", progress_.eval_losses.back()));
    save_round(0, false);
  }
  for (int64_t round = progress_.last_round + 1; round <= options_.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const RoundMetrics metrics = run_round(round);
    const bool best = metrics.evaluated && record_evaluation(progress_, round, metrics.eval_loss);
    progress_.bytes_up += metrics.bytes_up;
    progress_.bytes_down += metrics.bytes_down;
    progress_.seconds += seconds_since(start);
    if (files_) files_->add_metrics(metrics);
    save_round(round, best);
    log_round(metrics, seconds_since(start));
    if (round == options_.stop_after && round < options_.rounds) {
      if (group_) group_->leave();
      if (files_) log::info(c10::str("stopped after round ", round, "; continue with --resume ", files_->directory().path()));
      return;
    }
  }
  if (group_) group_->leave();
  if (writer_) final_evaluation();
}

}  // namespace

void run_training(const TrainOptions& options, const RunEvaluation& evaluation) {
  if (!fs::is_directory(resolve_model_dir(options.model))) {
    throw Error("--model " + options.model + ": no such folder (a local Hugging Face checkpoint folder is "
                "expected: config.json, weights, tokenizer.model; nothing is downloaded)");
  }
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
  } catch (const c10::Error& error) {
    group.report_failure(error.what_without_backtrace());
    throw;
  } catch (const std::exception& error) {
    group.report_failure(error.what());
    throw;
  }
}

}  // namespace fedkseed
