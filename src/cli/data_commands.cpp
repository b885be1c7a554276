// The data tool subcommands: `data-stats` (client sizes, label skew, test size, mean
// tokens; optional partition dump and heat map) and `make-tiny-data` (synthetic Dolly).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <unistd.h>

#include "fedkseed/common/error.h"
#include "fedkseed/common/options.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/data/partition.h"
#include "fedkseed/data/synthetic.h"
#include "fedkseed/model/tokenizer.h"
#include "commands.h"

namespace fedkseed::cli {
namespace {

struct DataStatsOptions {
  TrainOptions train;  // the data flags of `train`, same names and defaults
  bool json = false;
  std::string dump_partition;
  std::string plot;
};

// Rows = categories, columns = clients: readable with 200 clients.
constexpr const char* kPlotScript = R"(import json, sys
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(3)
data = json.load(open(sys.argv[1]))
hist, names = data["hist"], data["categories"]
grid = [[row[c] for row in hist] for c in range(len(names))]
fig, ax = plt.subplots(figsize=(min(24, 4 + 0.06 * len(hist)), 1.5 + 0.45 * len(names)))
image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
ax.set_yticks(range(len(names)))
ax.set_yticklabels([f"{i} {n}" for i, n in enumerate(names)])
ax.set_xlabel("client")
ax.set_title(data["title"])
fig.colorbar(image, ax=ax, label="training records")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=120)
)";

nlohmann::ordered_json stats_json(const TrainOptions& options, const FederatedData& data) {
  nlohmann::ordered_json json;
  json["num_clients"] = data.clients.size();
  auto sizes = nlohmann::ordered_json::array();
  for (const auto& client : data.clients) sizes.push_back(client.size());
  json["train_sizes"] = sizes;
  json["test_size"] = data.test.size();
  if (options.dataset == "dolly") {
    json["train_label_hist"] = data.train_label_hist;
    json["categories"] = data.categories;
  } else {
    json["skipped_tasks"] = data.skipped_tasks;
    json["small_tasks"] = data.small_tasks;
  }
  json["mean_tokens"] = mean_train_tokens(data);
  return json;
}

void print_table(const TrainOptions& options, const FederatedData& data) {
  std::cout << "dataset " << options.dataset << ": " << data.clients.size() << " clients, " << data.test.size()
            << " test records, " << std::fixed << std::setprecision(1) << mean_train_tokens(data)
            << " tokens per training example on average\n";
  if (options.dataset == "instruct") {
    std::cout << data.skipped_tasks << " split tasks without a file, " << data.small_tasks
              << " train tasks too small for a client\n";
  } else {
    for (size_t code = 0; code < data.categories.size(); ++code) {
      std::cout << "  category " << code << " = " << data.categories[code] << "\n";
    }
  }
  std::cout << std::left << std::setw(8) << "client" << std::right << std::setw(8) << "records";
  if (options.dataset == "dolly") {
    for (size_t code = 0; code < data.categories.size(); ++code) std::cout << std::setw(7) << ("c" + std::to_string(code));
  } else {
    std::cout << "  task";
  }
  std::cout << "\n";
  for (size_t c = 0; c < data.clients.size(); ++c) {
    std::cout << std::left << std::setw(8) << c << std::right << std::setw(8) << data.clients[c].size();
    if (options.dataset == "dolly") {
      for (const int64_t count : data.train_label_hist[c]) std::cout << std::setw(7) << count;
    } else {
      std::cout << "  " << data.client_names[c];
    }
    std::cout << "\n";
  }
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Draws the heat map with the Python named by $FEDKSEED_PYTHON (else python3) and matplotlib.
void plot_heat_map(const TrainOptions& options, const FederatedData& data, const std::string& png) {
  if (options.dataset != "dolly") throw Error("--plot: the client x category heat map exists for dolly only");
  std::string folder = (std::filesystem::temp_directory_path() / "fedkseed-plot-XXXXXX").string();
  if (mkdtemp(folder.data()) == nullptr) throw Error("--plot: cannot create a temporary folder");
  const std::string script = folder + "/plot.py";
  const std::string input = folder + "/hist.json";
  std::ofstream(script) << kPlotScript;
  std::ofstream(input) << nlohmann::json{{"hist", data.train_label_hist},
                                         {"categories", data.categories},
                                         {"title", "Dolly training records per client and category (--iid " +
                                                       options.iid + ", seed " + std::to_string(options.seed) + ")"}}
                              .dump();
  const char* env = std::getenv("FEDKSEED_PYTHON");
  const std::string python = env != nullptr && *env != '\0' ? env : "python3";
  const int status = std::system((shell_quote(python) + " " + shell_quote(script) + " " + shell_quote(input) + " " +
                                  shell_quote(png))
                                     .c_str());
  std::filesystem::remove_all(folder);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    throw Error("--plot: matplotlib is missing in " + python +
                " (pip install matplotlib, or point FEDKSEED_PYTHON at a Python that has it)");
  }
  if (status != 0) throw Error("--plot " + png + ": " + python + " failed to draw the heat map");
}

