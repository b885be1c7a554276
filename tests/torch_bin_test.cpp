// read_torch_bin against files written by torch 2.11 itself (tests/data/torch_bin, written by
// scripts/parity/make_bin_fixture.py):
// values, dtypes, layouts and storage sharing match what Python saved; storages are released
// after their last tensor; bad files throw fedkseed::Error naming the file.
#include <ATen/ops/equal.h>
#include <ATen/ops/from_blob.h>
#include <gtest/gtest.h>


#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "fedkseed/common/error.h"
#include "fedkseed/model/torch_bin.h"
#include "test_util.h"

namespace fedkseed {
namespace {

using Entries = std::vector<std::pair<std::string, at::Tensor>>;

class TorchBin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    expected_ = nlohmann::json::parse(test::read_text(dir_ + "/expected.json"));
    raw_ = test::read_text(dir_ + "/expected.raw");
  }

  static Entries read_all(const std::string& file) {
    Entries entries;
    read_torch_bin(dir_ + "/" + file, [&](const std::string& name, const at::Tensor& tensor) {
      entries.emplace_back(name, tensor);
    });
    return entries;
  }

  // Checks `file` entry by entry against what Python recorded when saving it.
  static void expect_as_saved(const std::string& file) {
    static const std::map<std::string, at::ScalarType> dtypes = {
        {"float32", at::kFloat}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
        {"float64", at::kDouble}, {"int64", at::kLong}, {"int32", at::kInt}, {"bool", at::kBool}};
    const Entries entries = read_all(file);
    const auto& expected = expected_.at(file);
    ASSERT_EQ(entries.size(), expected.size()) << file;
    std::map<std::string, const c10::StorageImpl*> storage_of;
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& [name, tensor] = entries[i];
      const auto& want = expected[i];
      const std::string what = file + " " + name;
      ASSERT_EQ(name, want.at("name").get<std::string>()) << file << " entry " << i;
      ASSERT_EQ(tensor.scalar_type(), dtypes.at(want.at("dtype"))) << what;
      EXPECT_EQ(tensor.sizes().vec(), want.at("shape").get<std::vector<int64_t>>()) << what;
      EXPECT_EQ(tensor.strides().vec(), want.at("stride").get<std::vector<int64_t>>()) << what;
      EXPECT_EQ(tensor.storage_offset(), want.at("offset").get<int64_t>()) << what;
      EXPECT_TRUE(tensor.device().is_cpu()) << what;
      const at::Tensor values =
          at::from_blob(raw_.data() + want.at("raw_offset").get<size_t>(), tensor.sizes(),
                        at::TensorOptions().dtype(tensor.scalar_type()));
      EXPECT_TRUE(at::equal(tensor.contiguous(), values)) << what << ": values differ from torch's";
      const auto* storage = tensor.storage().unsafeGetStorageImpl();
      const std::string owner = want.at("shares_with");
      if (owner == name) {
        for (const auto& [other, other_storage] : storage_of)
          EXPECT_NE(storage, other_storage) << what << " should not share " << other << "'s storage";
        storage_of[name] = storage;
      } else {
        EXPECT_EQ(storage, storage_of.at(owner)) << what << " should share " << owner << "'s storage";
      }
    }
  }

  // The fedkseed::Error message for reading `path`, or "" when it reads fine.
  static std::string error_of(const std::string& path) {
    try {
      read_torch_bin(path, [](const std::string&, const at::Tensor&) {});
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  }

  static const std::string dir_;
  static nlohmann::json expected_;
  static std::string raw_;
};

const std::string TorchBin::dir_ = test::test_data("torch_bin");
nlohmann::json TorchBin::expected_;
std::string TorchBin::raw_;

TEST_F(TorchBin, TransformersOrderedDictMatchesTorchInEveryDtype) {
  expect_as_saved("ordered.bin");  // fp32, fp16, bf16, fp64, int64, bool, 0-dim, empty
  expect_as_saved("proto4.bin");   // the same, pickled with protocol 4 (frames, STACK_GLOBAL)
}

