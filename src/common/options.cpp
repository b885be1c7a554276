// Validation and serialisation of TrainOptions.
#include "fedkseed/common/options.h"

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

std::string flag_key(const std::string& flag) { return flag.substr(flag.find_first_not_of('-')); }

}  // namespace

double iid_alpha(const std::string& iid) {
  if (iid == "0") return 0.0;
  const std::string accepted = "dir<alpha> with alpha > 0 (e.g. dir0.5), or 0 for an equal split";
  require(iid.rfind("dir", 0) == 0 && iid.size() > 3, "--iid", "'" + iid + "'", accepted);
  std::size_t used = 0;
  double alpha = 0.0;
  try {
    alpha = std::stod(iid.substr(3), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  require(used == iid.size() - 3 && std::isfinite(alpha) && alpha > 0, "--iid", "'" + iid + "'", accepted);
  return alpha;
}

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
  require_one_of("--init_on", init_on, {"gpu", "cpu"});
  require(eval_every >= 1, "--eval_every", shown(eval_every), ">= 1");
  require(eval_max_samples >= 0, "--eval_max_samples", shown(eval_max_samples), ">= 0 (0 = all)");
  require(stop_after >= 0, "--stop_after", shown(stop_after), ">= 0 (0 = off)");
  require_one_of("--backend", backend, {"auto", "nccl", "gloo"});
  require(backend != "nccl" || device != "cpu", "--backend", "'nccl' with --device cpu", "gloo or auto on the CPU");
  require(dist_timeout >= 1, "--dist_timeout", shown(dist_timeout), ">= 1 (seconds)");
  parse_device(device);
}

std::string options_to_json(const TrainOptions& options) {
  nlohmann::ordered_json json;
  options.visit_fields([&](const std::string& flag, const auto& field, const char*) {
    json[flag_key(flag)] = field;
  });
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
  options.visit_fields([&](const std::string& flag, const auto& field, const char*) {
    // JSON scalars are valid YAML scalars (strings come out double-quoted).
    sorted[flag_key(flag)] = nlohmann::json(field).dump();
  });
  std::string yaml;
  for (const auto& [key, value] : sorted) yaml += key + ": " + value + "\n";
  return yaml;
}

}  // namespace fedkseed
