// Ranks of one run through c10d (see distributed.h). The store carries the rendezvous, the
// per-round arrival counters, heartbeats (with each main thread's progress) and failure notes;
// the process group (Gloo or NCCL) carries the payload. Gloo needs gloo's headers (Debian
// libgloo-dev; the symbols are in libtorch_cpu), NCCL needs nccl.h: a build without them lacks
// that backend, nothing more.
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
#include <torch/cuda.h>

#if FEDKSEED_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if FEDKSEED_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "fedkseed/common/device.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/progress.h"
#include "rank_launch.h"

namespace fedkseed {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(20);

std::vector<uint8_t> to_bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string to_text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }
std::string key(const char* prefix, int64_t index) { return prefix + std::to_string(index); }

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

// A published heartbeat "<beat> <notes> <cpu ms>[ w]": the main thread's progress ("<notes>
// <cpu ms>"), or "" while it waits in a collective (" w") or has not published yet.
std::string progress_of(const std::vector<uint8_t>& beat) {
  const std::string text = to_text(beat);
  const auto space = text.find(' ');
  if (space == std::string::npos || text.back() == 'w') return "";
  return text.substr(space + 1);
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
  std::chrono::milliseconds beat_interval;
  std::string store_name;  // for messages: where the store is and who hosts it
  c10::intrusive_ptr<c10d::Store> store;  // the main thread's connection
  c10::intrusive_ptr<c10d::Backend> group;
  int64_t sequence = 0, bytes_sent = 0;
  bool peer_failed = false;  // this rank's error is another rank's failure

  // Liveness. The beat thread, with its own store connection, bumps this rank's counter,
  // publishes its main thread's progress (note_progress() calls and CPU time, or "waiting in
  // a collective") and reads everyone's. The watchdog does no I/O, so it cannot block: it ends
  // the process when a rank's counter has not moved for `timeout` (crashed or killed), when a
  // rank's main thread has made no progress outside a collective for that long (hung: this
  // rank posts that as its failure note first), or when the store has not answered for that
  // long (its host hangs; a store call blocked on it cannot be interrupted).
  std::thread beats, watchdog;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop_beating = false, stop_watching = false, watch_peers = true;
  std::vector<std::vector<uint8_t>> last_beat;
  std::vector<std::string> last_progress;
  std::vector<Clock::time_point> last_change, last_advance;
  Clock::time_point last_sample;
  std::string beat_error;
  std::string own_hang;                        // set by the watchdog: the note the beat thread posts
  bool hang_posted = false, notes_read = false;  // ... and whether every rank has read or posted one
  std::atomic<int64_t> store_call_since{0};  // the main thread's store call in flight (Clock ticks), or 0
  std::atomic<int> waiting{0};               // > 0 while the main thread waits for the other ranks
  clockid_t main_clock{};                    // the main thread's CPU-time clock

  // Marks the main thread as waiting for the others for its lifetime.
  struct Waiting {
    explicit Waiting(std::atomic<int>& depth) : depth(depth) {
      ++depth;
      note_progress();
    }
    ~Waiting() {
      note_progress();
      --depth;
    }
    std::atomic<int>& depth;
  };

  bool hosts_store() const { return !launch.agent_store && launch.rank == 0; }

  [[noreturn]] void store_failed(const std::string& what) {
    peer_failed = true;
    throw Error(c10::str("rank ", launch.rank, ": the rendezvous store at ", store_name, " failed (", what,
                         "); its host has stopped or the network is down"));
  }

  template <class F>
  auto on_store(F&& call) {
    struct InFlight {
      std::atomic<int64_t>& since;
      ~InFlight() { since = 0; }
    } in_flight{store_call_since};
    store_call_since = Clock::now().time_since_epoch().count();
    try {
      return call();
    } catch (const c10::Error& error) {
      store_failed(error.what_without_backtrace());
    }
  }

  std::string own_beat(int64_t beat) const;
  void beat_loop(const c10::intrusive_ptr<c10d::Store>& connection);
  void post_own_hang(const c10::intrusive_ptr<c10d::Store>& connection, const std::string& hang);
  std::string hang_message(int64_t r) const;
  void watch();
  [[noreturn]] void stop_hung(std::unique_lock<std::mutex>& lock);
  std::string fatal_problem(Clock::time_point now);
  void join();
  void await_all(const std::string& what);
  void check_failures();
  [[noreturn]] void collective_failed(const std::string& what);
  std::vector<at::Tensor> gather(const at::Tensor& input);
  void stop(bool& flag, std::thread& thread);
};

