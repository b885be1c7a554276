// The flags of `fedkseed train`: the reference main.py's names, meanings and defaults
// (the reference's main.py flags) plus what a C++ tool needs. Each field is declared once here;
// visit_fields() feeds the same list to the CLI binding, JSON and config.yaml.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace fedkseed {

struct TrainOptions {
  // Federation
  int64_t num_clients = 200;
  double m = 0.05;
  int64_t rounds = 40;
  int64_t local_step = 200;
  std::string batch_or_epoch = "batch";
  bool equal_weight = false;
  // Data
  std::string dataset = "instruct";
  std::string data_dir = "data";
  int64_t batch_size = 1;
  int64_t max_length = 1024;
  bool use_prompts = true;
  std::string iid = "dir0.5";
  int64_t zerotask = 7;
  double dataset_subsample = 1.0;
  std::string partition_file;
  // Model and zeroth-order optimisation
  std::string model = "datajuicer/LLaMA-1B-dj-refine-150B";
  std::string dtype = "auto";
  bool allow_nonfinite = false;
  double lr = 0.001;
  double weight_decay = 0.0;
  double grad_clip = -100.0;
  int64_t K = 4096;
  double zo_eps = 0.0005;
  bool bias_sampling = false;
  double bias_loss_clip = 1000.0;
  double grad_initial = 0.0;
  std::string rng = "philox-icdf";
  // Run
  std::string device = "auto";
  int64_t threads = 0;
  bool log = false;
  std::string log_root = "logs";
  std::string run_name;
  int64_t seed = 42;
  std::string eval_metric = "rouge";
  bool save = false;
  // Federation extensions
  std::string sync = "from_init";
  std::string init_on = "auto";
  std::string seeds_file;
  int64_t eval_every = 1;
  int64_t eval_max_samples = 0;
  std::string resume;
  int64_t stop_after = 0;
  bool save_weights = false;
  // Privacy and robustness (infinity: off)
  double dp_clip = std::numeric_limits<double>::infinity();
  double dp_noise = 0.0;
  double dp_epsilon = std::numeric_limits<double>::infinity();
  double dp_delta = 1e-5;
  std::string dp_noise_at = "server";
  std::string aggregator = "mean";
  double trim = 0.1;
  double byzantine_fraction = 0.0;
  std::string attack = "sign_flip";
  // Several processes (torchrun or RANK/WORLD_SIZE/... in the environment)
  std::string backend = "auto";
  int64_t dist_timeout = 300;

  // Calls visitor(flag, field, help) for every flag, in --help order.
  template <class Visitor>
  void visit_fields(Visitor&& visit);
  template <class Visitor>
  void visit_fields(Visitor&& visit) const {
    const_cast<TrainOptions*>(this)->visit_fields(visit);
  }

  // Throws fedkseed::Error naming the first invalid flag and its accepted range.
  void validate() const;
};

// Dirichlet concentration of `--iid dir<alpha>`, or 0 for an equal random split ("0").
// Throws fedkseed::Error for anything else.
double iid_alpha(const std::string& iid);

// S of `--attack scale:S`, nothing for sign_flip and gaussian. Throws fedkseed::Error for
// anything else.
std::optional<double> attack_scale(const std::string& attack);

// All flags as one JSON object, keys without dashes ("K", "rounds", ...); the privacy and
// robustness flags only when set away from their defaults (options_to_yaml too), so that a run
// without them writes the files it wrote before they existed.
std::string options_to_json(const TrainOptions& options);
// The inverse of options_to_json; keys it lacks (older run states) keep their defaults.
TrainOptions options_from_json(const std::string& text);
// All flags as YAML with sorted keys, the layout of the reference's config.yaml.
std::string options_to_yaml(const TrainOptions& options);

