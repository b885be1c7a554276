// The server and the clients talk only through encoded messages: clients that rebuild the
// global model from their decoded downlinks alone — each its own view here, also after
// sitting out several rounds — hold the server's weights bit for bit on the CPU, for both
// --sync modes, FedKSeed, FedKSeed-Pro and K = 0. The uplinks are made up (no training): the
// protocol, not the optimiser, is under test.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <memory>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/server.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/llama_config.h"

namespace fedkseed {
namespace {

constexpr int64_t kClients = 6;
constexpr int64_t kRounds = 7;
// Client 5 sits out rounds 2-6; client 4 joins only in round 6; client 3 trains every round.
const std::vector<std::vector<int64_t>> kSchedule = {{0, 1, 3, 5}, {1, 2, 3}, {0, 3}, {2, 3},
                                                     {0, 1, 3}, {4, 3}, {5, 2, 3}};

struct Case {
  const char* name;
  int64_t K;
  bool pro;
  bool incremental;
};

class ClientServer : public ::testing::TestWithParam<Case> {};

// A model small enough that seven rounds of replays take milliseconds: the protocol does not
// care how many weights there are, only that every one matches.
LlamaModel small_model() {
  LlamaConfig config = llama_preset("tiny");
  config.vocab_size = 64;
  config.hidden_size = 32;
  config.intermediate_size = 64;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.head_dim = 16;
  return LlamaModel::random_init(config, 3, at::kFloat, at::kCPU);
}

// A client's made-up reply: a few (seed, g) pairs, as the candidates' indices or fresh seeds.
Uplink made_up_uplink(Rng& rng, int64_t K) {
  Uplink up;
  up.data_size = static_cast<uint32_t>(rng.uniform_int(1, 9));
  up.unbounded_seeds = K == 0;
  const int64_t steps = rng.uniform_int(0, 6);
  for (int64_t step = 0; step < steps; ++step) {
    up.seeds.push_back(K == 0 ? static_cast<uint64_t>(rng.uniform_int(1, 100000000000LL))
                              : static_cast<uint64_t>(rng.uniform_int(0, K)));
    up.values.push_back(static_cast<float>(rng.uniform() * 4.0 - 2.0));
  }
  return up;
}

TEST_P(ClientServer, ClientsRebuildTheServersWeightsFromDecodedDownlinks) {
  const Case& c = GetParam();
  at::set_num_threads(2);
  const auto model = small_model();
  const at::Tensor init_flat = model.flat_parameters().clone();
  const NamedParams init = views_like(model, init_flat);
  const ReplayOptions replay{0.05, 0.01, RngKind::philox};
  std::vector<uint64_t> candidates;
  Rng seeds(11, "candidates");
  for (int64_t j = 0; j < c.K; ++j) candidates.push_back(static_cast<uint64_t>(seeds.uniform_int(1, 100000000000LL)));
  Server server(model, init, candidates, kClients, {replay, c.incremental, false, c.pro, 10.0, 0.0});
  std::vector<std::unique_ptr<ClientView>> views;
  for (int64_t client = 0; client < kClients; ++client) {
    views.push_back(std::make_unique<ClientView>(model, init, candidates, replay, c.incremental));
  }

  Rng rng(5, c.name);
  int64_t whole_pools = 0, increments = 0;
  for (int64_t round = 1; round <= kRounds; ++round) {
    std::vector<Uplink> uplinks;
    for (int64_t client : kSchedule[round - 1]) {
      const Downlink message = decode_downlink(server.downlink(client, round));
      (message.whole_pool ? whole_pools : increments) += 1;
      EXPECT_EQ(message.probabilities.size(), c.pro ? static_cast<std::size_t>(c.K) : 0u);
      views[client]->apply(message);
      EXPECT_EQ(views[client]->round(), round - 1);
      EXPECT_TRUE(views[client]->flat().equal(server.global()))
          << "client " << client << " in round " << round << ": max difference "
          << (views[client]->flat() - server.global()).abs().max().item<double>();
      uplinks.push_back(made_up_uplink(rng, c.K));
    }
    server.aggregate(uplinks);
  }
  EXPECT_FALSE(server.global().equal(init_flat)) << "nothing was aggregated: the test proves nothing";
  EXPECT_GT(increments, 0);
  // An incremental client needs every round's increment; from_init takes the smaller form,
  // which for a client back after 5 rounds is the whole pool.
  if (c.incremental) {
    EXPECT_EQ(whole_pools, 0);
  } else {
    EXPECT_GT(whole_pools, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ClientServer,
                         ::testing::Values(Case{"uniform_from_init", 24, false, false},
                                           Case{"uniform_incremental", 24, false, true},
                                           Case{"pro_from_init", 24, true, false},
                                           Case{"pro_incremental", 24, true, true},
                                           Case{"unbounded_from_init", 0, false, false},
                                           Case{"unbounded_incremental", 0, false, true}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(ClientViewUnit, RefusesADownlinkThatSkipsARound) {
  const auto model = small_model();
  const at::Tensor init_flat = model.flat_parameters().clone();
  ClientView view(model, views_like(model, init_flat), {5, 6, 7}, {0.05, 0.0, RngKind::philox}, false);
  Downlink message;
  message.round = 4;
  message.increments.push_back({3, {1}, {0.5}});  // rounds 1 and 2 missing
  EXPECT_THROW(view.apply(message), Error);
  message.increments = {{1, {0}, {0.5}}, {2, {}, {}}, {3, {7}, {0.5}}};  // index 7 outside the pool of 3
  EXPECT_THROW(view.apply(message), Error);
}

}  // namespace
}  // namespace fedkseed
