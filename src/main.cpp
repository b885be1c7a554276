// The fedkseed executable: runs the CLI and turns every failure into one line on
// stderr with an exit code (2: bad input or usage, 1: internal failure).
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "fedkseed/common/error.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"fedkseed: federated full-parameter tuning of LLaMA with K random seeds (FedKSeed)"};
  fedkseed::cli::build_app(app);
  try {
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
  } catch (const c10::Error& error) {
    std::cerr << "fedkseed: internal error: " << error.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "fedkseed: internal error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
