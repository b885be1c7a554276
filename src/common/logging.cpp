// spdlog behind the torch-free logging API (see include/fedkseed/common/logging.h).
#include "fedkseed/common/logging.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "fedkseed/common/error.h"

namespace fedkseed::log {
namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto created = std::make_shared<spdlog::logger>("fedkseed", sink);
    created->set_pattern("[%H:%M:%S] %^%l%$ %v");
    created->flush_on(spdlog::level::info);
    return created;
  }();
  return instance;
}

constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info, spdlog::level::warn,
                                                 spdlog::level::err, spdlog::level::off};

bool stdout_is_terminal() { return isatty(fileno(stdout)) == 1; }

}  // namespace

Level parse_level(const std::string& name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  throw Error("--log_level: '" + name + "' is not one of debug, info, warn, error, off");
}

void set_level(Level level) { logger()->set_level(kLevels[static_cast<int>(level)]); }

bool enabled(Level level) { return logger()->should_log(kLevels[static_cast<int>(level)]); }

void add_file_sink(const std::string& path) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] %l %v");
  logger()->sinks().push_back(sink);
}

void debug(const std::string& message) { logger()->debug(message); }
void info(const std::string& message) { logger()->info(message); }
void warn(const std::string& message) { logger()->warn(message); }
void error(const std::string& message) { logger()->error(message); }

struct Progress::State {
  std::string label;
  int64_t total = 0;
  int64_t plain_every = 1;
  int64_t last_plain = 0;
  bool terminal = false;
  bool finished = false;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw{};

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::string line(int64_t done, const std::string& status) const {
    const double rate = done / std::max(seconds(), 1e-9);
    char counter[128];
    std::snprintf(counter, sizeof counter, "%lld/%lld  %.2f/s  %.1fs", static_cast<long long>(done),
                  static_cast<long long>(total), rate, seconds());
    return label + "  " + counter + (status.empty() ? "" : "  " + status);
  }
};

Progress::Progress(std::string label, int64_t total, int64_t plain_every)
    : state_(std::make_unique<State>()) {
  state_->label = std::move(label);
  state_->total = total;
  state_->plain_every = plain_every;
  state_->terminal = stdout_is_terminal() && logger()->should_log(spdlog::level::info);
}

Progress::~Progress() {
  if (!state_->finished && state_->terminal) std::fputs("\n", stdout);
}

void Progress::update(int64_t done, const std::string& status) {
  if (!logger()->should_log(spdlog::level::info)) return;
  if (state_->terminal) {
    const auto now = std::chrono::steady_clock::now();
    if (now - state_->last_draw < std::chrono::milliseconds(100) && done < state_->total) return;
    state_->last_draw = now;
    std::fprintf(stdout, "\r\033[K%s", state_->line(done, status).c_str());
    std::fflush(stdout);
  } else if (state_->plain_every > 0 && done - state_->last_plain >= state_->plain_every) {
    state_->last_plain = done;
    info(state_->line(done, status));
  }
}

void Progress::finish(const std::string& status) {
  if (state_->finished) return;
  state_->finished = true;
  if (!logger()->should_log(spdlog::level::info)) return;
  if (state_->terminal) {
    std::fprintf(stdout, "\r\033[K%s\n", state_->line(state_->total, status).c_str());
    std::fflush(stdout);
  } else {
    info(state_->line(state_->total, status));
  }
}

}  // namespace fedkseed::log
