// sentencepiece must not touch LibTorch's flags: linked directly, libsentencepiece.so.0's
// FLAGS_minloglevel object overwrites libc10's FLAGS_caffe2_use_fatal_for_enforce, after
// which every failed allocation aborts the process (SIGABRT) instead of throwing.
#include <ATen/ops/empty.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

namespace fedkseed::test {
namespace {

namespace fs = std::filesystem;

// Looked up at run time: naming the variable here would copy-relocate it into this binary,
// away from the bytes sentencepiece overwrites, and the test could no longer fail.
bool torch_fatal_for_enforce() {
  const auto* flag = static_cast<const bool*>(dlsym(RTLD_DEFAULT, "FLAGS_caffe2_use_fatal_for_enforce"));
  EXPECT_NE(flag, nullptr) << "libc10 exports no FLAGS_caffe2_use_fatal_for_enforce";
  return flag != nullptr && *reinterpret_cast<const unsigned char*>(flag) != 0;
}

TEST(SentencepieceIsolation, TorchFlagsUntouchedAndAllocationFailuresThrow) {
  const std::string dir = make_temp_dir("spm_isolation");
  std::vector<std::string> corpus;
  for (int i = 0; i < 200; ++i) corpus.push_back("line " + std::to_string(i) + " of a small corpus, said the model.");
  train_tokenizer(corpus, dir, 500);
  const Tokenizer tokenizer = Tokenizer::load(dir);
  EXPECT_FALSE(tokenizer.encode("a small model").empty());

  EXPECT_FALSE(torch_fatal_for_enforce()) << "sentencepiece overwrote libc10's flags";
  // 1 PiB exceeds any address space: the CPU allocator's CAFFE_ENFORCE must throw, not abort.
  EXPECT_THROW(at::empty({int64_t{1} << 50}, at::kByte), c10::Error);
}

// Through the CLI: an allocation that fails (a model of 2e15 weights, every size within
// config.json's bounds) is one error line and exit 2, and init-model leaves nothing behind.
// vocab_size 1000 is the trained tokenizer's, so no warning shares stderr.
TEST(SentencepieceIsolation, HugeModelIsOneErrorLineNotAnAbort) {
  const std::string root = make_temp_dir("init_huge");
  write_text(root + "/config.json",
             R"({"vocab_size": 1000, "hidden_size": 131072, "intermediate_size": 1048576,)"
             R"( "num_hidden_layers": 4096, "num_attention_heads": 1024, "head_dim": 128})");
  const auto result = run_fedkseed("--quiet init-model --config " + root + "/config.json --out " + root + "/out");
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("fedkseed: error: out of memory: DefaultCPUAllocator: can't allocate memory", 0), 0u)
      << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_FALSE(fs::exists(root + "/out")) << "init-model leaves no folder (nor .init-model.partial) behind";
}

}  // namespace
}  // namespace fedkseed::test