// "<beat> <notes> <cpu ms>", with " w" while the main thread waits in a collective. CPU time
// covers long phases without notes (loading a checkpoint, tokenising, a replay): a thread
// blocked in a read, on a lock or on a device that waits without spinning uses none.
std::string RankGroup::Impl::own_beat(int64_t beat) const {
  timespec cpu{};
  clock_gettime(main_clock, &cpu);
  return c10::str(beat, " ", progress_notes(), " ",
                  static_cast<int64_t>(cpu.tv_sec) * 1000 + cpu.tv_nsec / 1000000, waiting > 0 ? " w" : "");
}

void RankGroup::Impl::beat_loop(const c10::intrusive_ptr<c10d::Store>& connection) {
  std::vector<std::string> keys;
  for (int64_t r = 0; r < launch.world_size; ++r) keys.push_back(key("beat/", r));
  int64_t beat = 0;
  std::unique_lock<std::mutex> lock(mutex);
  while (!stop_beating) {
    const std::string hang = own_hang;
    lock.unlock();
    std::vector<std::vector<uint8_t>> values;
    std::string error;
    try {
      connection->set(keys[launch.rank], to_bytes(own_beat(++beat)));
      values = connection->multiGet(keys);
    } catch (const std::exception& failure) {
      error = failure.what();
    }
    if (!hang.empty()) post_own_hang(connection, hang);
    lock.lock();
    const auto now = Clock::now();
    beat_error = error;
    if (error.empty()) {
      last_sample = now;
      for (int64_t r = 0; r < launch.world_size; ++r) {
        if (values[r] != last_beat[r]) {
          last_beat[r] = values[r];
          last_change[r] = now;
        }
        const std::string progress = progress_of(values[r]);
        if (progress.empty() || progress != last_progress[r]) last_advance[r] = now;
        last_progress[r] = progress;
      }
    }
    const auto pause = own_hang.empty() ? beat_interval : std::chrono::milliseconds(kPoll);
    wake.wait_for(lock, pause, [&] { return stop_beating || (!own_hang.empty() && !hang_posted); });
  }
}

// After the watchdog found this rank's main thread hung: the note `hang` reaches the others at
// once (they name this rank), then the store's host stays up until every rank has read or
// posted a note. Called without `mutex` (store calls may block).
void RankGroup::Impl::post_own_hang(const c10::intrusive_ptr<c10d::Store>& connection, const std::string& hang) {
  bool read = true;  // if the store is gone, nobody is left to tell
  try {
    if (!hang_posted) {
      connection->set(key("failed/", launch.rank), to_bytes(hang));
      connection->add("failures", 1);
    }
    read = connection->add("failures", 0) + connection->add("failures_seen", 0) >= launch.world_size;
  } catch (const std::exception&) {
    // Posted or not, this rank stops; the others then see its heartbeat stop.
  }
  std::lock_guard<std::mutex> lock(mutex);
  hang_posted = true;
  notes_read = read;
  wake.notify_all();
}

std::string RankGroup::Impl::hang_message(int64_t r) const {
  return c10::str("rank ", r, " hangs: its main thread has made no progress for ", timeout.count() / 1000,
                  " s outside a collective (--dist_timeout; blocked in a read, on a lock or on a stuck GPU)");
}

