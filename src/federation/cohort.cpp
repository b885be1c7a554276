// Cohort assignment to ranks and the client records they exchange (see cohort.h).
#include "fedkseed/federation/cohort.h"

#include <algorithm>

#include "fedkseed/common/byte_codec.h"

namespace fedkseed {

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
  ByteWriter out;
  for (const auto& record : records) {
    out.put<uint32_t>(record.slot);
    out.put<uint32_t>(static_cast<uint32_t>(record.uplink.size()));
    out.put_bytes(record.uplink);
    out.put<double>(record.loss_sum);
    out.put<int64_t>(record.pass);
    out.put<int64_t>(record.offset);
    out.put<int64_t>(record.applied);
  }
  return out.take();
}

std::vector<ClientRecord> decode_records(const std::string& bytes) {
  ByteReader in(bytes, "rank exchange: client record");
  std::vector<ClientRecord> records;
  while (in.remaining() > 0) {
    ClientRecord& record = records.emplace_back();
    record.slot = in.get<uint32_t>();
    record.uplink = in.get_bytes(in.get<uint32_t>());
    record.loss_sum = in.get<double>();
    record.pass = in.get<int64_t>();
    record.offset = in.get<int64_t>();
    record.applied = in.get<int64_t>();
  }
  return records;
}

}  // namespace fedkseed