void run_data_stats(const DataStatsOptions& options) {
  const TrainOptions& train = options.train;
  train.validate();  // the same ranges and messages as train
  const Tokenizer tokenizer = Tokenizer::load(train.model);
  const FederatedData data = load_federated_data(train, tokenizer);
  if (!options.dump_partition.empty()) write_partition_file(options.dump_partition, data.partition);
  if (!options.plot.empty()) plot_heat_map(train, data, options.plot);
  if (options.json) {
    std::cout << stats_json(train, data).dump() << std::endl;
  } else {
    print_table(train, data);
  }
}

void add_data_stats(CLI::App& app) {
  auto options = std::make_shared<DataStatsOptions>();
  TrainOptions& train = options->train;
  train.device = "cpu";  // data-stats runs no model; validate() checks the device too
  auto* command = app.add_subcommand("data-stats", "Client sizes, label skew and test size of a federated split");
  command->add_option("--dataset", train.dataset, "dolly | instruct")->required()->check(CLI::IsMember({"dolly", "instruct"}));
  command->add_option("--data_dir", train.data_dir, "Root holding databricks-dolly-15k.jsonl and natural-instructions/")
      ->capture_default_str();
  command->add_option("--model", train.model, "Folder holding tokenizer.model (a checkpoint folder)")->required();
  command->add_option("--num_clients", train.num_clients, "Number of Dolly clients")->capture_default_str();
  command->add_option("--iid", train.iid, "dir<alpha> (Dirichlet label skew) or 0 (equal split)")->capture_default_str();
  command->add_option("--seed", train.seed, "Seed of every random choice")->capture_default_str();
  command->add_option("--max_length", train.max_length, "Truncation length in tokens (NI: input char limit)")
      ->capture_default_str();
  command->add_option("--zerotask", train.zerotask, "Dolly category code held out as the test set")
      ->capture_default_str();
  command->add_option("--dataset_subsample", train.dataset_subsample, "Dolly: fraction of records kept")
      ->capture_default_str();
  command->add_option("--partition_file", train.partition_file, "Use this client -> record assignment (JSON)");
  command->add_flag("--json", options->json, "Print one JSON object instead of a table");
  command->add_option("--dump_partition", options->dump_partition, "Write the client -> record assignment (JSON)");
  command->add_option("--plot", options->plot, "Draw the client x category heat map (Dolly) to this PNG");
  command->callback([options] { run_data_stats(*options); });
}

void add_make_tiny_data(CLI::App& app) {
  auto out = std::make_shared<std::string>();
  auto records = std::make_shared<int64_t>(2000);
  auto seed = std::make_shared<int64_t>(42);
  auto* command = app.add_subcommand("make-tiny-data", "Write a synthetic, learnable Dolly-format dataset");
  command->add_option("--out", *out, "Folder to write databricks-dolly-15k.jsonl into")->required();
  command->add_option("--records", *records, "Number of records")->capture_default_str()->check(CLI::PositiveNumber);
  command->add_option("--seed", *seed, "Seed")->capture_default_str();
  command->callback([out, records, seed] {
    const std::string path = *out + "/databricks-dolly-15k.jsonl";
    write_synthetic_dolly(path, *records, static_cast<uint64_t>(*seed));
    std::cout << path << "\n";
  });
}

}  // namespace

void add_data_commands(CLI::App& app) {
  add_data_stats(app);
  add_make_tiny_data(app);
}

}  // namespace fedkseed::cli