// Called with `mutex` held; "" when all is well.
std::string RankGroup::Impl::fatal_problem(Clock::time_point now) {
  const int64_t since = store_call_since;
  const bool call_stuck = since != 0 && now - Clock::time_point(Clock::duration(since)) > timeout;
  if (call_stuck || now - last_sample > timeout) {
    return c10::str("the rendezvous store at ", store_name, " has not answered for ", timeout.count() / 1000,
                    " s (--dist_timeout", beat_error.empty() ? "" : "; " + beat_error,
                    "): its host crashed, was killed or hangs, or the network is down; rank ", launch.rank,
                    " stops too");
  }
  if (!watch_peers || now - last_sample > 3 * beat_interval) return "";  // judge others on fresh samples only
  for (int64_t r = 0; r < launch.world_size; ++r) {
    if (r != launch.rank && last_sample - last_change[r] > timeout) {
      return c10::str("rank ", r, " stopped responding: no heartbeat for ", timeout.count() / 1000,
                      " s (--dist_timeout; it crashed, was killed or hangs), so rank ", launch.rank, " stops too");
    }
  }
  // A hung rank normally posts its own note first: the others give it a few heartbeats more.
  for (int64_t r = 0; r < launch.world_size; ++r) {
    if (r != launch.rank && last_sample - last_advance[r] > timeout + 3 * beat_interval) {
      return c10::str(hang_message(r), ", so rank ", launch.rank, " stops too");
    }
  }
  return "";
}

