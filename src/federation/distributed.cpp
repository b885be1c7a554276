// Ranks of one run through c10d (see distributed.h). The TCPStore (rank 0's, or torchrun's
// agent's) serves the rendezvous alone; the process group (Gloo or NCCL) carries everything
// after it, and its own errors and timeouts (--dist_timeout) find the faults:
//   - a rank that crashes or is killed closes its connections: the others' next all-gather
//     fails at once (Gloo: "Connection closed by peer" or "reset by peer");
//   - a rank that hangs or is stopped, the store's host too: the others' all-gather times out;
//   - a rank that never joins: the process group's rendezvous times out.
// The main thread turns each into one fedkseed::Error (one line, exit code 2).
// One thing is kept on top of c10d: a rank that stops with its own error (bad input on that
// rank alone) hands its message to the others in place of its next all-gather, its size sent
// as -1 - length. c10d would only tell them that a connection closed, and not which rank's
// (DistributedE2E.FailingRankStopsTheOthersWithItsError shows the message arriving).
// Not covered: a rank whose own main thread blocks outside a collective (a read from a stuck
// file system) is not ended here; the others stop after --dist_timeout and the launcher ends
// it (torchrun stops every rank once one fails). Nothing calls the store after the
// rendezvous: a TCPStore call to a hung store host never returns.
//
// Gloo needs gloo's headers (Debian libgloo-dev; the symbols are in libtorch_cpu), NCCL needs
// nccl.h: a build without them lacks that backend, nothing more.
#if __has_include(<gloo/rendezvous/store.h>)
#define USE_C10D_GLOO 1
#define FEDKSEED_WITH_GLOO 1
#else
#define FEDKSEED_WITH_GLOO 0
#endif
#if FEDKSEED_WITH_CUDA && __has_include(<nccl.h>)
#define USE_C10D_NCCL 1
#define FEDKSEED_WITH_NCCL 1
#else
#define FEDKSEED_WITH_NCCL 0
#endif

#include "fedkseed/federation/distributed.h"

#include <ATen/ATen.h>
#include <c10/util/Logging.h>
#include <c10/util/StringUtil.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#if FEDKSEED_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if FEDKSEED_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstring>

#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "rank_launch.h"

namespace fedkseed {
namespace {

using Clock = std::chrono::steady_clock;

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

c10::intrusive_ptr<c10d::Backend> make_backend(const std::string& backend, const c10::intrusive_ptr<c10d::Store>& store,
                                               const Launch& launch, c10::Device device,
                                               std::chrono::milliseconds timeout) {
  const int rank = static_cast<int>(launch.rank), size = static_cast<int>(launch.world_size);
#if FEDKSEED_WITH_GLOO
  if (backend == "gloo") {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // Like torch.distributed: GLOO_SOCKET_IFNAME picks the interface; a loopback master
    // means every rank is on this host.
    if (auto interface = environment("GLOO_SOCKET_IFNAME")) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface->substr(0, interface->find(','))));
    } else if (is_loopback(launch.master_addr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    return c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", store), rank,
                                                       size, options);
  }
#endif
#if FEDKSEED_WITH_NCCL
  if (backend == "nccl") {
    c10::cuda::set_device(device.index());
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", store), rank,
                                                       size, options);
  }
#endif
  throw Error("--backend " + backend + ": not available in this build");
}

// Gloo's messages begin with the source location, "[.../pair.cc:547] ": not for users.
std::string without_source_location(const std::string& message) {
  const auto end = message.find("] ");
  if (message.rfind('[', 0) != 0 || end == std::string::npos || message.find('/') > end) return message;
  return message.substr(end + 2);
}

std::string c10d_message(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  return without_source_location(c10_error ? c10_error->what_without_backtrace() : error.what());
}

}  // namespace

