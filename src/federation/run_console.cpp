// The console of a training run (see run_console.h).
#include "run_console.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <utility>

#include "fedkseed/common/logging.h"

namespace fedkseed {
namespace {

// Why a step is skipped (zo_step.h) and what usually makes every step skip.
constexpr const char* kSkippedBecause =
    ": each had a NaN loss or |L+ - L-| above --grad_clip. Usual causes: --lr too large (the model diverged), "
    "--max_length too small to keep any answer token, or NaN in the base model";

// 42s, 3m05s, 2h07m.
std::string duration_text(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(seconds, 0.0)));
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(total));
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>(total % 3600 / 60));
  }
  return text;
}

// 512 B, 3.4 kB, 1.2 GB (powers of 1000).
std::string bytes_text(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int unit = 0;
  while (std::fabs(bytes) >= 1000 && unit < 5) {
    bytes /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return text;
}

std::string number_text(double value, const char* format = "%.4f") {
  if (std::isnan(value)) return "nan";
  char text[32];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// The lowest eval loss so far and its round, round 0 (the base model) included: the run's best
// round counts trained rounds only. Round -1 when every loss is NaN.
std::pair<double, int64_t> best_so_far(const RunState& progress) {
  const double base = progress.eval_losses.empty() ? NAN : progress.eval_losses.front();
  if (!std::isnan(base) && (progress.best_round < 0 || base <= progress.best_eval_loss)) return {base, 0};
  return {progress.best_eval_loss, progress.best_round};
}

// "  eval loss       round 0 X, best Y (round r), <last_label> Z\n", or "" before any evaluation.
std::string eval_line(const RunState& progress, const char* last_label) {
  const auto& losses = progress.eval_losses;
  if (losses.empty()) return "";
  if (losses.size() == 1) return "  eval loss       " + number_text(losses.front()) + " (no rounds trained)\n";
  const auto [best, best_round] = best_so_far(progress);
  return "  eval loss       round 0 " + number_text(losses.front()) + ", best " +
         (best_round < 0 ? std::string("none (every loss NaN)")
                         : number_text(best) + " (round " + std::to_string(best_round) + ")") +
         ", " + last_label + " " + number_text(losses.back()) + "\n";
}

}  // namespace

RunConsole::RunConsole(const TrainOptions& options, int ranks) : options_(options), ranks_(ranks) {}

void RunConsole::start(int64_t num_clients, const SeedsAndSchedule& seeds, const SeedPool& pool, int64_t parameters,
                       const std::string& device, double dp_noise,
                       const std::optional<DpAccountant>& accountant) const {
  log::info(c10::str(options_.bias_sampling ? "FedKSeed-Pro" : "FedKSeed", ": ", num_clients, " clients, ",
                     seeds.schedule.empty() ? 0 : seeds.schedule[0].size(), " per round, K = ",
                     pool.unbounded() ? std::string("unbounded") : std::to_string(pool.size()), ", ", parameters,
                     " parameters on ", device,
                     ranks_ > 0 ? c10::str(", cohort split over ", ranks_, " ranks") : std::string()));
  if (accountant) {
    log::info(c10::str("client-level DP: clip ", options_.dp_clip, ", noise multiplier ", dp_noise, " drawn by the ",
                       options_.dp_noise_at, "; (epsilon, delta) after ", options_.rounds, " rounds: (",
                       accountant->epsilon(options_.rounds, options_.dp_delta), ", ", options_.dp_delta, ")"));
  }
  if (!seeds.byzantine_clients.empty()) {
    log::info(c10::str(seeds.byzantine_clients.size(), " Byzantine clients (", options_.attack, "), aggregator ",
                       options_.aggregator));
  }
}

void RunConsole::round(const RoundMetrics& metrics, const RunState& progress, double seconds) {
  if (rounds_run_ == 0) first_round_ = metrics.round;
  ++rounds_run_;
  const int64_t steps = metrics.steps_applied + metrics.steps_skipped;
  steps_ += steps;
  skipped_ += metrics.steps_skipped;
  round_seconds_ += seconds;
  const double left = round_seconds_ / static_cast<double>(rounds_run_) * static_cast<double>(options_.rounds - metrics.round);
  std::ostringstream line;
  line << "round " << metrics.round << "/" << options_.rounds << " ("
       << 100 * metrics.round / std::max<int64_t>(options_.rounds, 1) << "%): train L+ "
       << number_text(metrics.train_loss) << ", eval loss "
       << (metrics.evaluated ? number_text(metrics.eval_loss) : std::string("-")) << " (best "
       << number_text(best_so_far(progress).first) << "), " << steps << " steps at "
       << number_text(metrics.seconds_train > 0 ? steps / metrics.seconds_train : NAN, "%.1f") << "/s, "
       << metrics.steps_skipped << " skipped, bytes up " << bytes_text(metrics.bytes_up) << " down "
       << bytes_text(metrics.bytes_down) << " (FedAvg: " << bytes_text(metrics.bytes_fedavg) << ")";
  if (ranks_ > 1) line << ", between " << ranks_ << " ranks " << bytes_text(metrics.bytes_between_ranks);
  line << ", " << number_text(seconds, "%.1f") << " s, ETA " << duration_text(left);
  log::info(line.str());
  if (metrics.steps_applied == 0 && metrics.steps_skipped > 0) {
    log::warn(c10::str("round ", metrics.round, ": all ", metrics.steps_skipped, " steps were skipped", kSkippedBecause));
  }
}

void RunConsole::rounds_done() const {
  if (skipped_ == 0 || skipped_ < steps_) return;
  log::warn(c10::str("no step of rounds ", first_round_, "..", options_.rounds, " was applied (all ", skipped_,
                     " skipped), so they left the model unchanged", kSkippedBecause));
}

std::string RunConsole::totals(const RunState& progress, int64_t rounds, const std::string& run_folder,
                               const std::string& resume_command) const {
  std::ostringstream out;
  out << "  communication   up " << bytes_text(static_cast<double>(progress.bytes_up)) << ", down "
      << bytes_text(static_cast<double>(progress.bytes_down)) << " in " << rounds << " rounds\n";
  out << "  skipped steps   " << skipped_ << " of " << steps_;
  if (first_round_ > 1) out << " (rounds " << first_round_ << "-" << rounds << ", since the resume)";
  out << "\n  wall time       "
      << duration_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()) << "\n";
  if (run_folder.empty()) {
    out << "  run folder      none (add --log to keep one)\n";
    return out.str();
  }
  const std::string name = std::filesystem::path(run_folder).filename().string();
  out << "  run folder      " << run_folder << "\n"
      << "next\n";
  if (!resume_command.empty()) out << "  " << resume_command << "\n";
  out << "  fedkseed report " << run_folder << "\n"
      << "  fedkseed export --run " << run_folder << " --out exported/" << name << "\n"
      << "  .venv/bin/python scripts/plot_runs.py " << run_folder << " --out figures\n";
  return out.str();
}

