// Guards the link order: libtorch.so exports a std::filesystem::remove_all that crashes on
// non-empty folders, so our binaries must bind libstdc++'s copy.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace fedkseed::test {
namespace {

namespace fs = std::filesystem;

TEST(FilesystemLink, RemoveAllDeletesANonEmptyTree) {
  const fs::path root = make_temp_dir("remove_all");
  for (const char* leaf : {"a/b/c.txt", "a/d.txt", "e/f/g/h.txt"}) write_text((root / leaf).string(), "x");
  EXPECT_EQ(fs::remove_all(root), 9u);
  EXPECT_FALSE(fs::exists(root));
}

}  // namespace
}  // namespace fedkseed::test