std::string resolve_backend(const std::string& flag, c10::Device device) {
  const std::string backend = flag != "auto" ? flag : device.is_cuda() && FEDKSEED_WITH_NCCL ? "nccl" : "gloo";
  if (backend == "nccl" && !device.is_cuda()) {
    throw Error("--backend nccl: NCCL connects GPUs, --device is " + device.str() + "; use --backend gloo");
  }
  if ((backend == "nccl" && !FEDKSEED_WITH_NCCL) || (backend == "gloo" && !FEDKSEED_WITH_GLOO)) {
    throw Error("--backend " + backend + ": this build has no " + backend + " (its headers were missing at build "
                "time: " + (backend == "nccl" ? "nccl.h" : "gloo/, Debian's libgloo-dev") + ")");
  }
  return backend;
}

struct RankGroup::Impl {
  Impl(const Launch& launch, std::string backend, c10::Device device, std::chrono::milliseconds timeout)
      : launch(launch), backend(std::move(backend)), device(device), timeout(timeout) {}

  Launch launch;
  std::string backend;
  c10::Device device;
  std::chrono::milliseconds timeout;
  c10::intrusive_ptr<c10d::Store> store;  // rank 0's store server lives as long as the group
  c10::intrusive_ptr<c10d::Backend> group;
  int64_t bytes_sent = 0;
  bool peer_failed = false;  // this rank's error is about the others: nothing to report
  bool left = false;         // after leave(): nobody is left to report to

  std::vector<at::Tensor> gather(const at::Tensor& input);
  [[noreturn]] void collective_failed(const std::exception& error, Clock::duration waited);
  std::vector<std::string> exchange(const std::string& bytes, bool failure);
};

// c10d's error, said for the user: a wait as long as the timeout means a silent rank, a quicker
// error a rank that left (its connections closed) or a broken network.
void RankGroup::Impl::collective_failed(const std::exception& error, Clock::duration waited) {
  peer_failed = true;
  if (waited >= timeout) {
    throw Error(c10::str("rank ", launch.rank, ": no answer from the other ranks for ", timeout.count() / 1000,
                         " s in a ", backend, " all-gather (--dist_timeout): a rank hangs or was stopped, or works ",
                         "alone longer than that (rank 0's evaluation); c10d: ", c10d_message(error)));
  }
  throw Error(c10::str("rank ", launch.rank, ": a ", backend, " all-gather failed: another rank left the run (it ",
                       "crashed, was killed, or stopped on an error of its own) or the network failed; c10d: ",
                       c10d_message(error)));
}

std::vector<at::Tensor> RankGroup::Impl::gather(const at::Tensor& input) {
  const at::Tensor sent = backend == "nccl" ? input.to(device) : input;
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int64_t r = 0; r < launch.world_size; ++r) outputs[0].push_back(at::empty_like(sent));
  std::vector<at::Tensor> inputs{sent}, gathered;
  const auto start = Clock::now();
  try {
    group->allgather(outputs, inputs)->wait(timeout);
    for (const auto& output : outputs[0]) gathered.push_back(output.to(at::kCPU));  // NCCL: waits for it
  } catch (const std::exception& error) {
    collective_failed(error, Clock::now() - start);
  }
  bytes_sent += static_cast<int64_t>(sent.nbytes()) * (launch.world_size - 1);
  return gathered;
}

