// The federated run: setup (or resume), rounds of client ZO training, aggregation of the
// clients' (seed, g) pairs, replay onto the global model, evaluation and run files. Under
// torchrun every rank holds a replica, trains its share of the cohort and all-gathers the
// clients' replies; all ranks aggregate alike and rank 0 evaluates and writes the run.
#include "fedkseed/federation/trainer.h"

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>
#include <sys/resource.h>
#include <torch/cuda.h>

#if FEDKSEED_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/random.h"
#include "fedkseed/common/run_dir.h"
#include "fedkseed/data/batch.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/evaluation/evaluate.h"
#include "fedkseed/federation/client_data.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/seed_pool.h"
#include "fedkseed/model/config_check.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/tokenizer.h"
#include "src/federation/run_replay.h"
#include "fedkseed/optimizers/seed_sampler.h"
#include "fedkseed/optimizers/zo_flat.h"
#include "fedkseed/optimizers/zo_step.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

constexpr int64_t kMaxNewTokens = 128;  // the reference's generation budget
// Prompts decoded together in the final Rouge-L (the reference decodes one at a time; greedy
// tokens are the same, the batch only amortises the weights).
constexpr int64_t kGenerationBatch = 16;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Process-wide peaks (never reset, as the reference's torch.cuda.max_memory_*): the CUDA
// caching allocator's on a GPU, the resident set size on the CPU.
std::pair<int64_t, int64_t> peak_memory(c10::Device device) {
#if FEDKSEED_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    return {stats.allocated_bytes[all].peak, stats.reserved_bytes[all].peak};
  }
#endif
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const int64_t bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  return {bytes, bytes};
}

uint64_t fnv1a(uint64_t hash, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  return hash;
}

template <class T>
uint64_t fnv1a(uint64_t hash, const std::vector<T>& values) {
  return fnv1a(hash, values.data(), values.size() * sizeof(T));
}

class Federation {
 public:
  // `group` is null for a single-process run.
  Federation(const TrainOptions& options, c10::Device device, RankGroup* group);

  void run();

 private:
  void prepare_run_directory(const RunState* resumed);
  void restore(const RunState& state);
  void rewrite_round_files();
  int64_t client_steps(int64_t client) const;
  at::Tensor batch_loss(const Batch& batch) const;
  ClientRecord train_client(int64_t client, int64_t round);
  std::vector<ClientRecord> train_cohort(const std::vector<int64_t>& cohort, int64_t round);
  std::string replica_digest() const;
  RoundMetrics run_round(int64_t round);
  void rebuild_global(const std::vector<double>& increment);
  double evaluate_round();
  std::string downlink_for(int64_t client, int64_t round);
  RunState snapshot(int64_t last_round) const;
  void write_results() const;
  void save_state(int64_t round, bool best);
  void final_evaluation();

  TrainOptions options_;
  c10::Device device_;
  RankGroup* group_;
  bool writer_;  // rank 0 (or the only process): evaluates, logs, writes the run directory
  std::optional<RunDirectory> run_dir_;
  Tokenizer tokenizer_;
  FederatedData data_;
  LlamaModel model_;
  int64_t pad_id_;
  ZoStepOptions step_options_;
  at::Tensor init_flat_, global_flat_;
  NamedParams working_, global_, init_;
  std::optional<ZoFlatParams> working_flat_, global_flat_params_;  // philox only
  SeedsAndSchedule seeds_;
  SeedPool pool_;
  SeedSampler sampler_;
  std::optional<SeedHistory> history_;
  std::vector<ClientData> clients_;
  std::vector<int64_t> synced_pool_size_;
  std::vector<SparseIncrement> round_increments_;  // --sync incremental only
  std::string metrics_lines_;  // metrics.jsonl, rewritten whole (atomically) every round
  RunState progress_;  // eval history, totals, peaks, best round, last finished round
};

