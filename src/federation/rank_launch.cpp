// The launch of a rank from torchrun's environment variables, the balanced assignment of a
// round's clients to ranks, and the wire format of the client records the ranks exchange.
#include "src/federation/rank_launch.h"

#include <c10/util/StringUtil.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

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

template <class T>
void append_raw(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));  // x86-64 and aarch64 are little-endian
}

template <class T>
T take_raw(const std::string& in, std::size_t& offset) {
  if (offset + sizeof(T) > in.size()) throw Error("rank exchange: truncated client record");
  T value;
  std::memcpy(&value, in.data() + offset, sizeof(T));
  offset += sizeof(T);
  return value;
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

std::vector<int64_t> assign_balanced(const std::vector<int64_t>& costs, int64_t ranks) {
  std::vector<int64_t> order(costs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return costs[a] > costs[b]; });
  std::vector<int64_t> load(ranks, 0), owner(costs.size(), 0);
  for (int64_t item : order) {
    const int64_t least = std::min_element(load.begin(), load.end()) - load.begin();  // first minimum
    owner[item] = least;
    load[least] += costs[item];
  }
  return owner;
}

std::string encode_records(const std::vector<ClientRecord>& records) {
  std::string out;
  for (const auto& record : records) {
    append_raw(out, record.slot);
    append_raw(out, static_cast<uint32_t>(record.uplink.size()));
    out += record.uplink;
    append_raw(out, record.loss_sum);
    append_raw(out, record.pass);
    append_raw(out, record.offset);
  }
  return out;
}

std::vector<ClientRecord> decode_records(const std::string& bytes) {
  std::vector<ClientRecord> records;
  for (std::size_t offset = 0; offset < bytes.size();) {
    ClientRecord& record = records.emplace_back();
    record.slot = take_raw<uint32_t>(bytes, offset);
    const auto size = take_raw<uint32_t>(bytes, offset);
    if (offset + size > bytes.size()) throw Error("rank exchange: truncated client record");
    record.uplink = bytes.substr(offset, size);
    offset += size;
    record.loss_sum = take_raw<double>(bytes, offset);
    record.pass = take_raw<int64_t>(bytes, offset);
    record.offset = take_raw<int64_t>(bytes, offset);
  }
  return records;
}

}  // namespace fedkseed