// Every rank's `bytes`: an all-gather of the sizes, then one of the payloads padded to the
// longest. With `failure`, `bytes` is this rank's error message, its size sent as -1 - length;
// a rank that receives one stops with it.
std::vector<std::string> RankGroup::Impl::exchange(const std::string& bytes, bool failure) {
  const int64_t length = static_cast<int64_t>(bytes.size());
  const auto sizes = gather(at::tensor({failure ? -1 - length : length}, at::kLong));
  std::vector<int64_t> lengths;
  int64_t longest = 1;  // never an empty tensor
  int64_t failed = -1;   // the first rank that reports an error
  for (int64_t r = 0; r < launch.world_size; ++r) {
    const int64_t size = sizes[r].item<int64_t>();
    if (size < 0 && failed < 0) failed = r;
    lengths.push_back(size < 0 ? -1 - size : size);
    longest = std::max(longest, lengths.back());
  }
  at::Tensor payload = at::zeros({longest}, at::kByte);
  std::memcpy(payload.data_ptr(), bytes.data(), bytes.size());
  const auto stops_too = [&] {
    return c10::str("rank ", failed, " stopped with an error, so rank ", launch.rank, " stops too");
  };
  std::vector<at::Tensor> payloads;
  try {
    payloads = gather(payload);
  } catch (const Error& error) {
    if (failed < 0 || failure) throw;
    throw Error(c10::str(stops_too(), " (its message was lost: ", error.what(), ")"));
  }
  std::vector<std::string> gathered;
  for (int64_t r = 0; r < launch.world_size; ++r) {
    gathered.emplace_back(reinterpret_cast<const char*>(payloads[r].data_ptr()), lengths[r]);
  }
  if (failed >= 0 && !failure) {
    peer_failed = true;
    throw Error(c10::str(stops_too(), ": ", gathered[failed]));
  }
  return gathered;
}

RankGroup::RankGroup(const Launch& launch, const std::string& backend, c10::Device device,
                     std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>(launch, backend, device, timeout)) {
  Impl& g = *impl_;
  // c10d's own warnings repeat what the errors here say, with C++ stack traces: keep them
  // for TORCH_CPP_LOG_LEVEL=WARNING or INFO.
  if (!environment("TORCH_CPP_LOG_LEVEL")) FLAGS_caffe2_log_level = std::max(FLAGS_caffe2_log_level, 2);
  const std::string store_name =
      c10::str(launch.master_addr, ":", launch.master_port, " (hosted by ",
               launch.agent_store ? std::string("torchrun's agent") : std::string("rank 0"), ")");
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(launch.master_port);
  options.isServer = !launch.agent_store && launch.rank == 0;
  options.waitWorkers = false;
  options.timeout = g.timeout;
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const std::exception& error) {
    throw Error(c10::str("rank ", launch.rank, ": rendezvous store at ", store_name, ": ", c10d_message(error)));
  }
  g.store = c10::make_intrusive<c10d::PrefixStore>(c10::str("fedkseed/", launch.restart_count), tcp);
  try {
    g.group = make_backend(backend, g.store, launch, device, g.timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    throw Error(c10::str("rank ", launch.rank, ": no ", backend, " process group within ", timeout.count(),
                         " s (--dist_timeout; rendezvous at ", store_name, "): ", c10d_message(error),
                         "; every rank must start, with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE"));
  }
  log::info(c10::str("rank ", launch.rank, " of ", launch.world_size, ": ", backend, " process group on ",
                     device.str(), ", store ", store_name, ", timeout ", timeout.count(), " s"));
}

RankGroup::~RankGroup() {
  try {
    if (impl_->group) impl_->group->shutdown();
  } catch (const std::exception&) {
    // Leaving anyway; the others find the connections closed.
  }
}

int64_t RankGroup::rank() const { return impl_->launch.rank; }
int64_t RankGroup::size() const { return impl_->launch.world_size; }
int64_t RankGroup::bytes_sent() const { return impl_->bytes_sent; }

std::vector<std::string> RankGroup::all_gather(const std::string& bytes) { return impl_->exchange(bytes, false); }

void RankGroup::expect_same(const std::string& what, const std::string& value) {
  const auto values = all_gather(value);
  for (int64_t r = 1; r < size(); ++r) {
    if (values[r] != values[0]) {
      impl_->peer_failed = true;  // every rank sees the same values and stops by itself
      throw Error(c10::str(what, " differs between ranks: rank 0 has ", values[0], ", rank ", r, " has ", values[r]));
    }
  }
}

void RankGroup::report_failure(const std::string& message) noexcept {
  if (impl_->peer_failed || impl_->left) return;
  try {
    impl_->exchange(message, true);
  } catch (const std::exception&) {
    // The others find this rank's connections closed once it exits.
  }
}

void RankGroup::leave() {
  impl_->exchange("", false);
  impl_->left = true;
}

}  // namespace fedkseed