Federation::Federation(const TrainOptions& options, c10::Device device, RankGroup* group)
    : options_(options),
      device_(device),
      group_(group),
      writer_(group == nullptr || group->rank() == 0),
      tokenizer_(Tokenizer::load(options_.model)),
      data_(load_federated_data(options_, tokenizer_)),
      model_(LlamaModel::load(options_.model, parse_dtype(options_.dtype), device_, options_.allow_nonfinite)),
      pad_id_(batch_pad_id(tokenizer_, model_.config().vocab_size)),
      sampler_(std::vector<uint64_t>{}) {
  config_check_tokenizer(model_.config(), resolve_model_dir(options_.model) + "/config.json", tokenizer_);
  options_.num_clients = static_cast<int64_t>(data_.clients.size());
  if ((options_.stop_after > 0 || options_.save) && !options_.log && options_.resume.empty()) {
    throw Error(std::string(options_.save ? "--save" : "--stop_after") +
                " needs --log: the run state is written to the run directory");
  }
  step_options_ = {options_.zo_eps, options_.lr, options_.weight_decay, options_.grad_clip,
                   parse_rng_kind(options_.rng)};

  std::optional<RunState> resumed;
  if (!options_.resume.empty()) {
    resumed = read_run_state(RunDirectory::open(options_.resume));
    seeds_ = resumed->seeds;
  } else if (!options_.seeds_file.empty()) {
    seeds_ = read_seeds_file(options_.seeds_file);
  } else {
    seeds_.seeds = SeedPool::draw(options_.K, options_.seed).seeds();
    seeds_.schedule = draw_client_schedule(options_.num_clients, options_.m, options_.rounds, options_.seed);
  }
  if (static_cast<int64_t>(seeds_.schedule.size()) < options_.rounds) {
    throw Error("--seeds_file " + options_.seeds_file + ": schedule has " +
                std::to_string(seeds_.schedule.size()) + " rounds, --rounds is " + std::to_string(options_.rounds));
  }
  for (std::size_t round = 0; round < seeds_.schedule.size(); ++round) {
    std::vector<bool> listed(options_.num_clients, false);
    for (int64_t client : seeds_.schedule[round]) {
      if (client < 0 || client >= options_.num_clients) {
        throw Error("--seeds_file " + options_.seeds_file + ": client " + std::to_string(client) +
                    " outside [0, " + std::to_string(options_.num_clients) + ")");
      }
      // A client trains once per round: its data position and its uplink are per round.
      if (listed[client]) {
        throw Error("--seeds_file " + options_.seeds_file + ": client " + std::to_string(client) +
                    " is listed twice in round " + std::to_string(round + 1) + " of the schedule");
      }
      listed[client] = true;
    }
  }
  pool_ = SeedPool::from_candidates(seeds_.seeds);
  sampler_ = SeedSampler(seeds_.seeds);
  if (options_.bias_sampling) history_.emplace(pool_.size(), options_.grad_initial);

  for (int64_t c = 0; c < options_.num_clients; ++c) {
    clients_.emplace_back(data_.clients[c], c, options_.seed, options_.batch_size);
  }
  synced_pool_size_.assign(options_.num_clients, 0);

  const auto& flat = model_.flat_parameters();
  global_flat_ = flat.clone();
  init_flat_ = options_.init_on == "cpu" && device_.is_cuda() ? flat.to(at::kCPU).pin_memory() : flat.clone();
  working_ = model_.named_parameters();
  global_ = views_like(model_, global_flat_);
  if (rng_is_philox(step_options_.rng)) {
    working_flat_.emplace(working_, step_options_.rng);
    global_flat_params_.emplace(global_, step_options_.rng);
  }
  init_ = views_like(model_, init_flat_);
  progress_.best_eval_loss = std::nan("");
  prepare_run_directory(resumed ? &*resumed : nullptr);
}

void Federation::prepare_run_directory(const RunState* resumed) {
  if (resumed) {
    restore(*resumed);
    if (!writer_) return;
    run_dir_ = RunDirectory::open(options_.resume);
    rewrite_round_files();
  } else if (options_.log && writer_) {
    run_dir_ = RunDirectory::create(options_.log_root);
    run_dir_->write_file("config.yaml", options_to_yaml(options_));
    run_dir_->write_file("seeds.json", seeds_file_json(seeds_));
  }
  if (run_dir_) {
    log::add_file_sink(run_dir_->file("train.log"));
    log::info("run directory: " + run_dir_->path());
  }
}

