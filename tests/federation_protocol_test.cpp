// Seed pool aggregation, client schedule and the wire messages.
#include <gtest/gtest.h>

#include <set>

#include "fedkseed/common/error.h"
#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/robust_aggregation.h"
#include "fedkseed/federation/seed_pairs.h"
#include "fedkseed/federation/seed_pool.h"

namespace fedkseed {
namespace {

TEST(SeedPool, CandidatesAreDeterministicAndInRange) {
  const auto pool = SeedPool::draw(4096, 42);
  EXPECT_EQ(pool.seeds(), SeedPool::draw(4096, 42).seeds());
  EXPECT_NE(pool.seeds(), SeedPool::draw(4096, 43).seeds());
  for (uint64_t seed : pool.seeds()) {
    EXPECT_GE(seed, 1u);
    EXPECT_LT(seed, 100000000000ULL);
  }
  EXPECT_GT(*std::max_element(pool.seeds().begin(), pool.seeds().end()), 1ULL << 32);
}

// The round's increment as the server makes it with the reference's mean.
std::vector<double> aggregate_into(SeedPool& pool, const std::vector<ClientUpdate>& cohort, bool equal_weight) {
  const auto admitted = pool.admit(cohort);
  auto increment = aggregate_updates(admitted, pool.size(), {Aggregator::mean, equal_weight, 0.0});
  pool.add(increment);
  return increment;
}

TEST(SeedPool, AggregatesSizeWeightedMeansOfPerClientSums) {
  auto pool = SeedPool::from_candidates({11, 22, 33});
  // Client A (30 samples) drew seed 0 twice and seed 2; client B (10 samples) drew seed 0.
  const std::vector<ClientUpdate> cohort = {{30, {0, 0, 2}, {1.0, 2.0, -4.0}}, {10, {0}, {8.0}}};
  const auto increment = aggregate_into(pool, cohort, false);
  EXPECT_DOUBLE_EQ(increment[0], 0.75 * 3.0 + 0.25 * 8.0);
  EXPECT_DOUBLE_EQ(increment[1], 0.0);
  EXPECT_DOUBLE_EQ(increment[2], 0.75 * -4.0);
  aggregate_into(pool, cohort, true);
  EXPECT_DOUBLE_EQ(pool.cumulative()[0], 4.25 + 0.5 * 3.0 + 0.5 * 8.0);
  const auto pairs = nonzero_pairs(pool.seeds(), pool.cumulative());
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].seed, 11u);
  EXPECT_EQ(pairs[1].seed, 33u);
  EXPECT_THROW(pool.admit({{1, {3}, {1.0}}}), Error);
}

TEST(SeedPool, UnboundedPoolGrowsByOneEntryPerStep) {
  auto pool = SeedPool::draw(0, 1);
  EXPECT_TRUE(pool.unbounded());
  aggregate_into(pool, {{5, {1234567890123ULL, 99}, {2.0, 3.0}}, {5, {7}, {4.0}}}, false);
  EXPECT_EQ(pool.size(), 3);
  EXPECT_EQ(pool.seeds()[0], 1234567890123ULL);
  EXPECT_DOUBLE_EQ(pool.cumulative()[2], 2.0);
}

TEST(Schedule, DistinctClientsPerRoundAndDeterministic) {
  const auto schedule = draw_client_schedule(200, 0.05, 40, 42);
  ASSERT_EQ(schedule.size(), 40u);
  for (const auto& cohort : schedule) {
    EXPECT_EQ(cohort.size(), 10u);
    EXPECT_EQ(std::set<int64_t>(cohort.begin(), cohort.end()).size(), 10u);
  }
  EXPECT_EQ(schedule, draw_client_schedule(200, 0.05, 40, 42));
  EXPECT_THROW(draw_client_schedule(10, 0.05, 1, 42), Error);
}

TEST(Messages, RoundTripAndSizesMatchTheEncoding) {
  // Header: layout, round, first fresh index, fresh seed count.
  constexpr std::size_t kHeader = 1 + 4 + 4 + 4;
  Downlink down;
  down.round = 7;
  down.increments = {{5, {3, 4095}, {0.5, -1e-300}}, {6, {}, {}}};
  const std::string down_bytes = encode(down);
  EXPECT_EQ(down_bytes.size(), kHeader + 4 + (8 + 2 * 12) + 8);
  EXPECT_EQ(static_cast<int64_t>(down_bytes.size()), static_cast<int64_t>(kHeader) + encoded_size(down.increments));
  const Downlink decoded_down = decode_downlink(down_bytes);
  ASSERT_EQ(decoded_down.increments.size(), 2u);
  EXPECT_EQ(decoded_down.increments[0].round, 5u);
  EXPECT_EQ(decoded_down.increments[0].indices, down.increments[0].indices);
  EXPECT_EQ(decoded_down.increments[0].values, down.increments[0].values);
  EXPECT_TRUE(decoded_down.increments[1].indices.empty());
  EXPECT_THROW(decode_downlink(down_bytes.substr(0, down_bytes.size() - 1)), Error);
  EXPECT_THROW(decode_downlink(down_bytes + "x"), Error);

  down.whole_pool = true;
  down.pool.assign(4096, 0.25);
  down.probabilities.assign(4096, 1.0 / 4096);
  down.first_fresh = 9;
  down.fresh_seeds = {99999999999ULL};
  const std::string pool_bytes = encode(down);
  EXPECT_EQ(static_cast<int64_t>(pool_bytes.size()),
            static_cast<int64_t>(kHeader) + 8 + encoded_pool_size(4096) + 4 + 4096 * 8);
  const Downlink decoded_pool = decode_downlink(pool_bytes);
  EXPECT_TRUE(decoded_pool.whole_pool);
  EXPECT_EQ(decoded_pool.pool, down.pool);
  EXPECT_EQ(decoded_pool.probabilities, down.probabilities);
  EXPECT_EQ(decoded_pool.first_fresh, 9u);
  EXPECT_EQ(decoded_pool.fresh_seeds, down.fresh_seeds);

  Uplink up;
  up.data_size = 55;
  for (int step = 0; step < 200; ++step) {
    up.seeds.push_back(step * 13 % 4096);
    up.values.push_back(step * 0.25f);
  }
  const std::string up_bytes = encode(up);
  EXPECT_EQ(up_bytes.size(), 1 + 4 + 200 * 8u);  // the paper's 1,604 B plus a layout byte
  const auto decoded = decode_uplink(up_bytes);
  EXPECT_EQ(decoded.seeds, up.seeds);
  EXPECT_EQ(decoded.values, up.values);
  EXPECT_EQ(decoded.data_size, 55u);

  up.unbounded_seeds = true;
  up.seeds[0] = 99999999999ULL;
  EXPECT_EQ(encode(up).size(), 1 + 4 + 200 * 12u);
  EXPECT_EQ(decode_uplink(encode(up)).seeds[0], 99999999999ULL);
  EXPECT_THROW(decode_uplink(up_bytes.substr(0, up_bytes.size() - 3)), Error);
}

}  // namespace
}  // namespace fedkseed
