// `fedkseed report RUN_DIR...`: the table of runs (fedkseed/evaluation/report.h) as
// Markdown on stdout, optionally also written as Markdown and CSV files.
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "fedkseed/common/error.h"
#include "fedkseed/evaluation/report.h"
#include "commands.h"

namespace fedkseed::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> run_dirs;
  std::string csv, markdown;
};

void write_output(const std::string& flag, const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) throw Error(flag + " " + path + ": cannot write");
}

void run_report(const ReportArgs& args) {
  std::vector<RunSummary> runs;
  for (const auto& dir : args.run_dirs) runs.push_back(read_run_summary(dir));
  const auto groups = group_by_seed(runs);
  const std::string markdown = report_markdown(groups);
  if (!args.markdown.empty()) write_output("--markdown", args.markdown, markdown);
  if (!args.csv.empty()) write_output("--csv", args.csv, report_csv(groups));
  std::cout << markdown << std::flush;
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* command = app.add_subcommand(
      "report", "Table of runs (method, setting, final Rouge-L and loss, bytes, time, memory) with "
                "mean ± std over runs that differ only in --seed; Markdown on stdout");
  command->add_option("run_dirs", args->run_dirs, "Run directories <log_root>/<timestamp> (e.g. LOG_ROOT/*)")
      ->required();
  command->add_option("--csv", args->csv, "Also write the table as CSV to this file");
  command->add_option("--markdown", args->markdown, "Also write the Markdown table to this file");
  command->callback([args] { run_report(*args); });
}

}  // namespace fedkseed::cli