void RunConsole::summary(const RunState& progress, double final_value, const std::string& run_folder) const {
  const std::string& metric = options_.eval_metric;
  std::cout << "final round " << metric << ": " << final_value
            << (metric == "rouge" ? c10::str(" (Rouge-L ", final_value * 100, ")") : std::string()) << std::endl;
  if (!log::enabled(log::Level::info)) return;
  std::ostringstream out;
  out << "\nsummary\n" << eval_line(progress, "final");
  if (options_.eval_metric == "rouge") {
    out << "  final Rouge-L   " << number_text(100 * final_value, "%.2f") << "\n";
  } else {
    out << "  final eval loss " << number_text(final_value) << " (--eval_metric loss)\n";
  }
  out << totals(progress, options_.rounds, run_folder, "");
  std::cout << out.str() << std::flush;
}

void RunConsole::stopped(const RunState& progress, int64_t round, const std::string& run_folder,
                         const std::string& resume_command) const {
  std::ostringstream out;
  out << "stopped after round " << round << " of " << options_.rounds << "; continue with: " << resume_command
      << "\n";
  if (log::enabled(log::Level::info)) {
    out << "\nsummary\n" << eval_line(progress, "latest") << totals(progress, round, run_folder, resume_command);
  }
  std::cout << out.str() << std::flush;
}

}  // namespace fedkseed
