// Rouge-L against the `rouge` 1.0.1 package on edge cases and random pairs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fedkseed/evaluation/rouge.h"
#include "test_util.h"

namespace fedkseed::test {
namespace {

TEST(Rouge, HandComputedCases) {
  EXPECT_NEAR(*rouge_l_f("the cat sat", "the cat sat"), 1.0, 1e-7);
  // ref words {the, cat, sat}, hyp {the, dog, sat}: LCS "the sat" -> P = R = 2/3.
  EXPECT_NEAR(*rouge_l_f("the dog sat", "the cat sat"), 2.0 / 3.0, 1e-7);
  EXPECT_FALSE(rouge_l_f("", "the cat").has_value());
  EXPECT_FALSE(rouge_l_f("the cat", "...").has_value());
  EXPECT_NEAR(*rouge_l_f("The Cat", "the cat"), 0.0, 1e-12);  // no lowercasing
}

TEST(Rouge, MatchesThePythonPackageLineByLine) {
  if (!python_has("rouge")) GTEST_SKIP() << "python package rouge==1.0.1 not installed in " << python();
  const std::string dir = make_temp_dir("rouge");
  const auto made = run_command(python() + " " FEDKSEED_SOURCE_DIR "/scripts/parity/rouge_pairs.py " + dir);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto expected = nlohmann::json::parse(read_text(dir + "/scores.json"));
  const auto result = run_fedkseed("rouge --hyp " + dir + "/hyp.txt --ref " + dir + "/ref.txt");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("{\"rouge_l_f\":", 0), 0u) << result.out;
  const auto summary = nlohmann::json::parse(result.out);
  ASSERT_EQ(summary["n"].get<std::size_t>(), expected.size());
  double mean = 0;
  for (const auto& score : expected) mean += score.get<double>() / expected.size();
  EXPECT_NEAR(summary["rouge_l_f"].get<double>(), mean, 1e-12);

  // Per pair, through the library, so a mismatch points at the pair.
  std::istringstream hyps(read_text(dir + "/hyp.txt")), refs(read_text(dir + "/ref.txt"));
  std::string hyp, ref;
  for (std::size_t i = 0; std::getline(hyps, hyp) && std::getline(refs, ref); ++i) {
    EXPECT_NEAR(rouge_l_f(hyp, ref).value_or(0.0), expected[i].get<double>(), 1e-12)
        << "pair " << i << ": hyp '" << hyp << "' ref '" << ref << "'";
  }
}

TEST(Rouge, MismatchedLineCountsAndMissingFilesAreBadInput) {
  const std::string dir = make_temp_dir("rouge_bad");
  write_text(dir + "/a.txt", "one\ntwo\n");
  write_text(dir + "/b.txt", "one\n");
  auto result = run_fedkseed("rouge --hyp " + dir + "/a.txt --ref " + dir + "/b.txt");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("has 2 lines but --ref"), std::string::npos) << result.err;
  result = run_fedkseed("rouge --hyp " + dir + "/missing.txt --ref " + dir + "/b.txt");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--hyp " + dir + "/missing.txt: cannot open"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace fedkseed::test