// Called with `mutex` held when this rank's own main thread is hung: no exception can reach it.
void RankGroup::Impl::stop_hung(std::unique_lock<std::mutex>& lock) {
  own_hang = hang_message(launch.rank);
  wake.notify_all();
  const auto deadline = Clock::now() + std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5));
  wake.wait_until(lock, deadline, [&] { return hang_posted && (notes_read || !hosts_store()); });
  std::fprintf(stderr, "fedkseed: error: %s\n", own_hang.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

void RankGroup::Impl::watch() {
  std::unique_lock<std::mutex> lock(mutex);
  auto previous = Clock::now(), grace_until = previous;
  while (!wake.wait_for(lock, beat_interval, [&] { return stop_watching; })) {
    const auto now = Clock::now();
    // A long gap means this process itself was paused: let the beat thread catch up first.
    if (now - previous > 3 * beat_interval) grace_until = now + 2 * beat_interval;
    previous = now;
    if (now < grace_until) continue;
    const bool fresh = watch_peers && now - last_sample <= 3 * beat_interval;
    if (fresh && last_sample - last_advance[launch.rank] > timeout) stop_hung(lock);
    const std::string problem = fatal_problem(now);
    if (problem.empty()) continue;
    // The main thread may be blocked in a store call: no exception can reach it.
    std::fprintf(stderr, "fedkseed: error: %s\n", problem.c_str());
    std::fflush(stderr);
    if (hosts_store()) {
      // The store dies with this process: keep it (and our beats) up while the others' own
      // watchdogs see the same silence, so that they name the silent rank too.
      lock.unlock();
      std::this_thread::sleep_for(4 * beat_interval);
    }
    std::_Exit(2);
  }
}

void RankGroup::Impl::join() {
  on_store([&] {
    store->set(key("beat/", launch.rank), to_bytes("0"));
    return store->add("joined", 1);
  });
  const auto deadline = Clock::now() + timeout;
  while (on_store([&] { return store->add("joined", 0); }) < launch.world_size) {
    if (Clock::now() > deadline) {
      std::string missing;
      for (int64_t r = 0; r < launch.world_size; ++r) {
        if (!on_store([&] { return store->check({key("beat/", r)}); })) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      }
      throw Error(c10::str("rendezvous at ", store_name, ": rank(s) ", missing, " did not join within ",
                           timeout.count() / 1000, " s (not started, crashed, or given another MASTER_ADDR, ",
                           "MASTER_PORT or WORLD_SIZE)"));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

void RankGroup::Impl::check_failures() {
  if (on_store([&] { return store->add("failures", 0); }) == 0) return;
  for (int64_t r = 0; r < launch.world_size; ++r) {
    if (!on_store([&] { return store->check({key("failed/", r)}); })) continue;
    const std::string message = to_text(on_store([&] { return store->get(key("failed/", r)); }));
    on_store([&] { return store->add("failures_seen", 1); });
    peer_failed = true;
    throw Error(c10::str("rank ", r, " stopped with an error, so rank ", launch.rank, " stops too: ", message));
  }
}

void RankGroup::Impl::await_all(const std::string& what) {
  const Waiting waiting_here(waiting);
  const std::string counter = c10::str("arrived/", sequence++, "/", what);
  on_store([&] { return store->add(counter, 1); });
  while (on_store([&] { return store->add(counter, 0); }) < launch.world_size) {
    check_failures();
    std::this_thread::sleep_for(kPoll);
  }
}

// A rank that dies inside a collective shows first as a broken connection or a timeout:
// wait for its error note, or for the watchdog to name it once its heartbeat has stopped.
void RankGroup::Impl::collective_failed(const std::string& what) {
  const Waiting waiting_here(waiting);
  const auto deadline = Clock::now() + timeout + 3 * beat_interval;
  while (Clock::now() < deadline) {
    check_failures();
    std::this_thread::sleep_for(kPoll);
  }
  throw Error(c10::str("rank ", launch.rank, ": ", backend, " all-gather failed: ", what));
}

std::vector<at::Tensor> RankGroup::Impl::gather(const at::Tensor& input) {
  const at::Tensor sent = backend == "nccl" ? input.to(device) : input;
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int64_t r = 0; r < launch.world_size; ++r) outputs[0].push_back(at::empty_like(sent));
  std::vector<at::Tensor> inputs{sent}, gathered;
  try {
    const Waiting waiting_here(waiting);
    group->allgather(outputs, inputs)->wait(timeout);
    for (const auto& output : outputs[0]) gathered.push_back(output.to(at::kCPU));  // NCCL: waits for it
  } catch (const c10::Error& error) {
    collective_failed(error.what_without_backtrace());
  } catch (const std::exception& error) {
    collective_failed(error.what());
  }
  bytes_sent += static_cast<int64_t>(sent.nbytes()) * (launch.world_size - 1);
  return gathered;
}

void RankGroup::Impl::stop(bool& flag, std::thread& thread) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    flag = true;
  }
  wake.notify_all();
  if (thread.joinable()) thread.join();
}

RankGroup::RankGroup(const Launch& launch, const std::string& backend, c10::Device device,
                     std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>(launch, backend, device, timeout)) {
  Impl& g = *impl_;
  g.beat_interval = std::clamp<std::chrono::milliseconds>(g.timeout / 10, std::chrono::milliseconds(100),
                                                          std::chrono::milliseconds(5000));
  // c10d's own warnings repeat what the errors here say, with C++ stack traces: keep them
  // for TORCH_CPP_LOG_LEVEL=WARNING or INFO.
  if (!environment("TORCH_CPP_LOG_LEVEL")) FLAGS_caffe2_log_level = std::max(FLAGS_caffe2_log_level, 2);
  g.store_name = c10::str(launch.master_addr, ":", launch.master_port, " (hosted by ",
                          launch.agent_store ? std::string("torchrun's agent") : std::string("rank 0"), ")");
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(launch.master_port);
  options.isServer = g.hosts_store();
  options.waitWorkers = false;
  options.timeout = g.timeout;
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const c10::Error& error) {
    throw Error(c10::str("rank ", launch.rank, ": rendezvous store at ", g.store_name, ": ",
                         error.what_without_backtrace()));
  }
  const std::string prefix = c10::str("fedkseed/", launch.restart_count);
  g.store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
  g.join();
  const auto now = Clock::now();
  g.last_beat.assign(launch.world_size, {});
  g.last_progress.assign(launch.world_size, "");
  g.last_change.assign(launch.world_size, now);
  g.last_advance.assign(launch.world_size, now);
  g.last_sample = now;
  pthread_getcpuclockid(pthread_self(), &g.main_clock);
  g.beats = std::thread([&g, connection = g.store->clone()] { g.beat_loop(connection); });
  g.watchdog = std::thread([&g] { g.watch(); });
  try {
    const Impl::Waiting waiting_here(g.waiting);  // the backend's own rendezvous
    g.group = make_backend(backend, g.store, launch, device, g.timeout);
  } catch (const std::exception& error) {
    g.stop(g.stop_beating, g.beats);
    g.stop(g.stop_watching, g.watchdog);
    // A peer that failed right after its side of the rendezvous closes its connections while
    // this rank still connects: its error note, posted before it exits, names the real cause.
    const auto deadline = Clock::now() + 3 * g.beat_interval;
    while (Clock::now() < deadline) {
      g.check_failures();
      std::this_thread::sleep_for(kPoll);
    }
    const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
    throw Error(c10::str("rank ", launch.rank, ": ", backend, " process group: ",
                         c10_error ? c10_error->what_without_backtrace() : error.what()));
  }
  log::info(c10::str("rank ", launch.rank, " of ", launch.world_size, ": ", backend, " process group on ",
                     device.str(), ", store ", g.store_name, ", timeout ", timeout.count(), " s"));
}