void Federation::restore(const RunState& state) {
  pool_.restore(state.pool_seeds, state.pool_cumulative);
  if (history_) {
    for (std::size_t j = 0; j < state.pro_history.size(); ++j) {
      for (double g : state.pro_history[j]) history_->record(static_cast<int64_t>(j), g);
    }
  }
  for (std::size_t c = 0; c < clients_.size() && c < state.data_positions.size(); ++c) {
    clients_[c].set_position({state.data_positions[c].first, state.data_positions[c].second});
  }
  synced_pool_size_ = state.synced_pool_size;
  round_increments_ = state.round_increments;
  progress_ = state;
  replay_state(global_, init_, state, options_, options_.resume + "/state.json");
  log::info(c10::str("resuming after round ", state.last_round, " of ", options_.rounds));
}

// state.json is the commit point, written after every other file of a round: a run killed
// before it may have left those files a round ahead (or, from an older fedkseed, a torn
// metrics line), so rebuild them from the state.
void Federation::rewrite_round_files() {
  std::ifstream in(run_dir_->file("metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_object() && parsed.contains("round") && parsed.at("round").is_number_integer() &&
        parsed.at("round").get<int64_t>() <= progress_.last_round) {
      metrics_lines_ += line + "\n";
    }
  }
  run_dir_->write_file("metrics.jsonl", metrics_lines_);
  write_results();
}

int64_t Federation::client_steps(int64_t client) const {
  return options_.batch_or_epoch == "batch" ? options_.local_step : options_.local_step * clients_[client].num_batches();
}

// The loss at the current parameters on one batch, enqueued without waiting on the host: one
// CUDA graph per bucketed length for unpadded batches on a GPU, the eager forward otherwise.
at::Tensor Federation::batch_loss(const Batch& batch) const {
  if (device_.is_cuda() && batch.attention_mask.all().item<bool>()) {
    return model_.graphed_loss(batch.input_ids, batch.labels);
  }
  return model_.loss(batch.input_ids.to(device_), batch.labels.to(device_), batch.attention_mask.to(device_));
}

// One client's local steps. philox keeps every step's scalars on the device (g and the skip
// rule there, the restore+update fused with the next +eps) and waits on the host once per
// client; torch takes the reference's host steps, as its generator lives on the host. The Pro
// history is not recorded here but from the replies after the round (run_round): the
// probabilities only change at round start, so that is the same record in the same order, and
// every rank can make it.
ClientRecord Federation::train_client(int64_t client, int64_t round) {
  ClientData& data = clients_[client];
  const int64_t steps = client_steps(client);
  Rng rng(options_.seed, c10::str("steps/", round, "/", client));
  log::Progress progress(c10::str("round ", round, " client ", client), steps);
  std::vector<ZoStepResult> outcomes;
  if (rng_is_philox(step_options_.rng) && steps > 0) {
    ZoDeviceLoop loop(*working_flat_, step_options_, steps);
    for (int64_t step = 0; step < steps; ++step) {
      const Batch batch = collate(data.next_batch(), pad_id_);
      loop.step(sampler_.sample(rng), [&] { return batch_loss(batch); });
      progress.update(step + 1);
      note_progress();
    }
    outcomes = loop.finish();
  } else {
    double loss_sum = 0.0;
    int64_t applied = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const Batch batch = collate(data.next_batch(), pad_id_);
      const LossFn loss = [&] { return batch_loss(batch).item<double>(); };
      outcomes.push_back(zo_train_step(working_, sampler_, rng, loss, step_options_));
      if (outcomes.back().applied) {
        loss_sum += outcomes.back().loss_plus;
        ++applied;
      }
      progress.update(step + 1, c10::str("L+ ", applied ? loss_sum / applied : NAN));
      note_progress();
    }
  }
  Uplink reply;
  reply.data_size = static_cast<uint32_t>(data.num_batches());  // len(train_loader), as the reference weighs
  reply.unbounded_seeds = pool_.unbounded();
  ClientRecord result;
  for (const auto& outcome : outcomes) {
    if (!outcome.applied) continue;
    result.loss_sum += outcome.loss_plus;
    reply.seeds.push_back(pool_.unbounded() ? outcome.seed : static_cast<uint64_t>(outcome.seed_index));
    reply.values.push_back(static_cast<float>(outcome.g));  // g is an fp32 product: exact
  }
  progress.finish(c10::str("mean L+ ", reply.seeds.empty() ? NAN : result.loss_sum / reply.seeds.size()));
  result.uplink = encode(reply);
  result.pass = data.position().pass;
  result.offset = data.position().offset;
  return result;
}

