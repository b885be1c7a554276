// Registration of the CLI subcommands; each lives in its own src/cli/*_command(s).cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace fedkseed::cli {

// Adds every subcommand and the global options (--log_level, --quiet) to `app`.
void build_app(CLI::App& app);

// Sets the console level from the top-level --quiet / --log_level (also after a config file set them).
void apply_log_options(const CLI::App& app);

void add_train_command(CLI::App& app);    // train_command.cpp: train, export
void add_model_commands(CLI::App& app);   // model_commands.cpp: init-model, score, generate
void add_pretrain_command(CLI::App& app); // pretrain_command.cpp: pretrain
void add_data_commands(CLI::App& app);    // data_commands.cpp: data-stats
void add_eval_commands(CLI::App& app);    // eval_commands.cpp: rouge
void add_report_command(CLI::App& app);   // report_command.cpp: report
void add_bench_command(CLI::App& app);    // bench_command.cpp: bench

// The model presets for --preset's help (init-model, bench): "tiny | tiny-qwen2 | ...".
std::string preset_choices();

}  // namespace fedkseed::cli