RankGroup::~RankGroup() {
  Impl& g = *impl_;
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.watch_peers = false;  // leaving: the others' silence no longer matters
  }
  g.stop(g.stop_beating, g.beats);  // the watchdog still ends a beat call blocked on a hung store
  g.stop(g.stop_watching, g.watchdog);
  try {
    if (impl_->group) impl_->group->shutdown();
  } catch (const std::exception&) {
    // Leaving anyway; the peers learn of it through the heartbeats.
  }
}

int64_t RankGroup::rank() const { return impl_->launch.rank; }
int64_t RankGroup::size() const { return impl_->launch.world_size; }
int64_t RankGroup::bytes_sent() const { return impl_->bytes_sent; }

std::vector<std::string> RankGroup::all_gather(const std::string& bytes) {
  impl_->await_all("all_gather");
  const auto sizes = impl_->gather(at::tensor({static_cast<int64_t>(bytes.size())}, at::kLong));
  int64_t longest = 1;  // never an empty tensor
  for (const auto& size : sizes) longest = std::max(longest, size.item<int64_t>());
  at::Tensor payload = at::zeros({longest}, at::kByte);
  std::memcpy(payload.data_ptr(), bytes.data(), bytes.size());
  const auto payloads = impl_->gather(payload);
  std::vector<std::string> gathered;
  for (int64_t r = 0; r < size(); ++r) {
    gathered.emplace_back(reinterpret_cast<const char*>(payloads[r].data_ptr()), sizes[r].item<int64_t>());
  }
  return gathered;
}

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
  Impl& g = *impl_;
  const Impl::Waiting waiting_here(g.waiting);
  try {
    if (!g.peer_failed) {
      g.store->set(key("failed/", g.launch.rank), to_bytes(message));
      g.store->add("failures", 1);
    }
    // The store dies with its host: while there are error notes, keep it up until every
    // rank has failed itself or read one (or a few seconds have passed).
    const auto deadline = Clock::now() + std::min<std::chrono::milliseconds>(g.timeout, std::chrono::seconds(5));
    const auto unaccounted = [&] {
      const int64_t failures = g.store->add("failures", 0);
      return failures > 0 && failures + g.store->add("failures_seen", 0) < g.launch.world_size;
    };
    while (g.hosts_store() && unaccounted() && Clock::now() < deadline) std::this_thread::sleep_for(kPoll);
  } catch (const std::exception&) {
    // The others find out through the heartbeats.
  }
}

void RankGroup::leave() {
  Impl& g = *impl_;
  const Impl::Waiting waiting_here(g.waiting);
  g.await_all("leave");
  {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.watch_peers = false;  // the others stop beating as they leave
  }
  if (g.hosts_store()) {
    const auto deadline = Clock::now() + g.timeout;
    while (g.on_store([&] { return g.store->add("left", 0); }) < g.launch.world_size - 1 && Clock::now() < deadline) {
      std::this_thread::sleep_for(kPoll);
    }
    g.stop(g.stop_beating, g.beats);
  } else {
    g.stop(g.stop_beating, g.beats);
    g.on_store([&] { return g.store->add("left", 1); });
  }
  g.stop(g.stop_watching, g.watchdog);
}

}  // namespace fedkseed