template <class Visitor>
void TrainOptions::visit_fields(Visitor&& visit) {
  visit("--num_clients", num_clients, "Number of clients N (Dolly; NI uses one client per train task)");
  visit("-m", m, "Fraction of clients per round, in (0, 1]; cohort = int(N*m)");
  visit("--rounds", rounds, "Number of communication rounds");
  visit("--local_step", local_step, "Local ZO steps (batch) or epochs (epoch) per client per round");
  visit("--batch_or_epoch", batch_or_epoch, "Meaning of --local_step: batch|epoch");
  visit("--equal_weight", equal_weight, "Aggregate clients with equal weights instead of data sizes");
  visit("--dataset", dataset, "instruct (Natural Instructions) | dolly (Dolly-15K)");
  visit("--data_dir", data_dir, "Root holding databricks-dolly-15k.jsonl and natural-instructions/");
  visit("--batch_size", batch_size, "Batch size for training and evaluation");
  visit("--max_length", max_length, "Truncation length in tokens (NI: also the input character limit)");
  visit("--use_prompts", use_prompts, "NI: use the Alpaca-style template (bare flag or a value)");
  visit("--iid", iid, "Dolly partition: dir<alpha> (Dirichlet label skew) or 0 (equal random split)");
  visit("--zerotask", zerotask, "Dolly category code held out as the test set (7 = summarization)");
  visit("--dataset_subsample", dataset_subsample, "Dolly: fraction of records kept, in (0, 1]");
  visit("--partition_file", partition_file, "Load the client -> record-index assignment from this JSON file");
  visit("--model", model, "Hugging Face LLaMA checkpoint folder");
  visit("--dtype", dtype, "Weights and activations: fp16|bf16|fp32, or auto: fp32 on the CPU (where fp16 is "
                         "about 3x slower), on a GPU the checkpoint's own dtype");
  visit("--allow_nonfinite", allow_nonfinite, "Load --model weights holding NaN or Inf instead of refusing them");
  visit("--lr", lr, "Learning rate (client steps and server replay)");
  visit("--weight_decay", weight_decay, "Weight decay inside the ZO update");
  visit("--grad_clip", grad_clip, "Skip a step when |L+ - L-| exceeds this (<= 0: off)");
  visit("-K", K, "Number of candidate seeds");
  visit("--zo_eps", zo_eps, "Perturbation scale epsilon");
  visit("--bias_sampling", bias_sampling, "FedKSeed-Pro: sample seeds by their gradient history");
  visit("--bias_loss_clip", bias_loss_clip, "Pro: clip history values to +-this before averaging");
  visit("--grad_initial", grad_initial, "Pro: initial entry of every seed's history");
  visit("--rng", rng,
        "Perturbation generator: philox-icdf (device-independent, fastest) | philox (device-independent, "
        "Box-Muller; earlier versions' default) | torch (the reference's)");
  visit("--device", device, "auto (cuda:0 when a GPU is visible, else cpu) | cpu | cuda | cuda:N | N (GPU index); "
                           "under torchrun (RANK set) any CUDA device means this rank's local GPU, cuda:LOCAL_RANK "
                           "(modulo the GPU count)");
  visit("--threads", threads, "CPU threads for LibTorch and data preparation; 0 = the cores this process may use "
                             "(its CPU affinity, capped by OMP_NUM_THREADS)");
  visit("--log", log, "Write the run directory <log_root>/<run_name or timestamp>/");
  visit("--log_root", log_root, "Root of run directories");
  visit("--run_name", run_name, "Name of the run directory under --log_root (default: the start time); an existing "
                                "one is refused (continue it with --resume)");
  visit("--seed", seed, "Seed of every random choice");
  visit("--eval_metric", eval_metric, "Final evaluation: rouge|loss");
  visit("--save", save, "Save the run state at the best and final rounds (weights: --save_weights)");
  visit("--save_weights", save_weights, "With --save, also write the model weights (safetensors)");
  visit("--sync", sync, "Global model after each round: from_init (replay all seeds from theta0) | incremental");
  visit("--init_on", init_on, "Where theta0 is kept for from_init replay on a GPU run: gpu | cpu (pinned host memory) | "
        "auto (gpu); a CPU run keeps it in host memory (cpu)");
  visit("--seeds_file", seeds_file, "Load candidate seeds and client schedule from this JSON file");
  visit("--eval_every", eval_every, "Evaluate the test loss every N rounds (and after the last)");
  visit("--eval_max_samples", eval_max_samples, "Cap the final (and per-round) evaluation set; 0 = all");
  visit("--resume", resume, "Continue the run in this run directory from its last finished round");
  visit("--stop_after", stop_after, "End cleanly after this round (resumable with --resume); 0 = off");
  visit("--dp_clip", dp_clip, "Clip each client's K-vector of per-seed sums to this L2 norm (absent: no clipping)");
  visit("--dp_noise", dp_noise, "Gaussian noise multiplier: N(0, (sigma*C)^2) on each of the K entries of the cohort's sum of "
        "clipped vectors every round (needs --dp_clip; the mean then weighs clients equally)");
  visit("--dp_epsilon", dp_epsilon, "Target epsilon: --dp_noise is solved from it, --dp_delta, --rounds and the cohort fraction");
  visit("--dp_delta", dp_delta, "delta of the reported (epsilon, delta), in (0, 1)");
  visit("--dp_noise_at", dp_noise_at, "Where the noise is drawn: server | clients (each adds N(0, (sigma*C)^2/n) to all K "
        "entries of its uplink, as a secure aggregation would need); the same distribution");
  visit("--aggregator", aggregator, "Per seed over the clients that drew it: mean (data-size weights) | median | "
        "trimmed_mean | norm_bound (each client's K-vector clipped to the cohort's median norm)");
  visit("--trim", trim, "trimmed_mean: fraction cut from each end of a seed's values, in [0, 0.5)");
  visit("--byzantine_fraction", byzantine_fraction, "Fraction of clients (a fixed subset from --seed) sending --attack "
        "uplinks, in [0, 1)");
  visit("--attack", attack, "What Byzantine clients send: sign_flip | gaussian (random values of their honest RMS) | "
        "scale:S (S times their values)");
  visit("--backend", backend, "Process group between ranks under torchrun: auto (nccl on CUDA, gloo on CPU) | nccl | gloo");
  visit("--dist_timeout", dist_timeout, "Seconds a rank waits for the others (the rendezvous, each exchange between "
        "rounds, rank 0's evaluations included) before it stops with an error; c10d's process-group and store timeout");
}

}  // namespace fedkseed
