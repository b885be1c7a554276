// Portable distributions over std::mt19937_64 (see random.h for why not std's).
#include "fedkseed/common/random.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "fedkseed/common/error.h"
#include "fedkseed/common/hash.h"

namespace fedkseed {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Rng::Rng(uint64_t seed, const std::string& purpose) : engine_(splitmix64(seed ^ fnv1a(purpose))) {}

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

int64_t Rng::uniform_int(int64_t low, int64_t high) {
  if (low >= high) throw Error("Rng::uniform_int: empty range");
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  // Reject the top partial block so every value is equally likely.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t draw = engine_();
  while (draw >= limit) draw = engine_();
  return low + static_cast<int64_t>(draw % range);
}

double Rng::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double u = 0, v = 0, s = 0;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double factor = std::sqrt(-2.0 * std::log(s) / s);
  spare_normal_ = v * factor;
  has_spare_normal_ = true;
  return u * factor;
}

double Rng::gamma(double shape) {
  if (!(shape > 0)) throw Error("Rng::gamma: shape must be > 0");
  if (shape < 1.0) {
    // Boost to shape + 1, then scale by U^(1/shape).
    const double boosted = gamma(shape + 1.0);
    double u = uniform();
    while (u == 0.0) u = uniform();
    return boosted * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0, v = 0;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::vector<double> Rng::dirichlet(double alpha, int64_t count) {
  std::vector<double> draws(count);
  double total = 0.0;
  for (auto& draw : draws) total += (draw = gamma(alpha));
  if (total <= 0.0) {
    // Every gamma underflowed (tiny alpha): put all mass on one uniformly chosen party.
    std::fill(draws.begin(), draws.end(), 0.0);
    draws[uniform_int(0, count)] = 1.0;
    return draws;
  }
  for (auto& draw : draws) draw /= total;
  return draws;
}

int64_t Rng::weighted_index(const std::vector<double>& weights) {
  double total = 0.0;
  for (double w : weights) total += w;
  if (!(total > 0.0)) throw Error("Rng::weighted_index: weights sum to zero");
  const double target = uniform() * total;
  double cumulative = 0.0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    if (target < cumulative) return static_cast<int64_t>(i);
  }
  // Rounding left target at the very top: the last index with positive weight.
  for (std::size_t i = weights.size(); i-- > 0;) {
    if (weights[i] > 0) return static_cast<int64_t>(i);
  }
  return 0;
}

std::vector<int64_t> Rng::choice_without_replacement(int64_t n, int64_t k) {
  if (k < 0 || k > n) throw Error("Rng::choice_without_replacement: k out of range");
  std::vector<int64_t> pool(n);
  for (int64_t i = 0; i < n; ++i) pool[i] = i;
  for (int64_t i = 0; i < k; ++i) std::swap(pool[i], pool[uniform_int(i, n)]);
  pool.resize(k);
  return pool;
}

std::string Rng::state() const {
  std::ostringstream out;
  out << engine_ << ' ' << has_spare_normal_ << ' ';
  out.precision(17);
  out << std::hexfloat << spare_normal_;
  return out.str();
}

void Rng::set_state(const std::string& text) {
  std::istringstream in(text);
  std::mt19937_64 engine;
  bool has_spare = false;
  std::string spare_text;
  in >> engine >> has_spare >> spare_text;
  if (in.fail()) throw Error("random state: malformed text");
  engine_ = engine;
  has_spare_normal_ = has_spare;
  spare_normal_ = std::strtod(spare_text.c_str(), nullptr);
}

}  // namespace fedkseed
