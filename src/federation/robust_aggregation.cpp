// The aggregation rules (see robust_aggregation.h).
#include "fedkseed/federation/robust_aggregation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

std::vector<double> weighted_mean(const std::vector<ClientUpdate>& cohort, int64_t pool_size, bool equal_weight) {
  const double total_size = std::accumulate(
      cohort.begin(), cohort.end(), 0.0, [](double sum, const ClientUpdate& c) { return sum + c.data_size; });
  std::vector<double> increment(pool_size, 0.0);
  for (const auto& client : cohort) {
    const double weight = equal_weight || total_size <= 0 ? 1.0 / cohort.size() : client.data_size / total_size;
    for (std::size_t step = 0; step < client.seeds.size(); ++step) {
      increment[client.seeds[step]] += weight * client.values[step];
    }
  }
  return increment;
}

double median_of_sorted(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

// Mean after cutting floor(trim * n) values from each end.
double trimmed_mean_of_sorted(const std::vector<double>& sorted, double trim) {
  const auto cut = static_cast<std::size_t>(std::floor(trim * static_cast<double>(sorted.size())));
  const double sum = std::accumulate(sorted.begin() + cut, sorted.end() - cut, 0.0);
  return sum / static_cast<double>(sorted.size() - 2 * cut);
}

// Per seed, a statistic of the sorted sums of the clients that drew it, times voters / cohort.
template <class Statistic>
std::vector<double> per_seed_vote(const std::vector<ClientUpdate>& cohort, int64_t pool_size, Statistic statistic) {
  std::vector<std::vector<double>> votes(pool_size);
  for (const auto& client : cohort) {
    for (const auto& [seed, sum] : per_seed_sums(client.seeds, client.values)) votes[seed].push_back(sum);
  }
  std::vector<double> increment(pool_size, 0.0);
  for (int64_t j = 0; j < pool_size; ++j) {
    if (votes[j].empty()) continue;
    std::sort(votes[j].begin(), votes[j].end());
    increment[j] = statistic(votes[j]) * static_cast<double>(votes[j].size()) / static_cast<double>(cohort.size());
  }
  return increment;
}

std::vector<double> norm_bounded_mean(const std::vector<ClientUpdate>& cohort, int64_t pool_size) {
  std::vector<double> norms;
  for (const auto& client : cohort) norms.push_back(l2_norm(per_seed_sums(client.seeds, client.values)));
  std::vector<double> sorted = norms;
  std::sort(sorted.begin(), sorted.end());
  const double bound = median_of_sorted(sorted);
  std::vector<ClientUpdate> clipped = cohort;
  for (std::size_t i = 0; i < clipped.size(); ++i) {
    if (norms[i] <= bound) continue;
    for (double& value : clipped[i].values) value *= bound / norms[i];
  }
  return weighted_mean(clipped, pool_size, true);
}

}  // namespace

Aggregator parse_aggregator(const std::string& name) {
  if (name == "mean") return Aggregator::mean;
  if (name == "median") return Aggregator::median;
  if (name == "trimmed_mean") return Aggregator::trimmed_mean;
  if (name == "norm_bound") return Aggregator::norm_bound;
  throw Error("--aggregator: '" + name + "' is invalid; accepted: mean|median|trimmed_mean|norm_bound");
}

std::vector<double> aggregate_updates(const std::vector<ClientUpdate>& cohort, int64_t pool_size,
                                      const AggregationOptions& options) {
  if (cohort.empty()) return std::vector<double>(pool_size, 0.0);
  switch (options.rule) {
    case Aggregator::median:
      return per_seed_vote(cohort, pool_size, median_of_sorted);
    case Aggregator::trimmed_mean:
      return per_seed_vote(cohort, pool_size,
                           [&](const std::vector<double>& sorted) { return trimmed_mean_of_sorted(sorted, options.trim); });
    case Aggregator::norm_bound:
      return norm_bounded_mean(cohort, pool_size);
    case Aggregator::mean:
      break;
  }
  return weighted_mean(cohort, pool_size, options.equal_weight);
}

}  // namespace fedkseed
