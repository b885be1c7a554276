// SIGINT (Ctrl-C) and SIGTERM during a run: the first one is only recorded, and the run stops
// at its next safe point (a round boundary, where the run state on disk is complete); a second
// one ends the process at once, which the atomic run files also survive.
#pragma once

#include <exception>
#include <string>

namespace fedkseed {

// While alive, SIGINT and SIGTERM set the flag interrupt_signal() reads (and print one line
// saying so) instead of ending the process; the previous handlers come back on destruction.
class InterruptHandlers {
 public:
  InterruptHandlers();
  ~InterruptHandlers();
  InterruptHandlers(const InterruptHandlers&) = delete;
  InterruptHandlers& operator=(const InterruptHandlers&) = delete;
};

// The signal received since the handlers were installed, or 0.
int interrupt_signal();
// "SIGINT", "SIGTERM", or "signal <n>".
std::string signal_name(int signal);

// Thrown at a safe point after a signal; main() prints what() and exits 128 + signal, the
// shell's code for a process ended by that signal (130 for SIGINT, 143 for SIGTERM).
class Interrupted : public std::exception {
 public:
  Interrupted(int signal, std::string message) : signal_(signal), message_(std::move(message)) {}
  int signal() const { return signal_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  int signal_;
  std::string message_;
};

}  // namespace fedkseed