// Every cohort client's round, in cohort order. With several ranks each trains the clients
// assigned to it (balanced by step counts) and the ranks all-gather the records.
std::vector<ClientRecord> Federation::train_cohort(const std::vector<int64_t>& cohort, int64_t round) {
  std::vector<int64_t> costs;
  for (int64_t client : cohort) costs.push_back(client_steps(client));
  const auto owners = assign_balanced(costs, group_ ? group_->size() : 1);
  std::vector<ClientRecord> results(cohort.size()), mine;
  for (std::size_t slot = 0; slot < cohort.size(); ++slot) {
    if (owners[slot] != (group_ ? group_->rank() : 0)) continue;
    model_.flat_parameters().copy_(global_flat_);
    results[slot] = train_client(cohort[slot], round);
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

// Cheap and exact: the integer sum of the parameters' bit patterns (order-free, so equal on
// any thread count) and a hash of the seed pool, Pro history and data positions.
std::string Federation::replica_digest() const {
  const auto bits = global_flat_.element_size() == 2 ? at::kShort : at::kInt;
  const int64_t parameters = global_flat_.view(bits).sum(at::kLong).item<int64_t>();
  uint64_t hash = fnv1a(fnv1a(14695981039346656037ull, pool_.seeds()), pool_.cumulative());
  for (int64_t j = 0; history_ && j < history_->size(); ++j) hash = fnv1a(hash, history_->values(j));
  for (const auto& client : clients_) {
    const auto position = client.position();
    hash = fnv1a(fnv1a(hash, &position.pass, sizeof(position.pass)), &position.offset, sizeof(position.offset));
  }
  return c10::str("parameter checksum ", parameters, " and state hash ", hash);
}

std::string Federation::downlink_for(int64_t client, int64_t round) {
  Downlink message;
  message.round = static_cast<uint32_t>(round);
  if (pool_.unbounded()) {
    for (int64_t j = synced_pool_size_[client]; j < pool_.size(); ++j) {
      message.fresh_seeds.push_back(pool_.seeds()[j]);
      message.fresh_values.push_back(static_cast<float>(pool_.cumulative()[j]));
    }
    synced_pool_size_[client] = pool_.size();
  } else {
    for (double value : pool_.cumulative()) message.seed_deltas.push_back(static_cast<float>(value));
  }
  if (history_) {
    for (double p : history_->probabilities(options_.bias_loss_clip)) message.probabilities.push_back(static_cast<float>(p));
  }
  return encode(message);
}

void Federation::rebuild_global(const std::vector<double>& increment) {
  if (options_.sync == "incremental") {
    round_increments_.push_back(sparse(increment));
    const auto pairs = seed_pairs(pool_.seeds(), round_increments_.back(), "seed pool");
    if (global_flat_params_) {
      global_flat_params_->replay_incremental(pairs, options_.lr, options_.weight_decay);
    } else {
      zo_replay_incremental(global_, pairs, options_.lr, options_.weight_decay, step_options_.rng);
    }
  } else {
    zo_replay(global_, init_, nonzero_pairs(pool_.seeds(), pool_.cumulative()), options_.lr,
              options_.weight_decay, step_options_.rng);
  }
}

double Federation::evaluate_round() {
  if (!writer_) return std::nan("");
  model_.flat_parameters().copy_(global_flat_);
  return evaluate_loss(model_, data_.test, pad_id_, options_.eval_max_samples);
}

RoundMetrics Federation::run_round(int64_t round) {
  RoundMetrics metrics;
  metrics.round = round;
  const auto& cohort = seeds_.schedule[round - 1];
  if (history_) sampler_.set_probabilities(history_->probabilities(options_.bias_loss_clip));

  for (int64_t client : cohort) metrics.bytes_down += static_cast<int64_t>(downlink_for(client, round).size());

  auto start = std::chrono::steady_clock::now();
  const int64_t sent_before = group_ ? group_->bytes_sent() : 0;
  const std::vector<ClientRecord> results = train_cohort(cohort, round);
  std::vector<ClientUpdate> updates;
  double loss_sum = 0.0;
  for (std::size_t slot = 0; slot < cohort.size(); ++slot) {
    const ClientRecord& trained = results[slot];
    // The server sees only the decoded message, as it would over a network.
    const Uplink received = decode_uplink(trained.uplink);
    const auto applied = static_cast<int64_t>(received.seeds.size());
    metrics.bytes_up += static_cast<int64_t>(trained.uplink.size());
    metrics.steps_applied += applied;
    metrics.steps_skipped += client_steps(cohort[slot]) - applied;
    loss_sum += trained.loss_sum;
    clients_[cohort[slot]].set_position({trained.pass, trained.offset});
    for (int64_t j = 0; history_ && !received.unbounded_seeds && j < applied; ++j) {
      history_->record(static_cast<int64_t>(received.seeds[j]), received.values[j]);
    }
    updates.push_back({received.data_size, received.seeds,
                       std::vector<double>(received.values.begin(), received.values.end())});
  }
  metrics.train_loss = metrics.steps_applied ? loss_sum / metrics.steps_applied : std::nan("");
  metrics.seconds_train = seconds_since(start);

  start = std::chrono::steady_clock::now();
  rebuild_global(pool_.aggregate(updates, options_.equal_weight));
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
  state.pool_seeds = pool_.seeds();
  state.pool_cumulative = pool_.cumulative();
  state.pro_history.clear();
  if (history_) {
    for (int64_t j = 0; j < history_->size(); ++j) {
      const auto& values = history_->values(j);
      state.pro_history.emplace_back(values.begin() + 1, values.end());  // after the initial value
    }
  }
  state.data_positions.clear();
  for (const auto& client : clients_) state.data_positions.emplace_back(client.position().pass, client.position().offset);
  state.synced_pool_size = synced_pool_size_;
  state.round_increments = round_increments_;
  return state;
}

// Replaces the previous <prefix>_round<r>* (a state file, or with --save_weights a model
// folder) by this round's, written first: the reference keeps one "best" and one "final".
void replace_saved(const RunDirectory& run, const std::string& prefix, int64_t round,
                   const std::function<void(const std::string& name)>& write) {
  const std::string name = prefix + "_round" + std::to_string(round);
  write(name);
  for (const auto& entry : fs::directory_iterator(run.path())) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix + "_round", 0) == 0 && file != name && file != name + ".json") fs::remove_all(entry.path());
  }
}

