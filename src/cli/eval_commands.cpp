// `fedkseed rouge`: Rouge-L F of two files, line by line.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "fedkseed/common/error.h"
#include "fedkseed/evaluation/rouge.h"
#include "commands.h"

namespace fedkseed::cli {
namespace {

std::vector<std::string> read_lines(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(flag + " " + path + ": cannot open");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

struct RougeArgs {
  std::string hyp, ref;
};

void run_rouge(const RougeArgs& args) {
  const auto hyps = read_lines(args.hyp, "--hyp");
  const auto refs = read_lines(args.ref, "--ref");
  if (hyps.size() != refs.size()) {
    throw Error("--hyp " + args.hyp + " has " + std::to_string(hyps.size()) + " lines but --ref " +
                args.ref + " has " + std::to_string(refs.size()));
  }
  double total = 0.0;
  for (std::size_t i = 0; i < hyps.size(); ++i) total += rouge_l_f(hyps[i], refs[i]).value_or(0.0);
  // ordered_json: the line reads {"rouge_l_f": ..., "n": ...} in that order.
  nlohmann::ordered_json result = {{"rouge_l_f", hyps.empty() ? 0.0 : total / hyps.size()}, {"n", hyps.size()}};
  std::cout << result.dump() << std::endl;
}

}  // namespace

void add_eval_commands(CLI::App& app) {
  auto args = std::make_shared<RougeArgs>();
  auto* rouge = app.add_subcommand(
      "rouge", "Mean Rouge-L F (as pltrdy rouge 1.0.1; a pair it cannot score counts 0) of two files, "
               "line by line; prints {\"rouge_l_f\": mean, \"n\": count}");
  rouge->add_option("--hyp", args->hyp, "Hypotheses, one per line")->required();
  rouge->add_option("--ref", args->ref, "References, one per line")->required();
  rouge->callback([args] { run_rouge(*args); });
}

}  // namespace fedkseed::cli
