// Several processes ("ranks") of one run through LibTorch's c10d: the launch environment
// (torchrun, or RANK/WORLD_SIZE/... set by hand), a TCPStore rendezvous, a Gloo or NCCL
// process group for the round's all-gather of a few kilobytes, and per-rank heartbeats and
// main-thread progress so a rank that crashes, is killed or hangs stops the others with an
// error naming it. What the ranks exchange, and when, is the trainer's business (cohort.h
// holds the record of a client's round they exchange). The c10d headers stay in the .cpp.
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
  // `device`. Throws fedkseed::Error naming the ranks that did not join within `timeout`.
  // Must be made on the thread that then runs the training: that thread's progress is watched.
  RankGroup(const Launch& launch, const std::string& backend, c10::Device device, std::chrono::seconds timeout);
  ~RankGroup();
  RankGroup(const RankGroup&) = delete;
  RankGroup& operator=(const RankGroup&) = delete;

  int64_t rank() const;
  int64_t size() const;

  // Every rank's `bytes`, in rank order, through the process group's all-gather (sizes first,
  // then the payload padded to the longest). Waits as long as the other ranks' heartbeats and
  // progress go on; throws fedkseed::Error naming a rank that reported an error (a hung rank
  // reports itself); a rank silent for the timeout ends this process (crashed, killed, hung).
  std::vector<std::string> all_gather(const std::string& bytes);
  // Throws fedkseed::Error "<what> differs between ranks: ..." unless every rank passes the
  // same `value` (all_gather underneath).
  void expect_same(const std::string& what, const std::string& value);
  // Payload bytes this rank has handed to process-group calls for the other ranks so far:
  // each call's input bytes times (size - 1).
  int64_t bytes_sent() const;

  // Tells the other ranks that this rank stops with `message` (unless its error is another
  // rank's failure), so they stop at once instead of waiting for the timeout; the store's
  // host then waits a few seconds for them to read it. Never throws.
  void report_failure(const std::string& message) noexcept;
  // The normal end: waits for every rank to get here; rank 0 (the usual store host) then
  // waits until the others have left the store.
  void leave();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedkseed
