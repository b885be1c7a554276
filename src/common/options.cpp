// Validation and serialisation of TrainOptions.
#include "fedkseed/common/options.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>
#include <vector>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

void require(bool ok, const std::string& flag, const std::string& value, const std::string& accepted) {
  if (!ok) throw Error(flag + ": " + value + " is invalid; accepted: " + accepted);
}

template <class T>
std::string shown(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

void require_one_of(const std::string& flag, const std::string& value,
                    const std::vector<std::string>& choices) {
  std::string list;
  bool found = false;
  for (const auto& choice : choices) {
    list += (list.empty() ? "" : "|") + choice;
    found = found || value == choice;
  }
  require(found, flag, "'" + value + "'", list);
}

// The whole of `text` as a finite number, or nothing.
std::optional<double> whole_number(const std::string& text) {
  std::size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string flag_key(const std::string& flag) { return flag.substr(flag.find_first_not_of('-')); }

// The flags options_to_json and options_to_yaml list only when set (options.h).
bool listed_only_when_set(const std::string& flag) {
  static const std::vector<std::string> kFlags = {"--dp_clip",    "--dp_noise", "--dp_epsilon",
                                                  "--dp_delta",   "--dp_noise_at", "--aggregator",
                                                  "--trim",       "--byzantine_fraction", "--attack"};
  return std::find(kFlags.begin(), kFlags.end(), flag) != kFlags.end();
}

// Calls write(key, value) for every flag options_to_json and options_to_yaml list.
template <class Write>
void visit_listed(const TrainOptions& options, Write&& write) {
  std::map<std::string, nlohmann::ordered_json> defaults;
  TrainOptions().visit_fields([&](const std::string& flag, const auto& field, const char*) {
    defaults[flag] = nlohmann::ordered_json(field);
  });
  options.visit_fields([&](const std::string& flag, const auto& field, const char*) {
    const nlohmann::ordered_json value(field);
    if (!listed_only_when_set(flag) || value != defaults.at(flag)) write(flag_key(flag), value);
  });
}

}  // namespace

double iid_alpha(const std::string& iid) {
  if (iid == "0") return 0.0;
  const auto alpha = iid.rfind("dir", 0) == 0 ? whole_number(iid.substr(3)) : std::nullopt;
  require(alpha && *alpha > 0, "--iid", "'" + iid + "'",
          "dir<alpha> with alpha > 0 (e.g. dir0.5), or 0 for an equal split");
  return *alpha;
}

std::optional<double> attack_scale(const std::string& attack) {
  if (attack == "sign_flip" || attack == "gaussian") return std::nullopt;
  const auto scale = attack.rfind("scale:", 0) == 0 ? whole_number(attack.substr(6)) : std::nullopt;
  require(scale.has_value(), "--attack", "'" + attack + "'",
          "sign_flip|gaussian|scale:S with S a finite number (e.g. scale:-10)");
  return scale;
}

namespace {

// The privacy and robustness flags, alone and together.
void validate_privacy_and_robustness(const TrainOptions& o) {
  require(o.dp_clip > 0, "--dp_clip", shown(o.dp_clip), "> 0 (absent: no clipping)");
  require(std::isfinite(o.dp_noise) && o.dp_noise >= 0, "--dp_noise", shown(o.dp_noise), "a finite value >= 0");
  require(o.dp_epsilon > 0, "--dp_epsilon", shown(o.dp_epsilon), "> 0 (absent: --dp_noise as given)");
  require(o.dp_delta > 0 && o.dp_delta < 1, "--dp_delta", shown(o.dp_delta), "(0, 1)");
  require_one_of("--dp_noise_at", o.dp_noise_at, {"server", "clients"});
  require_one_of("--aggregator", o.aggregator, {"mean", "median", "trimmed_mean", "norm_bound"});
  require(o.trim >= 0 && o.trim < 0.5, "--trim", shown(o.trim), "[0, 0.5)");
  require(o.byzantine_fraction >= 0 && o.byzantine_fraction < 1, "--byzantine_fraction", shown(o.byzantine_fraction),
          "[0, 1)");
  attack_scale(o.attack);
  const bool targeted = std::isfinite(o.dp_epsilon);
  require(!(targeted && o.dp_noise > 0), "--dp_epsilon", shown(o.dp_epsilon) + " with --dp_noise " + shown(o.dp_noise),
          "one of them (--dp_epsilon solves for --dp_noise)");
  const std::string noise_flag = targeted ? "--dp_epsilon" : "--dp_noise";
  const std::string noise_value = targeted ? shown(o.dp_epsilon) : shown(o.dp_noise);
  if (targeted || o.dp_noise > 0) {
    require(std::isfinite(o.dp_clip), noise_flag, noise_value + " without --dp_clip",
            "with --dp_clip C (the noise is sigma*C)");
    require(o.aggregator == "mean", noise_flag, noise_value + " with --aggregator " + o.aggregator,
            "with --aggregator mean (the accountant covers the sum of clipped vectors)");
    require(!o.bias_sampling, noise_flag, noise_value + " with --bias_sampling",
            "without it (Pro's probabilities come from un-noised scalars)");
    require(o.K > 0, noise_flag, noise_value + " with -K 0", "-K > 0 (fresh seeds would show which steps a client ran)");
  }
  require(o.aggregator == "mean" || o.K > 0, "--aggregator", "'" + o.aggregator + "' with -K 0",
          "mean with -K 0 (the robust rules need seeds that several clients draw)");
}

}  // namespace

void TrainOptions::validate() const {
  // Upper bounds far beyond any real run (the paper: 200 clients, 40 rounds, 200 steps, K 4096)
  // that keep the per-client, per-round and per-seed tables from exhausting memory.
  require(num_clients >= 1 && num_clients <= 1000000, "--num_clients", shown(num_clients), "1..1000000");
  require(m > 0 && m <= 1, "-m", shown(m), "(0, 1]");
  require(rounds >= 0 && rounds <= 100000, "--rounds", shown(rounds), "0..100000");
  require(local_step >= 0 && local_step <= 1000000, "--local_step", shown(local_step), "0..1000000");
  require_one_of("--batch_or_epoch", batch_or_epoch, {"batch", "epoch"});
  require_one_of("--dataset", dataset, {"instruct", "dolly"});
  require(batch_size >= 1, "--batch_size", shown(batch_size), ">= 1");
  require(max_length >= 2, "--max_length", shown(max_length), ">= 2");
  iid_alpha(iid);
  require(zerotask >= 0 && zerotask <= 7, "--zerotask", shown(zerotask), "0..7 (Dolly category codes)");
  require(dataset_subsample > 0 && dataset_subsample <= 1, "--dataset_subsample",
          shown(dataset_subsample), "(0, 1]");
  check_dtype_or_auto(dtype);
  require(std::isfinite(lr) && lr >= 0, "--lr", shown(lr), "a finite value >= 0");
  require(std::isfinite(weight_decay) && weight_decay >= 0, "--weight_decay", shown(weight_decay),
          "a finite value >= 0");
  require(K >= 0 && K <= (1 << 24), "-K", shown(K), "0..16777216 (0 = a fresh seed every step)");
  require(!std::isnan(grad_clip), "--grad_clip", shown(grad_clip), "a number (<= 0: off)");
  require(std::isfinite(grad_initial), "--grad_initial", shown(grad_initial), "a finite value");
  require(std::isfinite(zo_eps) && zo_eps > 0, "--zo_eps", shown(zo_eps), "a finite value > 0");
  require(bias_loss_clip > 0, "--bias_loss_clip", shown(bias_loss_clip), "> 0");
  require_one_of("--rng", rng, {"philox-icdf", "philox", "torch"});
  require_one_of("--eval_metric", eval_metric, {"rouge", "loss"});
  require_one_of("--sync", sync, {"from_init", "incremental"});
  require_one_of("--init_on", init_on, {"auto", "gpu", "cpu"});
  require(run_name.empty() || (run_name != "." && run_name != ".." && run_name.find('/') == std::string::npos &&
                                run_name.size() <= 255),
          "--run_name", "'" + run_name + "'", "one folder name (no '/', not . or ..)");
  require(eval_every >= 1, "--eval_every", shown(eval_every), ">= 1");
  require(eval_max_samples >= 0, "--eval_max_samples", shown(eval_max_samples), ">= 0 (0 = all)");
  require(stop_after >= 0, "--stop_after", shown(stop_after), ">= 0 (0 = off)");
  require_one_of("--backend", backend, {"auto", "nccl", "gloo"});
  require(backend != "nccl" || device != "cpu", "--backend", "'nccl' with --device cpu", "gloo or auto on the CPU");
  require(threads >= 0 && threads <= 4096, "--threads", shown(threads), "0 (automatic) or 1..4096");
  require(dist_timeout >= 1, "--dist_timeout", shown(dist_timeout), ">= 1 (seconds)");
  parse_device(device);
  validate_privacy_and_robustness(*this);
}

std::string options_to_json(const TrainOptions& options) {
  nlohmann::ordered_json json;
  visit_listed(options, [&](const std::string& key, const nlohmann::ordered_json& value) { json[key] = value; });
  return json.dump();
}

TrainOptions options_from_json(const std::string& text) {
  const auto saved = nlohmann::json::parse(text);
  TrainOptions options;
  options.visit_fields([&](const std::string& flag, auto& field, const char*) {
    const std::string key = flag_key(flag);
    if (saved.contains(key)) field = saved.at(key).get<std::decay_t<decltype(field)>>();
  });
  return options;
}

std::string options_to_yaml(const TrainOptions& options) {
  std::map<std::string, std::string> sorted;
  // JSON scalars are valid YAML scalars (strings come out double-quoted).
  visit_listed(options, [&](const std::string& key, const nlohmann::ordered_json& value) {
    sorted[key] = value.dump();
  });
  std::string yaml;
  for (const auto& [key, value] : sorted) yaml += key + ": " + value + "\n";
  return yaml;
}

}  // namespace fedkseed
