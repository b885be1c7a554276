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
#include "fedkseed/common/interrupt.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/peak_memory.h"
#include "fedkseed/data/batch.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/federation/client.h"
#include "fedkseed/federation/byzantine.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/dp_noise.h"
#include "fedkseed/federation/run_identity.h"
#include "fedkseed/federation/server.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/config_check.h"
#include "fedkseed/model/tokenizer.h"
#include "run_console.h"
#include "run_files.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

// Why a step is skipped (zo_step.h) and what usually makes every step skip.
constexpr const char* kSkippedBecause =
    ": each had a NaN loss or |L+ - L-| above --grad_clip. Usual causes: --lr too large (the model diverged), "
    "--max_length too small to keep any answer token, or NaN in the base model";

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
  if (!resumed) seeds.byzantine_clients = choose_byzantine_clients(num_clients, options.byzantine_fraction, options.seed);
  return seeds;
}

// The fraction of clients in each round's cohort, int(N * m) / N: the accountant's sampling rate.
double cohort_fraction(const TrainOptions& options, int64_t num_clients) {
  return static_cast<double>(static_cast<int64_t>(static_cast<double>(num_clients) * options.m)) /
         static_cast<double>(num_clients);
}

// The noise multiplier σ of the run: --dp_noise, or the smallest that keeps --rounds within
// (--dp_epsilon, --dp_delta).
double resolve_dp_noise(const TrainOptions& options, int64_t num_clients) {
  if (!std::isfinite(options.dp_epsilon)) return options.dp_noise;
  return dp_noise_for(options.dp_epsilon, options.dp_delta, options.rounds, cohort_fraction(options, num_clients));
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
  ServerOptions server_options() const;
  UplinkShaping uplink_shaping() const;
  int64_t cohort_size() const { return seeds_.schedule.empty() ? 0 : static_cast<int64_t>(seeds_.schedule[0].size()); }
  RoundMetrics run_round(int64_t round);
  std::vector<ClientRecord> train_cohort(const std::vector<int64_t>& cohort, const std::vector<Downlink>& received);
  std::string replica_digest() const;
  RunState snapshot(int64_t last_round) const;
  void save_round(int64_t round, bool best);
  double evaluate_round();
  void final_evaluation();
  int agreed_interrupt() const;
  bool stop_here(int64_t round) const;

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
      console_(options_, group ? group->size() : 1),
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
              server_options()),
      view_(model_, init_, seeds_.seeds, {options_.lr, options_.weight_decay, parse_rng_kind(options_.rng)},
            options_.sync == "incremental"),
      trainer_(model_, device_, pad_id_,
               {options_.zo_eps, options_.lr, options_.weight_decay, options_.grad_clip, parse_rng_kind(options_.rng)},
               options_.seed, seeds_.seeds, uplink_shaping()) {
  config_check_tokenizer(model_.config(), resolve_model_dir(options_.model) + "/config.json", tokenizer_);
  options_.num_clients = static_cast<int64_t>(data_.clients.size());
  if (dp_noise_ > 0) accountant_.emplace(accountant_for(dp_noise_, cohort_fraction(options_, options_.num_clients)));
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
  if (resumed_ || options_.log) {
    const std::string model_dir = resolve_model_dir(options_.model);
    progress_.identity = resumed_ ? resumed_identity(resumed_->identity, model_dir, data_.files, options_.resume)
                                  : run_identity(model_dir, data_.files);
  }
  if (resumed_) {
    files_ = RunFiles::reopen(*resumed_dir_, progress_);
  } else if (options_.log) {
    files_ = RunFiles::create(options_, seeds_);
  }
  if (files_) {
    log::add_file_sink(files_->directory().file("train.log"));
    log::info("run directory: " + files_->directory().path());
  }
}

ServerOptions Federation::server_options() const {
  ServerOptions server;
  server.replay = {options_.lr, options_.weight_decay, parse_rng_kind(options_.rng)};
  server.incremental = options_.sync == "incremental";
  // Under DP noise the mean weighs clients equally: data-size weights would let one client
  // count more than C in the sum the noise covers (and its data size is private too).
  server.equal_weight = options_.equal_weight || dp_noise_ > 0;
  server.pro = options_.bias_sampling;
  server.bias_loss_clip = options_.bias_loss_clip;
  server.grad_initial = options_.grad_initial;
  server.aggregator = parse_aggregator(options_.aggregator);
  server.trim = options_.trim;
  server.noise_std = options_.dp_noise_at == "server" ? dp_noise_ * options_.dp_clip : 0.0;
  server.seed = static_cast<uint64_t>(options_.seed);
  return server;
}

