// `fedkseed bench`: the performance figures of a random model of a preset's shape (bench.h),
// printed as a table and optionally written as JSON.
#include <fstream>
#include <iostream>
#include <memory>

#include "fedkseed/bench/bench.h"
#include "fedkseed/common/device.h"
#include "fedkseed/common/error.h"
#include "commands.h"

namespace fedkseed::cli {

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto json_path = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand("bench", "Time a ZO step, forward, passes, replay, decoding and a round");
  command->add_option("--preset", options->preset, preset_choices())->required();
  command->add_option("--seq", options->seq, "tokens per training example")->capture_default_str();
  command->add_option("--dtype", options->dtype, "fp16|bf16|fp32, or auto: fp32 on the CPU, fp16 on a GPU")
      ->capture_default_str();
  command->add_option("--device", options->device, kDeviceHelp)->capture_default_str();
  command->add_option("--rng", options->rng, "direction generator: philox-icdf|philox")->capture_default_str();
  command->add_option("--json", *json_path, "also write the figures as JSON to this file");
  command->add_option("--warmup", options->warmup, "untimed calls before each figure")->capture_default_str();
  command->add_option("--repetitions", options->repetitions, "timed calls per figure (median)")->capture_default_str();
  command->add_option("--replay_k", options->replay_k, "replay sizes K")->delimiter(',')->capture_default_str();
  command->add_option("--replay_cap_s", options->replay_cap_s, "extrapolate replays estimated above this")
      ->capture_default_str();
  command->add_option("--decode_batch", options->decode_batch, "prompts decoded together (0: skip)")
      ->capture_default_str();
  command->add_option("--decode_prompt", options->decode_prompt, "prompt tokens")->capture_default_str();
  command->add_option("--decode_tokens", options->decode_tokens, "new tokens per prompt")->capture_default_str();
  command->add_option("--round_clients", options->round_clients, "clients in the Dolly-shaped round (0: skip)")
      ->capture_default_str();
  command->add_option("--round_steps", options->round_steps, "local steps per client")->capture_default_str();
  command->add_option("--round_k", options->round_k, "candidate seeds K")->capture_default_str();
  command->add_option("--round_eval", options->round_eval, "eval examples per round")->capture_default_str();
  command->add_option("--seed", options->seed, "weights and data seed")->capture_default_str();
  command->add_option("--trace", options->trace_dir,
                      "write a Chrome trace (every kernel, graph replays included) of each figure's work done once "
                      "more to DIR/<figure>.json")
      ->option_text("DIR");
  command->callback([options, json_path] {
    if (options->warmup < 0 || options->repetitions < 1) {
      throw Error("--repetitions must be >= 1 and --warmup >= 0");
    }
    const BenchReport report = run_bench(*options);
    std::cout << bench_table(report) << std::flush;
    if (!json_path->empty()) {
      std::ofstream out(*json_path, std::ios::trunc);
      out << bench_json(report) << "\n";
      if (!out) throw Error("--json " + *json_path + ": cannot be written");
    }
  });
}

}  // namespace fedkseed::cli
