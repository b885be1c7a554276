// Shuffled passes over one client's examples with a resumable position.
#include "fedkseed/federation/client_data.h"

#include <string>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/data/example.h"

namespace fedkseed {

ClientData::ClientData(const std::vector<Example>& examples, int64_t client_id, uint64_t seed,
                       int64_t batch_size)
    : examples_(&examples), client_id_(client_id), seed_(seed), batch_size_(batch_size) {
  if (examples.empty()) throw Error("client " + std::to_string(client_id) + ": no training examples");
  shuffle_pass();
}

int64_t ClientData::num_batches() const { return (num_samples() + batch_size_ - 1) / batch_size_; }

void ClientData::shuffle_pass() {
  order_.resize(examples_->size());
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
  Rng rng(seed_, "data_order/" + std::to_string(client_id_) + "/" + std::to_string(position_.pass));
  rng.shuffle(order_);
}

std::vector<const Example*> ClientData::next_batch() {
  if (position_.offset >= num_batches()) {
    position_ = {position_.pass + 1, 0};
    shuffle_pass();
  }
  const int64_t start = position_.offset * batch_size_;
  const int64_t end = std::min(start + batch_size_, num_samples());
  std::vector<const Example*> batch;
  for (int64_t i = start; i < end; ++i) batch.push_back(&(*examples_)[order_[i]]);
  ++position_.offset;
  return batch;
}

void ClientData::set_position(Position position) {
  position_ = position;
  shuffle_pass();
}

}  // namespace fedkseed
