// Several processes ("ranks") of one run through LibTorch's c10d: the launch environment
// (torchrun, or RANK/WORLD_SIZE/... set by hand), a TCPStore rendezvous, and a Gloo or NCCL
// process group for the round's all-gather of a few kilobytes, whose errors and timeouts stop
// every rank when one crashes, is killed, hangs or fails. What the ranks exchange, and when, is
// the trainer's business (cohort.h holds the record of a client's round they exchange). The
// c10d headers stay in the .cpp.
#pragma once

#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedkseed {

// Where this process stands in a launch of several processes.
struct Launch {
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;      // the TCPStore's host
  int64_t master_port = 0;
  bool agent_store = false;     // torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE)
  int64_t restart_count = 0;    // torchrun's TORCHELASTIC_RESTART_COUNT: keeps restarts' keys apart
};

// The launch described by RANK, WORLD_SIZE, LOCAL_RANK (default: RANK), MASTER_ADDR and
// MASTER_PORT, or nullopt when neither RANK nor WORLD_SIZE is set (a single-process run).
// Throws fedkseed::Error naming the variable that is missing, malformed or out of range.
std::optional<Launch> launch_from_environment();

// This rank's device for --device `flag`: a CUDA device means the rank's local GPU,
// cuda:(LOCAL_RANK mod GPU count), with a warning when ranks share a GPU; cpu stays cpu.
// Throws fedkseed::Error like parse_device.
c10::Device rank_device(const std::string& flag, const Launch& launch);

// --backend resolved for `device`: "auto" is nccl on CUDA and gloo on the CPU. Throws
// fedkseed::Error for nccl on the CPU or in a build without NCCL.
std::string resolve_backend(const std::string& flag, c10::Device device);

class RankGroup {
 public:
  // Rendezvous (TCPStore at MASTER_ADDR:MASTER_PORT, hosted by rank 0 unless torchrun's agent
  // hosts it) and the c10d process group of `backend` ("gloo" | "nccl") whose tensors live on
  // `device`. `timeout` bounds the rendezvous and each wait for the other ranks. Throws
  // fedkseed::Error when the group is not formed within it (a rank missing or misconfigured).
  RankGroup(const Launch& launch, const std::string& backend, c10::Device device, std::chrono::seconds timeout);
  ~RankGroup();
  RankGroup(const RankGroup&) = delete;
  RankGroup& operator=(const RankGroup&) = delete;

  int64_t rank() const;
  int64_t size() const;

  // Every rank's `bytes`, in rank order, through the process group's all-gather (sizes first,
  // then the payload padded to the longest). Throws fedkseed::Error naming a rank that reported
  // an error, or saying that a rank left (crashed, killed) or that none answered within the
  // timeout (a rank hangs or was stopped).
  std::vector<std::string> all_gather(const std::string& bytes);
  // Throws fedkseed::Error "<what> differs between ranks: ..." unless every rank passes the
  // same `value` (all_gather underneath).
  void expect_same(const std::string& what, const std::string& value);
  // Payload bytes this rank has handed to process-group calls for the other ranks so far:
  // each call's input bytes times (size - 1).
  int64_t bytes_sent() const;

  // Tells the other ranks that this rank stops with `message`, in place of its next all-gather,
  // so they stop naming it; waits at most the timeout for them to get there. Does nothing when
  // the error is another rank's failure or after leave(). Never throws.
  void report_failure(const std::string& message) noexcept;
  // The normal end: an all-gather that every rank must reach, where an error that another rank
  // reports on the way arrives.
  void leave();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedkseed
