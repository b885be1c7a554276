// RDP of the Gaussian mechanism under sampling without replacement (see dp_accountant.h).
// Everything is computed in log space: the binomial terms of the bound reach e^1000 and more.
#include "fedkseed/common/dp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Above this order the bound drops its forward differences (O(order²) to compute) and keeps
// only the cheaper term of each minimum, as dp-accounting does.
constexpr int kMaxExactOrder = 256;

// log(e^a + e^b).
double log_add(double a, double b) {
  const double low = std::min(a, b), high = std::max(a, b);
  if (low == -kInf) return high;
  return std::log1p(std::exp(low - high)) + high;
}

// A real number as (sign, log of its magnitude).
struct SignedLog {
  bool positive = true;
  double log_abs = -kInf;
};

// next - current, both and the result as SignedLog.
SignedLog log_difference(SignedLog next, SignedLog current) {
  if (next.positive != current.positive) return {next.positive, log_add(next.log_abs, current.log_abs)};
  SignedLog out;
  if (next.log_abs > current.log_abs) {
    out = {true, next.log_abs + std::log1p(-std::exp(current.log_abs - next.log_abs))};
  } else if (next.log_abs < current.log_abs) {
    out = {false, current.log_abs + std::log1p(-std::exp(next.log_abs - current.log_abs))};
  } else {
    out = {true, -kInf};
  }
  if (!next.positive) out.positive = !out.positive;
  return out;
}

double log_binomial(double n, double k) { return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1); }

// log|Δ^k h(0)| for k = 1 .. count, h(x) = exp((x - 1) x / (2σ²)) = e^{(x-1) ε(x)} with the
// Gaussian's RDP ε(x) = x / (2σ²): the forward differences of Theorem 27.
std::vector<double> log_forward_differences(double sigma, int count) {
  std::vector<SignedLog> values(count + 2);
  for (int x = 0; x < count + 2; ++x) values[x] = {true, (x - 1.0) * x / (2 * sigma * sigma)};
  std::vector<double> out(count + 1, -kInf);
  for (int k = 1; k <= count; ++k) {
    for (int x = 0; x + k < count + 2; ++x) values[x] = log_difference(values[x + 1], values[x]);
    out[k] = values[0].log_abs;
  }
  return out;
}

// log A_α of Theorem 27 for an integer order α >= 2; RDP(α) = log A_α / (α - 1).
double log_moment(double q, double sigma, int alpha) {
  const auto gaussian_rdp_times = [&](double x) { return x * (x + 1) / (2 * sigma * sigma); };  // (x) ε(x + 1)
  const double eps2 = 2 / (2 * sigma * sigma);
  const double log_q = std::log(q);
  double log_a = 0.0;  // the leading 1
  const double second = 2 * log_q + log_binomial(alpha, 2) +
                        std::min(std::log(4.0) + eps2 + std::log1p(-std::exp(-eps2)), eps2 + std::log(2.0));
  log_a = log_add(log_a, second);
  const std::vector<double> differences =
      alpha <= kMaxExactOrder ? log_forward_differences(sigma, alpha + 1) : std::vector<double>{};
  for (int j = 3; j <= alpha; ++j) {
    double term = std::log(2.0) + gaussian_rdp_times(j - 1);
    if (alpha <= kMaxExactOrder) {
      const double low = differences[2 * (j / 2)], high = differences[2 * ((j + 1) / 2)];
      term = std::min(term, std::log(4.0) + 0.5 * (low + high));
    }
    log_a = log_add(log_a, term + j * log_q + log_binomial(alpha, j));
  }
  return log_a;
}

// One round's RDP at `order`: fractional orders interpolate log A between the neighbouring
// integers (its convexity in the order makes that an upper bound).
double rdp_at(double q, double sigma, double order) {
  if (q == 0) return 0.0;
  if (q == 1) return order / (2 * sigma * sigma);
  const auto log_a = [&](int alpha) { return alpha <= 1 ? 0.0 : log_moment(q, sigma, alpha); };
  const int floor = static_cast<int>(std::floor(order)), ceil = static_cast<int>(std::ceil(order));
  if (floor == ceil) return log_a(floor) / (order - 1);
  const double t = order - floor;
  return ((1 - t) * log_a(floor) + t * log_a(ceil)) / (order - 1);
}

}  // namespace

const std::vector<double>& DpAccountant::orders() {
  static const std::vector<double> kOrders = [] {
    std::vector<double> orders;
    for (int x = 1; x < 100; ++x) orders.push_back(1 + x / 10.0);
    for (int x = 11; x < 64; ++x) orders.push_back(x);
    for (double x : {128.0, 256.0, 512.0, 1024.0}) orders.push_back(x);
    return orders;
  }();
  return kOrders;
}

DpAccountant::DpAccountant(double sampling_fraction, double noise_multiplier) {
  for (double order : orders()) rdp_.push_back(rdp_at(sampling_fraction, noise_multiplier, order));
}

// The RDP -> (ε, δ) conversion of Canonne, Kamath and Steinke 2020 (Proposition 12), the
// one dp-accounting uses: ε = rdp + log(1 - 1/α) - log(δ α) / (α - 1), minimised over α.
double DpAccountant::epsilon(int64_t rounds, double delta) const {
  double best = kInf;
  for (std::size_t i = 0; i < rdp_.size(); ++i) {
    const double order = orders()[i], rdp = static_cast<double>(rounds) * rdp_[i];
    double epsilon = kInf;
    if (delta * delta + std::expm1(-rdp) > 0) {
      epsilon = 0.0;  // bounded through the KL divergence: δ <= sqrt(1 - e^{-rdp})
    } else if (order > 1.01) {
      epsilon = rdp + std::log1p(-1 / order) - std::log(delta * order) / (order - 1);
    }
    best = std::min(best, epsilon);
  }
  return std::max(0.0, best);
}

double noise_multiplier_for(double target_epsilon, double delta, int64_t rounds, double sampling_fraction) {
  const auto spent = [&](double sigma) { return DpAccountant(sampling_fraction, sigma).epsilon(rounds, delta); };
  double low = 1e-3, high = 1e4;
  if (spent(high) > target_epsilon) {
    std::ostringstream message;
    message << "--dp_epsilon " << target_epsilon << " at --dp_delta " << delta << " over " << rounds
            << " rounds with cohort fraction " << sampling_fraction << ": not reachable (even a noise multiplier of "
            << high << " gives epsilon " << spent(high) << "); raise --dp_epsilon or --dp_delta";
    throw Error(message.str());
  }
  if (spent(low) <= target_epsilon) return low;
  while (high - low > 1e-6 * high) {
    const double middle = 0.5 * (low + high);
    (spent(middle) > target_epsilon ? low : high) = middle;
  }
  return high;
}

}  // namespace fedkseed