// results.json (NaN losses as null: JSON has no NaN) and memory.json from progress_.
void Federation::write_results() const {
  run_dir_->write_file("results.json", nlohmann::json({{"eval_avg_acc", progress_.eval_losses}}).dump() + "\n");
  const nlohmann::json memory = {{"0", {{"max_memory_allocated", progress_.peak_memory_allocated},
                                        {"max_memory_reserved", progress_.peak_memory_reserved}}}};
  run_dir_->write_file("memory.json", memory.dump() + "\n");
}

// Every file of the round first, state.json (the commit point) last.
void Federation::save_state(int64_t round, bool best) {
  if (!run_dir_) return;
  const auto [allocated, reserved] = peak_memory(device_);
  progress_.peak_memory_allocated = std::max(progress_.peak_memory_allocated, allocated);
  progress_.peak_memory_reserved = std::max(progress_.peak_memory_reserved, reserved);
  const std::string state = run_state_json(snapshot(round));
  write_results();
  std::vector<std::string> kinds;
  if (options_.save) kinds.push_back("final");
  if (options_.save && best) kinds.push_back("best");
  for (const auto& kind : kinds) {
    replace_saved(*run_dir_, "state_" + kind, round,
                  [&](const std::string& name) { run_dir_->write_file(name + ".json", state); });
    if (options_.save_weights) {
      model_.flat_parameters().copy_(global_flat_);
      replace_saved(*run_dir_, "model_" + kind, round,
                    [&](const std::string& name) { model_.save(run_dir_->file(name)); });
    }
  }
  run_dir_->write_file("state.json", state);
}

