// The handler only stores the signal number and write(2)s a fixed line, both
// async-signal-safe; everything else happens at the run's next round boundary.
#include "fedkseed/common/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace fedkseed {
namespace {

std::atomic<int> received{0};
struct sigaction previous_int, previous_term;

void record(int signal) {
  received.store(signal);
  static const char kLine[] =
      "fedkseed: stopping after the current round (interrupt again to stop at once)\n";
  [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, kLine, sizeof kLine - 1);
}

}  // namespace

InterruptHandlers::InterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = record;
  sigemptyset(&action.sa_mask);
  // SA_RESETHAND: the default action is back for the second signal, so an impatient user
  // can still end the process at once.
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  received.store(0);
  sigaction(SIGINT, &action, &previous_int);
  sigaction(SIGTERM, &action, &previous_term);
}

InterruptHandlers::~InterruptHandlers() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

int interrupt_signal() { return received.load(); }

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace fedkseed
