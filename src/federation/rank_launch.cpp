// The launch of a rank from torchrun's environment variables and its device.
#include "rank_launch.h"

#include <c10/util/StringUtil.h>
#include <torch/cuda.h>

#include <cstdlib>

#include "fedkseed/common/device.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/federation/distributed.h"

namespace fedkseed {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

namespace {

int64_t environment_integer(const char* name, const std::string& text, int64_t low, int64_t high) {
  int64_t value = 0;
  std::size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < low || value > high) {
    throw Error(c10::str("environment variable ", name, ": '", text, "' is not an integer in [", low, ", ", high, "]"));
  }
  return value;
}

std::string required(const char* name) {
  auto value = environment(name);
  if (!value) {
    throw Error(std::string("environment variable ") + name + ": not set (RANK or WORLD_SIZE is, so this is a "
                "launch of several processes: it needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; torchrun "
                "sets them all)");
  }
  return *value;
}

}  // namespace

std::optional<Launch> launch_from_environment() {
  const auto rank = environment("RANK"), world = environment("WORLD_SIZE");
  if (!rank && !world) return std::nullopt;
  Launch launch;
  launch.world_size = environment_integer("WORLD_SIZE", required("WORLD_SIZE"), 1, 1 << 20);
  launch.rank = environment_integer("RANK", required("RANK"), 0, launch.world_size - 1);
  const auto local = environment("LOCAL_RANK");
  launch.local_rank = local ? environment_integer("LOCAL_RANK", *local, 0, launch.world_size - 1) : launch.rank;
  launch.master_addr = required("MASTER_ADDR");
  launch.master_port = environment_integer("MASTER_PORT", required("MASTER_PORT"), 1, 65535);
  launch.agent_store = environment("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  const auto restart = environment("TORCHELASTIC_RESTART_COUNT");
  launch.restart_count = restart ? environment_integer("TORCHELASTIC_RESTART_COUNT", *restart, 0, 1 << 30) : 0;
  return launch;
}

c10::Device rank_device(const std::string& flag, const Launch& launch) {
  const c10::Device device = parse_device(flag);
  if (!device.is_cuda()) return device;
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  const int64_t index = launch.local_rank % count;
  if (launch.local_rank >= count) {
    log::warn(c10::str("rank ", launch.rank, ": LOCAL_RANK ", launch.local_rank, " but ", count,
                       " visible GPU(s): sharing cuda:", index, " with another rank (use --backend gloo: NCCL needs "
                       "one GPU per rank)"));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace fedkseed
