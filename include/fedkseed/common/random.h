// The one generator behind every random choice (seeds, schedules, partitions, data
// order, seed sampling). std::mt19937_64's output sequence is fixed by the C++
// standard; the distributions below are ours (std's are implementation-defined), so
// a given --seed gives the same draws on every compiler and platform.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace fedkseed {

class Rng {
 public:
  // An independent stream per (seed, purpose), e.g. Rng(42, "schedule").
  Rng(uint64_t seed, const std::string& purpose);

  uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Uniform integer in [low, high), unbiased; requires low < high.
  int64_t uniform_int(int64_t low, int64_t high);
  // Standard normal (Marsaglia polar method).
  double normal();
  // Gamma(shape, 1) for shape > 0 (Marsaglia–Tsang).
  double gamma(double shape);
  // One draw of Dirichlet(alpha, ..., alpha) over `count` parties.
  std::vector<double> dirichlet(double alpha, int64_t count);
  // Index drawn with the given (non-negative, not all zero) weights: inverse CDF.
  int64_t weighted_index(const std::vector<double>& weights);
  // k distinct values of [0, n) in random order (a Fisher–Yates prefix); k <= n.
  std::vector<int64_t> choice_without_replacement(int64_t n, int64_t k);

  template <class T>
  void shuffle(std::vector<T>& items) {
    for (int64_t i = static_cast<int64_t>(items.size()) - 1; i > 0; --i) {
      std::swap(items[i], items[uniform_int(0, i + 1)]);
    }
  }

  // The full engine state as text (for resume) and its inverse; set_state throws
  // fedkseed::Error on malformed text.
  std::string state() const;
  void set_state(const std::string& text);

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace fedkseed