UplinkShaping Federation::uplink_shaping() const {
  UplinkShaping shaping;
  shaping.seed = static_cast<uint64_t>(options_.seed);
  shaping.clip = options_.dp_clip;
  shaping.noise_entries = static_cast<int64_t>(seeds_.seeds.size());
  if (options_.dp_noise_at == "clients" && dp_noise_ > 0) {
    shaping.noise_share_std = dp_noise_ * options_.dp_clip / std::sqrt(static_cast<double>(cohort_size()));
  }
  shaping.byzantine_clients = seeds_.byzantine_clients;
  shaping.attack = options_.attack;
  return shaping;
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
    const int64_t applied = results[slot].applied;
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
  std::vector<std::pair<std::string, double>> privacy;
  if (accountant_) {
    privacy = {{"dp_epsilon", accountant_->epsilon(options_.rounds, options_.dp_delta)},
               {"dp_delta", options_.dp_delta},
               {"dp_noise", dp_noise_}};
  }
  if (files_) files_->write_final_eval(metric, result.value, privacy);
  std::cout << "final round " << metric << ": " << result.value
            << (metric == "rouge" ? c10::str(" (Rouge-L ", result.value * 100, ")") : std::string()) << std::endl;
  console_.summary(progress_, result.value, files_ ? files_->directory().path() : "");
}

// Every rank stops at the same round boundary: with the first signal any rank received.
int Federation::agreed_interrupt() const {
  int signal = interrupt_signal();
  if (!group_) return signal;
  for (const auto& received : group_->all_gather(std::to_string(signal))) {
    if (signal == 0) signal = std::stoi(received);
  }
  return signal;
}

// After `round` is saved: ends the run there for --stop_after (true) or a signal (throws
// Interrupted), naming the command that continues it.
bool Federation::stop_here(int64_t round) const {
  const int signal = agreed_interrupt();
  const bool stop_after = options_.stop_after > 0 && round == options_.stop_after && round < options_.rounds;
  if (signal == 0 && !stop_after) return false;
  if (group_) group_->leave();
  const std::string next = files_ ? "; continue with: " + files_->resume_command()
                                  : "; nothing was saved (--log makes a run resumable)";
  const std::string stopped = c10::str("stopped after round ", round, " of ", options_.rounds, next);
  if (signal != 0) throw Interrupted(signal, signal_name(signal) + ": " + stopped);
  if (files_) console_.stopped(progress_, round, files_->directory().path(), files_->resume_command());
  return true;
}

void Federation::run() {
  log::info(c10::str(options_.bias_sampling ? "FedKSeed-Pro" : "FedKSeed", ": ", options_.num_clients,
                     " clients, ", seeds_.schedule.empty() ? 0 : seeds_.schedule[0].size(), " per round, K = ",
                     server_.pool().unbounded() ? std::string("unbounded") : std::to_string(server_.pool().size()),
                     ", ", model_.flat_parameters().numel(), " parameters on ", device_.str(),
                     group_ ? c10::str(", cohort split over ", group_->size(), " ranks") : std::string()));
  if (accountant_) {
    log::info(c10::str("client-level DP: clip ", options_.dp_clip, ", noise multiplier ", dp_noise_, " drawn by the ",
                       options_.dp_noise_at, "; (epsilon, delta) after ", options_.rounds, " rounds: (",
                       accountant_->epsilon(options_.rounds, options_.dp_delta), ", ", options_.dp_delta, ")"));
  }
  if (!seeds_.byzantine_clients.empty()) {
    log::info(c10::str(seeds_.byzantine_clients.size(), " Byzantine clients (", options_.attack, "), aggregator ",
                       options_.aggregator));
  }
  if (progress_.last_round == 0 && progress_.eval_losses.empty() && writer_) {
    progress_.eval_losses.push_back(evaluate_round());
    log::info(c10::str("round 0: eval loss ", progress_.eval_losses.back()));
    save_round(0, false);
  }
  if (stop_here(progress_.last_round)) return;
  const int64_t first_round = progress_.last_round + 1;
  int64_t steps_applied = 0, steps_skipped = 0;
  for (int64_t round = progress_.last_round + 1; round <= options_.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const RoundMetrics metrics = run_round(round);
    const bool best = metrics.evaluated && record_evaluation(progress_, round, metrics.eval_loss);
    progress_.bytes_up += metrics.bytes_up;
    progress_.bytes_down += metrics.bytes_down;
    progress_.seconds += seconds_since(start);
    if (files_) files_->add_metrics(metrics);
    save_round(round, best);
    console_.round(metrics, progress_, seconds_since(start));
    steps_applied += metrics.steps_applied;
    steps_skipped += metrics.steps_skipped;
    if (metrics.steps_applied == 0 && metrics.steps_skipped > 0) {
      log::warn(c10::str("round ", round, ": all ", metrics.steps_skipped, " steps were skipped", kSkippedBecause));
    }
    if (stop_here(round)) return;
  }
  if (steps_applied == 0 && steps_skipped > 0) {
    log::warn(c10::str("no step of rounds ", first_round, "..", options_.rounds, " was applied (all ", steps_skipped,
                       " skipped), so they left the model unchanged", kSkippedBecause));
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
