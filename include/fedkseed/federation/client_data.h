// A client's training data as the reference's DataLoader(shuffle=True) behaves across
// rounds: one shuffled pass after another, the position kept between rounds. Each pass's
// order comes from Rng(seed, "data_order/<client>/<pass>"), so (pass, offset) is the
// whole state a resume needs.
#pragma once

#include <cstdint>
#include <vector>

namespace fedkseed {

struct Example;

class ClientData {
 public:
  struct Position {
    int64_t pass = 0;
    int64_t offset = 0;  // batches already taken in this pass
  };

  // `examples` must outlive this object and be non-empty.
  ClientData(const std::vector<Example>& examples, int64_t client_id, uint64_t seed, int64_t batch_size);

  // The next batch (the last of a pass may be smaller); starts a new shuffled pass
  // when the current one is exhausted.
  std::vector<const Example*> next_batch();
  // Batches per pass: the reference's len(train_loader).
  int64_t num_batches() const;
  int64_t num_samples() const { return static_cast<int64_t>(examples_->size()); }

  Position position() const { return position_; }
  void set_position(Position position);

 private:
  void shuffle_pass();

  const std::vector<Example>* examples_;
  int64_t client_id_;
  uint64_t seed_;
  int64_t batch_size_;
  Position position_;
  std::vector<int64_t> order_;
};

}  // namespace fedkseed