void Federation::final_evaluation() {
  model_.flat_parameters().copy_(global_flat_);
  const std::string metric = options_.eval_metric;
  double value = 0.0;
  if (metric == "rouge") {
    const auto rouge = evaluate_rouge(model_, tokenizer_, data_.test_generation, kGenerationBatch, pad_id_,
                                      kMaxNewTokens, options_.eval_max_samples);
    value = rouge.mean_rouge_l_f;
    if (run_dir_) {
      std::string lines;
      for (std::size_t i = 0; i < rouge.hypotheses.size(); ++i) {
        lines += nlohmann::json({{"hypothesis", rouge.hypotheses[i]}, {"reference", data_.test_generation[i].reference}})
                     .dump() + "\n";
      }
      run_dir_->write_file("final_generations.jsonl", lines);
    }
  } else {
    value = evaluate_loss(model_, data_.test, pad_id_, options_.eval_max_samples);
  }
  if (run_dir_) {
    run_dir_->write_file("final_eval.json", nlohmann::json({{"final_eval_" + metric, value}}).dump() + "\n");
  }
  std::cout << "final round " << metric << ": " << value
            << (metric == "rouge" ? c10::str(" (Rouge-L ", value * 100, ")") : std::string()) << std::endl;
}

void Federation::run() {
  log::info(c10::str(options_.bias_sampling ? "FedKSeed-Pro" : "FedKSeed", ": ", options_.num_clients,
                     " clients, ", seeds_.schedule.empty() ? 0 : seeds_.schedule[0].size(), " per round, K = ",
                     pool_.unbounded() ? std::string("unbounded") : std::to_string(pool_.size()), ", ",
                     model_.flat_parameters().numel(), " parameters on ", device_.str(),
                     group_ ? c10::str(", cohort split over ", group_->size(), " ranks") : std::string()));
  if (progress_.last_round == 0 && progress_.eval_losses.empty() && writer_) {
    progress_.eval_losses.push_back(evaluate_round());
    log::info(c10::str("round 0: eval loss ", progress_.eval_losses.back()));
    save_state(0, false);
  }
  for (int64_t round = progress_.last_round + 1; round <= options_.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    RoundMetrics metrics = run_round(round);
    bool best = false;
    if (metrics.evaluated) {
      progress_.eval_losses.push_back(metrics.eval_loss);
      best = !std::isnan(metrics.eval_loss) &&
             (std::isnan(progress_.best_eval_loss) || metrics.eval_loss < progress_.best_eval_loss);
      if (best) {
        progress_.best_eval_loss = metrics.eval_loss;
        progress_.best_round = round;
      }
    }
    progress_.bytes_up += metrics.bytes_up;
    progress_.bytes_down += metrics.bytes_down;
    progress_.seconds += seconds_since(start);
    if (run_dir_) {
      metrics_lines_ += round_metrics_json(metrics) + "\n";
      run_dir_->write_file("metrics.jsonl", metrics_lines_);
    }
    save_state(round, best);
    log::info(c10::str("round ", round, "/", options_.rounds, ": train L+ ", metrics.train_loss, ", eval loss ",
                       metrics.eval_loss, ", bytes up ", metrics.bytes_up, " down ", metrics.bytes_down,
                       " (total ", progress_.bytes_up + progress_.bytes_down, "; FedAvg would send ",
                       metrics.bytes_fedavg, " this round)",
                       group_ ? c10::str(", between ", group_->size(), " ranks ", metrics.bytes_between_ranks) : "",
                       ", ", seconds_since(start), " s"));
    if (round == options_.stop_after && round < options_.rounds) {
      if (group_) group_->leave();
      if (run_dir_) log::info(c10::str("stopped after round ", round, "; continue with --resume ", run_dir_->path()));
      return;
    }
  }
  if (group_) group_->leave();
  if (writer_) final_evaluation();
}

}  // namespace

void run_training(const TrainOptions& options) {
  if (!fs::is_directory(resolve_model_dir(options.model))) {
    throw Error("--model " + options.model + ": no such folder (a local Hugging Face checkpoint folder is "
                "expected: config.json, weights, tokenizer.model; nothing is downloaded)");
  }
  const auto launch = launch_from_environment();
  if (!launch) {
    Federation(options, parse_device(options.device), nullptr).run();
    return;
  }
  if (launch->rank != 0) log::set_level(log::Level::warn);  // rank 0 speaks for the run
  const c10::Device device = rank_device(options.device, *launch);
  RankGroup group(*launch, resolve_backend(options.backend, device), device,
                  std::chrono::seconds(options.dist_timeout));
  try {
    Federation(options, device, &group).run();
  } catch (const c10::Error& error) {
    group.report_failure(error.what_without_backtrace());
    throw;
  } catch (const std::exception& error) {
    group.report_failure(error.what());
    throw;
  }
}

}  // namespace fedkseed
