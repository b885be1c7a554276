// The fedkseed executable: runs the CLI and turns every failure into one line on
// stderr with an exit code (2: bad input or usage, 1: internal failure, 128 + signal: stopped
// by SIGINT or SIGTERM at a round boundary).
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <new>
#include <string>

#include "fedkseed/common/error.h"
#include "fedkseed/common/interrupt.h"
#include "fedkseed/common/threads.h"
#include "commands.h"

namespace {

// An allocation LibTorch could not make: the CPU allocator reports it as a plain c10::Error
// (CAFFE_ENFORCE), the CUDA one as c10::OutOfMemoryError.
bool is_out_of_memory(const c10::Error& error) {
  const std::string message = error.what_without_backtrace();
  return dynamic_cast<const c10::OutOfMemoryError*>(&error) != nullptr ||
         message.find("can't allocate memory") != std::string::npos ||
         message.find("not enough memory") != std::string::npos;
}

// The first line of a c10 message without CAFFE_ENFORCE's "[enforce fail at file:line] cond. ".
std::string allocator_message(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.rfind("[enforce fail at ", 0) == 0) {
    const size_t condition_end = line.find(". ", line.find("] "));
    if (condition_end != std::string::npos) line.erase(0, condition_end + 2);
  }
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fedkseed: federated full-parameter tuning of LLaMA with K random seeds (FedKSeed)"};
  fedkseed::cli::build_app(app);
  try {
    fedkseed::use_threads(0);  // the cores this process may use, not LibTorch's every core of the machine
    app.parse(argc, argv);
  } catch (const CLI::Success& done) {
    return app.exit(done);  // --help, --version
  } catch (const CLI::ParseError& error) {
    std::cerr << "fedkseed: error: " << error.what() << "\n"
              << "hint: run with --help for the accepted flags\n";
    return 2;
  } catch (const fedkseed::Error& error) {
    std::cerr << "fedkseed: error: " << error.what() << "\n";
    return 2;
  } catch (const fedkseed::Interrupted& stop) {
    std::cerr << "fedkseed: " << stop.what() << "\n";
    return 128 + stop.signal();
  } catch (const c10::Error& error) {
    if (is_out_of_memory(error)) {
      std::cerr << "fedkseed: error: out of memory: " << allocator_message(error.what_without_backtrace()) << "\n";
      return 2;
    }
    std::cerr << "fedkseed: internal error: " << error.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::bad_alloc& error) {
    std::cerr << "fedkseed: error: out of memory (" << error.what() << ")\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "fedkseed: internal error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