TEST_F(TorchBin, PlainDictMatchesTorch) { expect_as_saved("plain.bin"); }

TEST_F(TorchBin, TiedWeightsShareOneStorage) {
  expect_as_saved("tied.bin");
  const Entries entries = read_all("tied.bin");
  ASSERT_EQ(entries[2].first, "lm_head.weight");
  EXPECT_EQ(entries[2].second.data_ptr(), entries[0].second.data_ptr());
}

TEST_F(TorchBin, OffsetStridedAndExpandedViewsKeepTheirLayout) { expect_as_saved("views.bin"); }

TEST_F(TorchBin, StorageIsReleasedAfterItsLastTensor) {
  // tied.bin: embed (storage A), norm (B), lm_head (A), embed_transposed (A).
  std::vector<c10::weak_intrusive_ptr<c10::StorageImpl>> seen;
  std::vector<std::vector<bool>> alive_at_visit;
  read_torch_bin(dir_ + "/tied.bin", [&](const std::string&, const at::Tensor& tensor) {
    std::vector<bool> alive;
    for (const auto& weak : seen) alive.push_back(!weak.expired());
    alive_at_visit.push_back(alive);
    seen.push_back(tensor.storage().getWeakStorageImpl());
  });
  ASSERT_EQ(alive_at_visit.size(), 4u);
  EXPECT_EQ(alive_at_visit[1], std::vector<bool>({true}));                     // A awaits lm_head
  EXPECT_EQ(alive_at_visit[2], std::vector<bool>({true, false}));              // B is gone
  EXPECT_EQ(alive_at_visit[3], std::vector<bool>({true, false, true}));
  for (const auto& weak : seen) EXPECT_TRUE(weak.expired()) << "a storage outlived the read";

  size_t live_max = 0;  // ordered.bin: one storage per tensor, so never two alive at once
  seen.clear();
  read_torch_bin(dir_ + "/ordered.bin", [&](const std::string&, const at::Tensor& tensor) {
    seen.push_back(tensor.storage().getWeakStorageImpl());
    live_max = std::max<size_t>(live_max, std::count_if(seen.begin(), seen.end(),
                                                          [](const auto& weak) { return !weak.expired(); }));
  });
  EXPECT_EQ(live_max, 1u);
}

TEST_F(TorchBin, BadFilesThrowNamingTheFileAndTheProblem) {
  const std::string bad = test::make_temp_dir("torch_bin_bad");
  test::write_text(bad + "/garbage.bin", "this is not a checkpoint at all");
  const std::string whole = test::read_text(dir_ + "/ordered.bin");
  test::write_text(bad + "/truncated.bin", whole.substr(0, whole.size() / 2));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {bad + "/missing.bin", "no such file"},
      {bad + "/garbage.bin", "not a torch.save zip archive"},
      {bad + "/truncated.bin", "unreadable zip archive"},
      {dir_ + "/legacy.bin", "legacy (pre-zip) torch.save format"},
      {dir_ + "/evil.bin", "GLOBAL posix.system is not allowed"},
      {dir_ + "/not_tensor.bin", "entry w is a list, not a tensor"},
      {dir_ + "/protocol0.bin", "unsupported pickle opcode 0x64 ('d')"},
      {dir_, "not a regular file"},
      {dir_ + "/overrun.bin",
       "tensor w: view [3, 4] stride [4, 1] offset 0 overruns its storage of 8 elements"},
      {dir_ + "/short_record.bin", "tensor w: storage record data/0 holds 20 bytes"},
  };
  for (const auto& [path, problem] : cases) {
    const std::string message = error_of(path);
    EXPECT_EQ(message.rfind("checkpoint " + path + ": ", 0), 0u) << "message: " << message;
    EXPECT_NE(message.find(problem), std::string::npos) << "message: " << message;
  }
}

}  // namespace
}  // namespace fedkseed
